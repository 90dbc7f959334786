import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from conftest import require_set
from tfimage import degradations, io, metrics


@pytest.mark.data
def test_psnr_of_seeded_noisy_set12_matches_skimage():
    paths = io.list_images(require_set("set12"))
    assert len(paths) == 12
    values = []
    for index, path in enumerate(paths):
        clean = io.read_image(path)
        noisy = degradations.gaussian_noise(clean, 25 / 255, seed=(0, index)).numpy()
        ours = float(metrics.psnr(clean, noisy))
        theirs = peak_signal_noise_ratio(clean.astype(np.float64), noisy.astype(np.float64), data_range=1)
        assert abs(ours - theirs) < 1e-3, path
        values.append(ours)
    assert 20.0 < np.mean(values) < 20.4  # sigma 25 noise: 20.17 dB


@pytest.mark.data
def test_ssim_matches_skimage_on_real_images():
    paths = io.list_images(require_set("set12"))[:3]
    for index, path in enumerate(paths):
        clean = io.read_image(path)
        noisy = np.clip(degradations.gaussian_noise(clean, 15 / 255, seed=index).numpy(), 0, 1)
        ours = float(metrics.ssim(clean, noisy))
        theirs = structural_similarity(
            clean[..., 0], noisy[..., 0], data_range=1, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False,
        )
        assert abs(ours - theirs) < 1e-3, path


@pytest.mark.data
def test_y_channel_psnr_with_border_matches_skimage():
    path = io.list_images(require_set("set5"))[0]
    clean = io.read_image(path)
    blurred = degradations.gaussian_blur(clean, 1.0).numpy()
    ours = float(metrics.psnr(clean, blurred, border=4, y_channel=True))
    y_clean = rgb2ycbcr(clean)[..., 0] / 255.0
    y_blur = rgb2ycbcr(blurred)[..., 0] / 255.0
    theirs = peak_signal_noise_ratio(y_clean[4:-4, 4:-4], y_blur[4:-4, 4:-4], data_range=1)
    assert abs(ours - theirs) < 1e-3


def test_metric_classes_average_over_images():
    rng = np.random.default_rng(0)
    clean = rng.random((3, 32, 32, 1)).astype(np.float32)
    noisy = np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1).astype(np.float32)
    metric = metrics.PSNR()
    metric.update_state(clean[:2], noisy[:2])
    metric.update_state(clean[2:], noisy[2:])
    expected = np.mean([float(metrics.psnr(c, n)) for c, n in zip(clean, noisy)])
    assert abs(float(metric.result()) - expected) < 1e-4
    ssim_metric = metrics.SSIM()
    ssim_metric.update_state(clean, noisy)
    assert 0 < float(ssim_metric.result()) < 1
    assert metrics.PSNR.from_config(metrics.PSNR(border=2).get_config()).border == 2


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="estimate.shape"):
        metrics.psnr(np.zeros((8, 8, 1)), np.zeros((8, 9, 1)))
