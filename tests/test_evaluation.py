import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from conftest import require_set
from tfimage import degradations, evaluation, io


def test_noisy_floor_matches_an_independent_computation():
    paths = io.list_images(require_set("set12"))[:3]
    result = evaluation.evaluate_denoiser("noisy", "set12", 25, limit=3, seed=0)
    assert result["images"] == 3 and result["model"] == "noisy"
    expected = []
    for index, path in enumerate(paths):
        clean = io.read_image(path)
        noisy = degradations.gaussian_noise(clean, 25 / 255, seed=(0, index)).numpy()
        expected.append(peak_signal_noise_ratio(clean, np.clip(noisy, 0, 1), data_range=1))
    assert abs(result["psnr"] - np.mean(expected)) < 1e-3


def test_every_model_sees_the_same_noise():
    require_set("set12")
    first = evaluation.evaluate_denoiser("noisy", "set12", 15, limit=2, seed=3)
    second = evaluation.evaluate_denoiser("noisy", "set12", 15, limit=2, seed=3)
    other = evaluation.evaluate_denoiser("noisy", "set12", 15, limit=2, seed=4)
    assert first["psnr"] == second["psnr"] != other["psnr"]


def test_nlm_beats_the_floor_on_real_images():
    require_set("set12")
    floor = evaluation.evaluate_denoiser("noisy", "set12", 25, limit=2)
    nlm = evaluation.evaluate_denoiser("nlm", "set12", 25, limit=2)
    assert nlm["psnr"] > floor["psnr"] + 6
    assert nlm["ssim"] > floor["ssim"]


@pytest.mark.parametrize("sigma", [-1, 300])
def test_bad_sigma_is_refused(sigma):
    with pytest.raises(ValueError, match=f"sigma={sigma}"):
        evaluation.evaluate_denoiser("noisy", "set12", sigma)


def test_unknown_model_names_it():
    with pytest.raises(ValueError, match="name='dncnn-s99'"):
        evaluation.evaluate_denoiser("dncnn-s99", "set12", 25)
