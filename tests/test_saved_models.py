"""Our own trained models in saved_models/: each loads by name and does its job on real images."""

import os

import numpy as np
import pytest
from skimage import data

from conftest import require_set
from tfimage import degradations, inference, io, metrics, zoo


def _available(name):
    path = os.path.join(zoo.saved_models_dir(), zoo.OUR_MODELS[name]["file"])
    if not os.path.isfile(path):
        pytest.skip(f"{name} is not in saved_models/")
    return zoo.load(name)


@pytest.mark.parametrize("sigma", [15, 50])
def test_gray_blind_denoiser_on_the_camera_photo(sigma):
    model = _available("tfimage-gray-blind")
    clean = data.camera()[128:384, 128:384, None].astype(np.float32) / 255
    noisy = degradations.gaussian_noise(clean, sigma / 255, seed=0).numpy()
    blind = inference.restore(model, noisy)  # noise level estimated from the image
    gain = float(metrics.psnr(clean, blind)) - float(metrics.psnr(clean, noisy))
    assert gain > (6 if sigma == 15 else 10), gain


@pytest.mark.data
def test_color_blind_denoiser_on_an_unseen_photo():
    model = _available("tfimage-color-blind")
    clean = io.read_image(io.list_images(require_set("cbsd68"))[0])[:192, :192]  # never trained on
    noisy = degradations.gaussian_noise(clean, 25 / 255, seed=0).numpy()
    restored = inference.restore(model, noisy, noise_level=25 / 255)
    assert restored.shape == clean.shape
    assert float(metrics.psnr(clean, restored)) > float(metrics.psnr(clean, noisy)) + 8


def test_color_symmetries_help_the_color_model_on_its_held_out_photo():
    from tfimage.datasets.pipelines import bundled_color_images

    model = _available("tfimage-color-blind")
    names, images = bundled_color_images()
    assert names[-1] == "sklearn:flower.jpg"  # the photo its fine-tuning held out
    clean = images[-1][150:278, 250:378]
    noisy = degradations.gaussian_noise(clean, 25 / 255, seed=0).numpy()
    scores = [
        float(metrics.psnr(clean, inference.restore(model, noisy, noise_level=25 / 255, **options)))
        for options in ({}, {"self_ensemble": True}, {"self_ensemble": True, "color_symmetries": True})
    ]
    # Measured: 27.32 single pass, 27.44 with the 8 flips and turns, 27.54 with the color views.
    assert scores[0] + 0.05 < scores[1] < scores[2] - 0.05, scores


def test_mnist_vae_samples_are_the_requested_digits():
    vae = _available("mnist-vae")
    classifier = _available("mnist-classifier")
    labels = np.arange(200) % 10
    samples = vae.sample(200, labels=labels, seed=0)  # from the fitted latent mixture
    assert vae.has_latent_prior
    accuracy = float(np.mean(np.argmax(np.asarray(classifier(samples)), -1) == labels))
    assert accuracy > 0.95, accuracy  # 0.99 measured on 500 samples


def test_mnist_ddim_samples_are_the_requested_digits_and_repeat_with_the_seed():
    ddim = _available("mnist-ddim")
    classifier = _available("mnist-classifier")
    labels = np.arange(200) % 10
    samples = ddim.sample(200, steps=20, seed=0, labels=labels)
    assert samples.shape == (200, 28, 28, 1) and samples.min() >= 0 and samples.max() <= 1
    accuracy = float(np.mean(np.argmax(np.asarray(classifier(samples)), -1) == labels))
    assert accuracy > 0.95, accuracy
    again = ddim.sample(200, steps=20, seed=0, labels=labels)
    np.testing.assert_array_equal(again, samples)  # deterministic sampling from seeded noise
    assert np.abs(ddim.sample(200, steps=20, seed=1, labels=labels) - samples).mean() > 0.01


def _set5_hr(scale):
    from tfimage.tasks.super_resolution import sr_pair

    path = io.list_images(require_set("set5"))[0]  # baby
    return sr_pair(io.read_image(path), scale)


@pytest.mark.parametrize("name, scale, gain", [("tfimage-sr-x4", 4, 1.0), ("tfimage-sr-x2", 2, 1.0)])
@pytest.mark.data
def test_sr_models_beat_bicubic_on_a_set5_image(name, scale, gain):
    from tfimage.tasks.super_resolution import sr_metrics

    model = _available(name)
    hr, lr = _set5_hr(scale)
    ours = inference.restore(model, lr, task="sr", scale=scale)  # color through Y, Cb/Cr bicubic
    bicubic = inference.restore(zoo.load("bicubic"), lr, task="sr", scale=scale)
    assert ours.shape == hr.shape
    ours_psnr, _ = sr_metrics(hr, ours, scale)
    bicubic_psnr, _ = sr_metrics(hr, bicubic, scale)
    assert ours_psnr > bicubic_psnr + gain, (ours_psnr, bicubic_psnr)


@pytest.mark.data
def test_inpainting_model_beats_telea_on_unseen_photos():
    model = _available("tfimage-inpaint")
    telea = zoo.load("telea")
    paths = io.list_images(require_set("cbsd68"))
    gains = []
    for index in (1, 2, 3):  # 160x160 crops, never trained on; 25% free-form holes
        clean = io.read_image(paths[index])[:160, :160]
        mask = degradations.random_mask(160, 160, 0.25, seed=(0, index))
        masked = clean * (1 - mask)
        ours = inference.restore(model, masked, task="inpaint", mask=mask)
        assert ours.shape == clean.shape
        theirs = inference.restore(telea, masked, task="inpaint", mask=mask)
        gains.append(float(metrics.psnr(clean, ours)) - float(metrics.psnr(clean, theirs)))
    assert np.mean(gains) > 0.5, gains


def test_every_shipped_file_has_a_zoo_name_and_loads_in_a_fresh_process():
    import subprocess
    import sys

    shipped = sorted(name for name in os.listdir(zoo.saved_models_dir()) if name.endswith(".keras"))
    named = {spec["file"]: name for name, spec in zoo.OUR_MODELS.items()}
    assert [file for file in shipped if file not in named] == []  # each file has a name
    # A fresh interpreter has imported no model module: zoo.load alone must register the classes.
    code = (
        "import sys; from tfimage import zoo\n"
        f"for name in {[named[file] for file in shipped]!r}:\n"
        "    model = zoo.load(name); print(name, type(model).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = dict(line.split() for line in done.stdout.strip().splitlines())
    assert sorted(loaded) == sorted(named[file] for file in shipped)
    if "mnist-ddim" in loaded:
        assert loaded["mnist-ddim"] == "DiffusionModel"
