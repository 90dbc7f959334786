import numpy as np
import pytest

from conftest import require_set
from tfimage import baselines, degradations, io, metrics, zoo
from tfimage.inference import restore
from tfimage.tasks.inpainting import masked_psnr


def _crop(name, index=0, size=128):
    path = io.list_images(require_set(name))[index]
    return io.read_image(path)[:size, :size]


@pytest.mark.parametrize("name, gain", [("bm3d", 8.0), ("nlm", 5.0)])
@pytest.mark.data
def test_denoisers_improve_a_real_gray_image(name, gain):
    clean = _crop("set12")
    noisy = degradations.gaussian_noise(clean, 25 / 255, seed=0).numpy()
    denoiser = zoo.baselines()[name]["factory"]()
    restored = denoiser.predict_image(noisy, noise_level=25 / 255)
    assert restored.shape == clean.shape and restored.dtype == np.float32
    assert float(metrics.psnr(clean, restored)) > float(metrics.psnr(clean, noisy)) + gain


@pytest.mark.parametrize("name, gain", [("bm3d", 6.0), ("nlm", 2.0)])
@pytest.mark.data
def test_color_and_blind_use(name, gain):
    clean = _crop("cbsd68", size=96)
    noisy = degradations.gaussian_noise(clean, 25 / 255, seed=1).numpy()
    restored = zoo.baselines()[name]["factory"]().predict_image(noisy)  # sigma estimated
    assert restored.shape == (96, 96, 3)
    assert float(metrics.psnr(clean, restored)) > float(metrics.psnr(clean, noisy)) + gain


@pytest.mark.data
def test_noise_estimate_is_close_on_a_real_image():
    clean = io.read_image(io.list_images(require_set("set12"))[7])  # 512x512
    for sigma in (15, 25, 50):
        noisy = degradations.gaussian_noise(clean, sigma / 255, seed=2).numpy()
        assert abs(baselines.estimate_noise_stddev(noisy) * 255 - sigma) < 0.1 * sigma


@pytest.mark.parametrize("sigma", [15, 25, 50])
def test_noise_estimate_ignores_clipping(sigma):
    from skimage import data

    clean = data.astronaut().astype(np.float32) / 255  # large saturated areas
    noisy = degradations.gaussian_noise(clean, sigma / 255, seed=3).numpy()
    clipped = np.clip(noisy, 0.0, 1.0)
    assert abs(baselines.estimate_noise_stddev(clipped) * 255 - sigma) < 0.05 * sigma
    assert abs(baselines.estimate_noise_stddev(noisy) * 255 - sigma) < 0.05 * sigma
    assert baselines.estimate_noise_stddev(clean) * 255 < 3


def test_noisy_is_the_identity_and_bad_input_is_refused():
    image = np.random.default_rng(0).random((16, 16, 1)).astype(np.float32)
    np.testing.assert_array_equal(baselines.Noisy().predict_image(image), image)
    with pytest.raises(ValueError, match="at least 8x8"):
        baselines.NLM().predict_image(np.zeros((4, 4, 1), np.float32), 0.1)
    image[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        baselines.BM3D().predict_image(image, 0.1)


@pytest.mark.parametrize("name", ["telea", "ns"])
@pytest.mark.data
def test_inpainting_baselines_fill_holes_better_than_the_masked_image(name):
    clean = io.read_image(io.list_images(require_set("cbsd68"))[0], channels=3)[:96, :96]
    mask = degradations.random_mask(96, 96, 0.25, seed=(0, 0))
    masked = clean * (1 - mask)
    baseline = zoo.load(name)
    assert baseline.task == "inpaint" and baseline.noise_level_input is False and baseline.description
    filled = restore(baseline, masked, task="inpaint", mask=mask)
    assert filled.shape == clean.shape and filled.dtype == np.float32
    np.testing.assert_array_equal(filled * (1 - mask), masked)  # known pixels untouched
    np.testing.assert_array_equal(filled, baseline.predict_image(masked, mask=mask))
    before = masked_psnr(clean, masked, mask)
    after = masked_psnr(clean, filled, mask)
    assert after > before + 5.0
    with pytest.raises(ValueError, match="mask=None"):  # a denoising call, without a mask
        baseline.predict_image(masked)
    with pytest.raises(ValueError, match="radius=0"):
        type(baseline)(radius=0)


def test_bicubic_upsamples_by_the_scale_and_clips():
    image = np.random.default_rng(0).random((9, 13, 3)).astype(np.float32)
    upsampled = baselines.Bicubic().predict_image(image, scale=3)
    assert upsampled.shape == (27, 39, 3) and upsampled.dtype == np.float32
    assert upsampled.min() >= 0.0 and upsampled.max() <= 1.0
    np.testing.assert_allclose(upsampled, np.clip(degradations.bicubic_upsample(image, 3).numpy(), 0, 1))
    constant = np.full((8, 8, 1), 0.4, np.float32)  # bicubic reproduces a constant exactly
    np.testing.assert_allclose(baselines.Bicubic().predict_image(constant[..., 0], scale=2), 0.4, atol=1e-6)
