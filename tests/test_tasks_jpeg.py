"""Tests of the JPEG deblocking task (`tfimage.tasks.jpeg`): the Y-channel JPEG degradation, restore and evaluate."""

import numpy as np
import pytest

from conftest import require_set
from tfimage import color, degradations, evaluation, io, zoo
from tfimage.inference import restore
from tfimage.tasks.jpeg import TASK, check_quality, jpeg_pair


def _image(shape, seed=0, low=0.0, high=1.0):
    return (low + (high - low) * np.random.default_rng(seed).random(shape)).astype(np.float32)


def _tiny_dncnn(seed=0, scale=0.01):
    from tfimage.networks.dncnn import build_dncnn

    network = build_dncnn(depth=2, filters=4, channels=1, name="tiny_jpeg")
    rng = np.random.default_rng(seed)
    network.set_weights([scale * rng.standard_normal(w.shape).astype(np.float32) for w in network.get_weights()])
    return network


def test_the_degradation_is_the_jpeg_of_the_8bit_matlab_luma_and_needs_no_seed():
    image = _image((21, 30, 3))  # not a multiple of the 8x8 blocks: the codec pads
    example = TASK.degrade(image, (0, 0), quality=10)
    again = TASK.degrade(image, (5, 7), quality=10)
    np.testing.assert_array_equal(example.degraded, again.degraded)
    assert example.inputs == {} and example.reference.shape == example.degraded.shape == (21, 30, 1)
    rgb8 = np.round(image.astype(np.float64) * 255)
    y8 = np.round(16 + (65.481 * rgb8[..., 0] + 128.553 * rgb8[..., 1] + 24.966 * rgb8[..., 2]) / 255)
    np.testing.assert_allclose(example.reference[..., 0] * 255, y8, atol=1e-3)
    np.testing.assert_array_equal(example.reference, color.luma_8bit(image))
    np.testing.assert_array_equal(example.degraded, degradations.jpeg_compress(example.reference, 10).numpy())
    np.testing.assert_allclose(example.degraded * 255, np.round(example.degraded * 255), atol=1e-3)  # 8-bit
    gray = _image((16, 16, 1))
    np.testing.assert_array_equal(jpeg_pair(gray, 50)[0], np.round(gray * 255) / 255)  # a gray image is Y
    error = [np.abs(TASK.degrade(image, (0, 0), quality=q).degraded - example.reference).mean() for q in (10, 90)]
    assert error[0] > error[1] > 0


def test_qualities_outside_1_to_100_are_refused():
    assert [check_quality(q) for q in (1, 50.0, np.int64(100))] == [1, 50, 100]
    image = _image((16, 16, 3))
    for call in (
        lambda: check_quality(0),
        lambda: check_quality(101),
        lambda: check_quality(10.5),
        lambda: check_quality(True),
        lambda: check_quality("high"),
        lambda: TASK.check_options(quality=None),
        lambda: jpeg_pair(image, -3),
        lambda: TASK.training_degradation(101),
        lambda: evaluation.evaluate("jpeg-input", [image], task="jpeg", quality=0),
    ):
        with pytest.raises(ValueError, match="quality="):
            call()


def test_a_gray_network_restores_gray_images_and_the_luma_of_color_ones():
    network = _tiny_dncnn()
    compressed = TASK.degrade(_image((40, 36, 3)), (0, 0), quality=20).degraded
    restored = restore(network, compressed, task="jpeg")
    assert restored.shape == (40, 36, 1) and restored.dtype == np.float32
    assert 0 < np.abs(restored - compressed).max() < 0.2
    tiled = restore(network, compressed, task="jpeg", tile=24, overlap=8, self_ensemble=True)
    assert tiled.shape == (40, 36, 1)
    color_image = _image((40, 36, 3), low=0.3, high=0.7)  # no clipping: the chroma comes back as it was
    restored_color = restore(network, color_image, task="jpeg")
    assert restored_color.shape == (40, 36, 3)
    before, after = color.rgb_to_ycbcr(color_image), color.rgb_to_ycbcr(restored_color)
    np.testing.assert_allclose(after[..., 1:], before[..., 1:], atol=1e-5)
    assert np.abs(after[..., 0] - before[..., 0]).max() > 1e-4
    with pytest.raises(ValueError, match="no input besides the image. Received: quality="):
        restore(network, compressed, task="jpeg", quality=10)  # no input besides the image


