"""Tests of the inpainting task (`tfimage.tasks.inpainting`): masks, the hole metric and its degradations."""

import numpy as np
import pytest

from tfimage import degradations, io
from tfimage.inference import restore
from tfimage.tasks.inpainting import TASK, check_mask, check_mask_scale, masked_psnr, read_mask


@pytest.mark.parametrize("kind", ["strokes", "boxes"])
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5])
def test_masks_hit_the_hole_ratio_within_5_percent(kind, ratio):
    for seed in range(3):
        mask = degradations.random_mask(64, 80, ratio, seed=(seed, 1), kind=kind)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert abs(mask.mean() - ratio) <= 0.05 * ratio


def test_masked_psnr_counts_only_the_holes():
    clean = np.zeros((10, 10, 3), np.float32)
    estimate = clean.copy()
    mask = np.zeros((10, 10, 1), np.float32)
    mask[:5] = 1
    estimate[:5] = 0.1  # error 0.1 in the holes only
    estimate[5:] = 0.0
    assert masked_psnr(clean, estimate, mask) == pytest.approx(20.0)
    assert masked_psnr(clean, clean, mask) == float("inf")
    assert np.isnan(masked_psnr(clean, estimate, np.zeros_like(mask)))


def test_mask_errors_name_the_file(tmp_path):
    mask = np.zeros((16, 20, 1), np.float32)
    mask[4:8, 4:8] = 1
    good = str(tmp_path / "good.png")
    io.write_image(good, mask)
    assert read_mask(good, size=(16, 20)).sum() == 16
    with pytest.raises(ValueError, match="good.png") as error:
        read_mask(good, size=(16, 24))
    assert "20x16" in str(error.value) and "24x16" in str(error.value)
    gray = str(tmp_path / "gray.png")
    io.write_image(gray, mask * 0.5)
    with pytest.raises(ValueError, match="binary.*gray.png"):
        read_mask(gray)
    with pytest.raises(ValueError, match="mask=None"):
        check_mask(None)


def test_black_and_white_rgb_masks_are_read_and_colored_ones_refused():
    mask = np.zeros((8, 9), np.float32)
    mask[2:4, 3:7] = 1
    rgba = np.concatenate([np.repeat(mask[..., None], 3, axis=2), np.ones((8, 9, 1))], axis=2)
    np.testing.assert_array_equal(check_mask(rgba), mask[..., None])
    colored = np.repeat(mask[..., None], 3, axis=2)
    colored[0, 0, 1] = 1
    with pytest.raises(ValueError, match="not colored"):
        check_mask(colored)
    with pytest.raises(ValueError, match=r"shape=\(8, 9, 2\)"):
        check_mask(np.zeros((8, 9, 2)))


def test_degradation_zeroes_a_seeded_mask_and_the_score_reports_the_holes():
    clean = np.random.default_rng(0).random((32, 40, 3)).astype(np.float32) * 0.5 + 0.25
    example = TASK.degrade(clean, (5, 2), hole_ratio=0.25)
    mask = degradations.random_mask(32, 40, 0.25, seed=(5, 2))
    np.testing.assert_array_equal(example.inputs["mask"], mask)
    np.testing.assert_array_equal(example.degraded, clean * (1 - mask))
    assert not np.array_equal(TASK.degrade(clean, (5, 3), hole_ratio=0.25).inputs["mask"], mask)
    boxes = TASK.degrade(clean, (5, 2), hole_ratio=0.25, kind="boxes").inputs["mask"]
    assert not np.array_equal(boxes, mask)
    scores = TASK.score(example, example.degraded)
    assert scores["psnr"] == pytest.approx(scores["psnr_input"])
    assert scores["hole_fraction"] == pytest.approx(mask.mean())
    half_way = clean * (1 - mask) + mask * (clean - 0.1)  # holes filled 0.1 off: 20 dB inside them
    assert TASK.score(example, half_way)["psnr_hole"] == pytest.approx(20.0, abs=1e-4)
    assert TASK.check_options() == {"hole_ratio": 0.25, "kind": "strokes"}
    with pytest.raises(ValueError, match="kind="):
        TASK.check_options(kind="circles")


def test_mask_scales_are_checked():
    assert check_mask_scale(None) is None
    assert check_mask_scale(64) == (64.0,)
    assert check_mask_scale((32, 96)) == (32.0, 96.0)
    for bad in (4, (96, 32), (8, 16, 32)):
        with pytest.raises(ValueError, match="shape_scale="):
            check_mask_scale(bad)


def test_unet_inpaints_after_a_training_step_and_keeps_known_pixels():
    keras = pytest.importorskip("keras")
    from tfimage.datasets import pipelines
    from tfimage.models.restorer import Restorer
    from tfimage.networks.unet import build_unet

    images = [np.random.default_rng(i).random((40, 40, 1), dtype=np.float32) for i in range(2)]
    dataset = pipelines.restoration_dataset(
        images, TASK.training_degradation(0.25), patch_size=32, batch_size=2, channels=1
    )
    (masked, mask), clean = next(iter(dataset))
    assert mask.shape == (2, 32, 32, 1)
    assert abs(float(np.mean(mask)) - 0.25) <= 0.0125
    np.testing.assert_allclose(np.asarray(masked), np.asarray(clean) * (1 - np.asarray(mask)))
    network = build_unet(1, filters=(4, 8), extra_inputs=1)
    restorer = Restorer(network, noise_level_input=True)  # the mask passes through
    restorer.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = restorer.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    config = restorer.get_config()
    assert type(restorer).from_config(config).network.name == network.name
    image = images[0][:33, :37]
    hole = degradations.random_mask(33, 37, 0.3, seed=1)
    filled = restore(restorer, image * (1 - hole), task="inpaint", mask=hole)
    assert filled.shape == (33, 37, 1)
    np.testing.assert_allclose(filled * (1 - hole), image * (1 - hole), atol=1e-6)
    raw = np.asarray(network([(image * (1 - hole))[None], hole[None]]))[0]
    np.testing.assert_allclose(filled[hole == 1], np.clip(raw, 0, 1)[hole == 1], atol=1e-5)  # holes: the network's
