"""Tests of the denoising task (`tfimage.tasks.denoise`): its degradations, inputs and checks."""

import numpy as np
import pytest

from tfimage import degradations
from tfimage.tasks import denoise
from tfimage.tasks.denoise import TASK, check_noise_level


def _image(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_noise_levels_are_checked():
    assert check_noise_level(0.1) == pytest.approx(0.1)
    assert check_noise_level(np.array([[0.2]], np.float32)) == pytest.approx(0.2)
    assert check_noise_level(0) == 0.0 and check_noise_level(1) == 1.0
    for bad in (25, -0.01, float("nan"), float("inf"), [0.1, 0.2], "x", None):
        with pytest.raises(ValueError, match=r"noise_level must be one number in \[0, 1\].*Received: noise_level="):
            check_noise_level(bad)


def test_degradation_is_seeded_unclipped_gaussian_noise():
    clean = _image((20, 24, 1))
    example = TASK.degrade(clean, (3, 1), sigma=25)
    expected = degradations.gaussian_noise(clean, 25 / 255, seed=(3, 1)).numpy()
    np.testing.assert_array_equal(example.degraded, expected)
    np.testing.assert_array_equal(example.reference, clean)
    assert example.inputs == {"noise_level": pytest.approx(25 / 255)}
    assert example.degraded.min() < 0 or example.degraded.max() > 1  # not clipped, as in the papers
    assert abs(np.std(example.degraded - clean) - 25 / 255) < 0.2 * 25 / 255
    np.testing.assert_array_equal(TASK.degrade(clean, (3, 1), sigma=25).degraded, example.degraded)
    assert not np.array_equal(TASK.degrade(clean, (3, 2), sigma=25).degraded, example.degraded)
    blind = TASK.degrade(clean, (3, 1), sigma=25, blind=True)
    assert blind.inputs == {"noise_level": None}  # estimated by whatever restores it
    np.testing.assert_array_equal(blind.degraded, example.degraded)


def test_evaluation_options_are_checked():
    assert TASK.check_options(sigma=15) == {"sigma": 15, "blind": False}
    assert TASK.result_fields(TASK.check_options(sigma=15)) == {"sigma": 15}
    assert TASK.result_fields(TASK.check_options(sigma=15, blind=True)) == {"sigma": 15, "blind": True}
    with pytest.raises(ValueError, match="sigma=None"):
        TASK.check_options()
    for sigma in (-1, 300):
        with pytest.raises(ValueError, match=f"sigma={sigma}"):
            TASK.check_options(sigma=sigma)


def test_training_degradations_add_the_requested_noise():
    patch = np.full((32, 32, 1), 0.5, np.float32)
    fixed = TASK.training_degradation(sigma=25)(patch, (0, 1))
    assert abs(float(np.std(np.asarray(fixed) - 0.5)) - 25 / 255) < 0.02
    noisy, level = TASK.training_degradation(sigma=25, noise_level_input=True)(patch, (0, 1))
    np.testing.assert_array_equal(np.asarray(noisy), np.asarray(fixed))
    assert np.asarray(level).tolist() == pytest.approx([25 / 255])
    ranged = TASK.training_degradation(sigma_range=(0, 55), noise_level_input=True)
    levels = [float(np.asarray(ranged(patch, (0, k))[1])[0]) for k in range(20)]
    assert 0 <= min(levels) < max(levels) <= 55 / 255 and len(set(levels)) == 20
    with pytest.raises(ValueError, match="exactly one of sigma and sigma_range"):
        TASK.training_degradation(sigma=25, sigma_range=(0, 55))
    noisy, level = TASK.validation_degradation(sigma=50, noise_level_input=True)(patch, (4, 5))
    np.testing.assert_array_equal(np.asarray(noisy), degradations.gaussian_noise(patch, 50 / 255, (4, 5)).numpy())
    assert float(level) == pytest.approx(50 / 255)


def test_an_image_and_mask_model_is_not_a_denoiser():
    keras = pytest.importorskip("keras")
    from tfimage.networks.ffdnet import build_ffdnet
    from tfimage.networks.unet import build_unet

    denoise.check_denoiser(build_ffdnet(channels=1, depth=3, filters=4))  # (batch, 1) noise level: fine
    image = keras.Input((None, None, 1))
    plain = keras.Model(image, keras.layers.Conv2D(1, 3, padding="same")(image))
    denoise.check_denoiser(plain)
    with pytest.raises(ValueError, match="inpainting model.*Received: model=tiny"):
        denoise.check_denoiser(build_unet(1, filters=(4, 8), extra_inputs=1), name="tiny")


def test_restore_batch_equals_one_by_one_for_noise_level_models_and_chunks_by_pixels():
    from tfimage.networks.ffdnet import build_ffdnet
    from tfimage.tasks import get_task

    task = get_task("denoise")
    model = build_ffdnet(channels=3, depth=3, filters=8, residual=True)
    rng = np.random.default_rng(0)
    images = [rng.random((32, 40, 3)).astype(np.float32) for _ in range(3)] + [rng.random((24, 32, 3)).astype(np.float32)]
    inputs = [{"noise_level": 0.1}, {"noise_level": 0.05}, {"noise_level": None}, {"noise_level": 0.2}]
    one_by_one = [task.restore(model, image, **extra) for image, extra in zip(images, inputs)]
    for max_pixels in (10_000_000, 32 * 40 * 2, 1):  # one batch per size, two per batch, one per batch
        batched = task.restore_batch(model, images, inputs, max_pixels=max_pixels)
        assert len(batched) == 4
        for expected, got in zip(one_by_one, batched):
            np.testing.assert_array_equal(got, expected)
    # Per-image noise levels are used: the same image at two levels gives two different outputs.
    pair = task.restore_batch(model, [images[0], images[0]], [{"noise_level": 0.02}, {"noise_level": 0.3}])
    assert np.abs(pair[0] - pair[1]).max() > 1e-4
    with pytest.raises(ValueError, match="one inputs dict per image"):
        task.restore_batch(model, images, inputs[:2])