def test_models_and_baselines_of_other_tasks_are_refused():
    from tfimage.networks.ffdnet import build_ffdnet

    compressed = _image((16, 16, 1))
    with pytest.raises(ValueError, match="image alone"):
        restore(build_ffdnet(depth=2, filters=4), compressed, task="jpeg")
    with pytest.raises(ValueError, match="solves the 'denoise' task"):
        restore(zoo.load("noisy"), compressed, task="jpeg")
    np.testing.assert_array_equal(restore(zoo.load("jpeg-input"), compressed, task="jpeg"), compressed)


def test_the_score_is_psnr_on_y_after_rounding_to_8_bits():
    example = TASK.degrade(_image((24, 24, 3)), (0, 0), quality=30)
    assert TASK.score(example, example.reference + 0.4 / 255)["psnr"] == float("inf")  # im2uint8
    scores = TASK.score(example, example.degraded)
    assert 10 < scores["psnr"] < 60 and 0 < scores["ssim"] < 1  # white noise compresses badly


def test_evaluate_returns_the_common_json_shape():
    images = [_image((24, 32, 3), seed) for seed in range(2)]
    result = evaluation.evaluate("jpeg-input", images, task="jpeg", quality=20)
    assert {key: result[key] for key in ("model", "dataset", "task", "quality", "images")} == {
        "model": "jpeg-input", "dataset": "custom", "task": "jpeg", "quality": 20, "images": 2,
    }
    expected = [TASK.score(example, example.degraded)["psnr"] for example in
                (TASK.degrade(image, (0, index), quality=20) for index, image in enumerate(images))]
    assert result["psnr"] == pytest.approx(np.mean(expected))
    assert set(result) >= {"psnr", "ssim", "seconds_per_image", "per_image"} and len(result["per_image"]) == 2
    network = evaluation.evaluate(_tiny_dncnn(), images, task="jpeg", quality=20)
    assert network["images"] == 2 and np.isfinite(network["psnr"])
    assert "q20: 2 images" in TASK.describe_result(result)


def test_training_degradation_runs_in_a_tf_data_pipeline():
    import tensorflow as tf

    patch = _image((24, 24, 1))
    degrade = TASK.training_degradation(quality=10)
    dataset = tf.data.Dataset.from_tensors(tf.constant(patch)).map(lambda p: degrade(p, tf.constant([0, 0])))
    (compressed,) = list(dataset.as_numpy_iterator())
    np.testing.assert_array_equal(compressed, degradations.jpeg_compress(patch, 10).numpy())
    assert TASK.architectures == ("dncnn",)


def test_dejpeg_command_restores_a_color_file(tmp_path):
    from tfimage.cli.main import main

    image = _image((24, 32, 3))
    source = tmp_path / "photo.png"
    io.write_image(source, image)
    out = tmp_path / "out.png"
    assert main(["dejpeg", str(source), "-o", str(out), "--model", "jpeg-input"]) == 0
    np.testing.assert_allclose(io.read_image(out), io.read_image(source), atol=1 / 255)


@pytest.mark.data
def test_dncnn3_removes_jpeg_artifacts_on_live1_at_q10():
    require_set("dncnn_matconvnet")
    paths = io.list_images(require_set("live1"))[:2]
    crops = [io.read_image(path)[:192, :192] for path in paths]
    jpeg = evaluation.evaluate("jpeg-input", crops, task="jpeg", quality=10)
    model = evaluation.evaluate("dncnn-3", crops, task="jpeg", quality=10)
    gains = [a["psnr"] - b["psnr"] for a, b in zip(model["per_image"], jpeg["per_image"])]
    assert min(gains) > 0.7, gains
