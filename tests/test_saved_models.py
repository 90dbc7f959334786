"""Our own trained models in saved_models/: each loads by name and does its job on real images."""

import os

import numpy as np
import pytest
from skimage import data

from conftest import require_set
from tfimage import degradations, inference, io, metrics, pretrained


def _available(name):
    path = os.path.join(pretrained.saved_models_dir(), pretrained.OUR_MODELS[name]["file"])
    if not os.path.isfile(path):
        pytest.skip(f"{name} is not in saved_models/")
    return pretrained.load(name)


@pytest.mark.parametrize("sigma", [15, 50])
def test_gray_blind_denoiser_on_the_camera_photo(sigma):
    model = _available("tfimage-gray-blind")
    clean = data.camera()[128:384, 128:384, None].astype(np.float32) / 255
    noisy = degradations.gaussian_noise(clean, sigma / 255, seed=0).numpy()
    blind = inference.restore(model, noisy)  # noise level estimated from the image
    gain = float(metrics.psnr(clean, blind)) - float(metrics.psnr(clean, noisy))
    assert gain > (6 if sigma == 15 else 10), gain


def test_color_blind_denoiser_on_an_unseen_photo():
    model = _available("tfimage-color-blind")
    clean = io.read_image(io.list_images(require_set("cbsd68"))[0])[:192, :192]  # never trained on
    noisy = degradations.gaussian_noise(clean, 25 / 255, seed=0).numpy()
    restored = inference.restore(model, noisy, noise_level=25 / 255)
    assert restored.shape == clean.shape
    assert float(metrics.psnr(clean, restored)) > float(metrics.psnr(clean, noisy)) + 8
