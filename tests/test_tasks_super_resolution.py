"""Tests of the super-resolution task (`tfimage.tasks.super_resolution`): pairs, scales and the Y-channel metric."""

import numpy as np
import pytest

from conftest import require_set
from tfimage import degradations, evaluation, io, zoo
from tfimage.inference import restore
from tfimage.tasks.super_resolution import TASK, check_scale, model_scale, sr_metrics, sr_pair


def _image(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.data
def test_bicubic_on_a_set5_image_matches_skimage_with_y_channel_and_border_crop():
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio

    path = io.list_images(require_set("set5"))[0]
    image = io.read_image(path)
    hr, lr = sr_pair(image[:255, :253], 4)
    assert hr.shape == (252, 252, 3) and lr.shape == (63, 63, 3)
    sr = restore(zoo.load("bicubic"), lr, task="sr", scale=4)
    assert sr.shape == hr.shape
    value, ssim = sr_metrics(hr, sr, 4)
    assert 25.0 < value < 40.0 and 0.7 < ssim < 1.0
    y_hr = rgb2ycbcr(hr.astype(np.float64))[4:-4, 4:-4, 0] / 255.0
    y_sr = rgb2ycbcr(sr.astype(np.float64))[4:-4, 4:-4, 0] / 255.0
    assert value == pytest.approx(peak_signal_noise_ratio(y_hr, y_sr, data_range=1.0), abs=0.01)
    rgb_no_crop = peak_signal_noise_ratio(hr.astype(np.float64), sr.astype(np.float64), data_range=1.0)
    assert abs(value - rgb_no_crop) > 0.1  # the convention changes the number
    evaluated = evaluation.evaluate("bicubic", [path], task="sr", scale=4)
    full_hr, full_lr = sr_pair(image, 4)
    full = sr_metrics(full_hr, zoo.load("bicubic").predict_image(full_lr, scale=4), 4)
    assert evaluated["psnr"] == pytest.approx(full[0], abs=1e-4)
    assert evaluated["ssim"] == pytest.approx(full[1], abs=1e-4)


def test_pairs_crop_to_a_multiple_of_the_scale_and_downsample_bicubically():
    image = _image((31, 26, 3))
    example = TASK.degrade(image, (0, 0), scale=3)
    np.testing.assert_array_equal(example.reference, image[:30, :24])
    np.testing.assert_array_equal(example.degraded, degradations.bicubic_downsample(image[:30, :24], 3).numpy())
    assert example.degraded.shape == (10, 8, 3) and example.inputs == {"scale": 3}
    hr, lr = sr_pair(image, 2)
    assert hr.shape == (30, 26, 3) and lr.shape == (15, 13, 3)


def test_scales_outside_2_3_4_are_refused():
    from tfimage.networks.espcn import build_espcn

    assert [check_scale(scale) for scale in (2, 3, 4)] == [2, 3, 4]
    lr = np.zeros((16, 16, 3), np.float32)
    for call in (
        lambda: check_scale(True),
        lambda: restore(zoo.load("bicubic"), lr, task="sr", scale=5),
        lambda: evaluation.evaluate("bicubic", [lr], task="sr", scale=1),
        lambda: sr_pair(lr, 8),
        lambda: build_espcn(8),
        lambda: TASK.training_degradation(6),
    ):
        with pytest.raises(ValueError, match="scale="):
            call()


def test_the_score_is_the_y_channel_with_the_border_cropped():
    hr = _image((24, 24, 3))
    restored = hr.copy()
    restored[:2] = 0.0  # errors only inside the 2-pixel border
    example = TASK.degrade(hr, (0, 0), scale=2)
    assert TASK.score(example, restored)["psnr"] == float("inf")
    restored[5, 5] = 1.0 - restored[5, 5]
    finite = TASK.score(example, restored)
    assert np.isfinite(finite["psnr"]) and finite["psnr"] > 30 and 0.9 < finite["ssim"] < 1.0
    with pytest.warns(UserWarning, match="gray"):  # a gray output is scored against the reference's luma
        gray = TASK.score(example, io.convert_channels(hr, 1))
    assert gray["psnr"] == float("inf")


def test_a_gray_model_upscales_color_through_luma():
    keras = pytest.importorskip("keras")
    from tfimage.networks.edsr import build_edsr

    keras.utils.set_random_seed(0)
    bicubic_net = build_edsr(2, channels=1, filters=4, blocks=1)  # zero tail: plain bicubic on Y
    assert model_scale(bicubic_net) == 2
    low_res = _image((12, 15, 3), seed=2) * 0.8 + 0.1
    upscaled = restore(bicubic_net, low_res, task="sr", scale=2)
    assert upscaled.shape == (24, 30, 3)
    # Bicubic resizing and the YCbCr transform are both linear: Y through the net, Cb/Cr bicubic = RGB bicubic.
    np.testing.assert_allclose(upscaled, restore(zoo.load("bicubic"), low_res, task="sr", scale=2), atol=1e-5)
    assert TASK.dataset_channels(bicubic_net) is None  # color sets are read in color for a gray model


@pytest.mark.data
def test_dncnn3_reproduces_its_published_set5_x4_on_the_bicubic_upsampled_y():
    require_set("set5")
    require_set("dncnn_matconvnet")
    from tfimage import evaluation, pretrained

    result = evaluation.evaluate("dncnn-3", "set5", task="sr", scale=4)
    published = pretrained.MODELS["dncnn-3"]["published"]["set5"][4]
    assert abs(result["psnr"] - published) < 0.05, result["psnr"]
