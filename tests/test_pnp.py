"""Tests of the plug-and-play solver (`tfimage.pnp`) and the deblur, demosaic and kernel-SR tasks it serves."""

import numpy as np
import pytest

from conftest import require_set
from tfimage import baselines, evaluation, kernels, metrics, operators, pnp, zoo
from tfimage.inference import restore
from tfimage.tasks import TASKS


@pytest.fixture(scope="module")
def color_denoiser():
    return zoo.load("tfimage-color-blind")  # shipped in saved_models/: takes a noise level


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    return (data.astronaut()[96:224, 160:288] / 255.0).astype(np.float32)  # 128x128, a face and edges


def test_the_schedule_is_dpirs():
    sigmas, rhos = pnp.schedule(2.55 / 255, 8)
    np.testing.assert_allclose(sigmas[[0, -1]] * 255, [49.0, 2.55], rtol=1e-5)
    assert np.all(np.diff(np.log(sigmas)) < 0) and np.allclose(np.diff(np.log(sigmas)), np.log(2.55 / 49) / 7, rtol=1e-4)
    np.testing.assert_allclose(rhos, 0.23 * (2.55 / 255) ** 2 / sigmas.astype(np.float64) ** 2, rtol=1e-5)
    sigmas, rhos = pnp.schedule(0.0, 4, sigma_end=0.6 / 255)  # no noise: rho's level floors at 0.255 / 255
    np.testing.assert_allclose(rhos[-1], 0.23 * 0.255**2 / 0.6**2, rtol=1e-4)
    with pytest.raises(ValueError, match="noise_level"):
        pnp.schedule(-0.01, 8)
    with pytest.raises(ValueError, match="iterations"):
        pnp.schedule(0.01, 0)


def test_pnp_deblurring_beats_wiener_and_the_views_change_the_answer(color_denoiser, photo):
    task = TASKS["deblur"]
    example = task.degrade(photo, (0, 0), kernel="gaussian:1.6", noise_level=2.55)
    assert example.degraded.shape == photo.shape and example.inputs["kernel"].shape == (25, 25)
    scores = {}
    for name in ("pnp", "wiener", "blurred"):
        if name == "pnp":
            restored = restore(color_denoiser, example.degraded, task="deblur", **example.inputs)
        elif name == "wiener":
            restored = restore(zoo.load("wiener"), example.degraded, task="deblur", **example.inputs)
        else:
            restored = np.clip(example.degraded, 0, 1)
        scores[name] = task.score(example, restored)["psnr"]
    assert scores["pnp"] > scores["wiener"] + 0.5 > scores["blurred"] + 0.5, scores
    ensemble = restore(color_denoiser, example.degraded, task="deblur", self_ensemble=True, **example.inputs)
    assert task.score(example, ensemble)["psnr"] > scores["wiener"]


def test_pnp_demosaicing_beats_opencv(color_denoiser, photo):
    task = TASKS["demosaic"]
    example = task.degrade(photo[:, :126], (0, 0))
    assert example.degraded.shape == (128, 126, 1)
    pnp_score = task.score(example, restore(color_denoiser, example.degraded, task="demosaic"))["psnr"]
    opencv = task.score(example, restore(zoo.load("edge-aware-demosaic"), example.degraded, task="demosaic"))["psnr"]
    bilinear = task.score(example, restore(zoo.load("bilinear-demosaic"), example.degraded, task="demosaic"))["psnr"]
    assert pnp_score > opencv + 1.0 and opencv > bilinear - 0.5, (pnp_score, opencv, bilinear)
    with pytest.raises(ValueError, match="even height"):
        restore(color_denoiser, example.degraded[:127], task="demosaic")
    with pytest.raises(ValueError, match="single-channel"):
        restore(color_denoiser, photo, task="demosaic")


def test_pnp_super_resolution_with_a_known_kernel_beats_bicubic(color_denoiser, photo):
    task = TASKS["sr"]
    example = task.degrade(photo, (0, 0), scale=2, kernel="gaussian:0.7", noise_level=0.0)
    assert example.degraded.shape == (64, 64, 3)
    restored = restore(color_denoiser, example.degraded, task="sr", **example.inputs)
    assert restored.shape == photo.shape
    bicubic = restore(zoo.load("bicubic"), example.degraded, task="sr", **example.inputs)
    assert task.score(example, restored)["psnr"] > task.score(example, bicubic)["psnr"] + 1.0
    assert set(task.score(example, restored)) == {"psnr", "ssim", "psnr_y"}


def test_pnp_inpainting_fills_the_holes_and_keeps_the_known_pixels(color_denoiser, photo):
    task = TASKS["inpaint"]
    example = task.degrade(photo, (0, 1), hole_ratio=0.3)
    restored = restore(color_denoiser, example.degraded, task="inpaint", **example.inputs)
    known = example.inputs["mask"] == 0
    np.testing.assert_allclose(restored[known[..., 0]], photo[known[..., 0]], atol=1e-6)
    telea = restore(zoo.load("telea"), example.degraded, task="inpaint", **example.inputs)
    assert task.score(example, restored)["psnr_hole"] > task.score(example, telea)["psnr_hole"]


def test_bad_inputs_name_the_argument(color_denoiser, photo):
    with pytest.raises(ValueError, match="noise_level"):
        restore(color_denoiser, photo, task="deblur", kernel="gaussian:1", noise_level=-0.1)
    with pytest.raises(ValueError, match="kernel=None"):
        restore(color_denoiser, photo, task="deblur")
    with pytest.raises(ValueError, match="at least 27x27"):
        restore(color_denoiser, photo[:20, :20], task="deblur", kernel=np.ones((27, 27)) / 729)
    with pytest.raises(ValueError, match="tile"):
        restore(color_denoiser, photo, task="deblur", kernel="gaussian:1", tile=64)
    with pytest.warns(UserWarning, match="normalised"):
        restore(zoo.load("wiener"), photo, task="deblur", kernel=np.ones((5, 5)), noise_level=0.01)
    with pytest.raises(ValueError, match="noise_level"):
        evaluation.evaluate("wiener", [photo], task="deblur", kernel="gaussian:1", noise_level=-1)
    with pytest.raises(ValueError, match="denoiser"):
        restore(zoo.load("tfimage-inpaint"), photo, task="deblur", kernel="gaussian:1")


def test_deconvolution_baselines_undo_a_blur(photo):
    example = TASKS["deblur"].degrade(photo, (0, 0), kernel="motion:9,45", noise_level=1.0)
    blurred = TASKS["deblur"].score(example, np.clip(example.degraded, 0, 1))["psnr"]
    for name in ("wiener", "richardson-lucy", "unsupervised-wiener"):
        restored = restore(zoo.load(name), example.degraded, task="deblur", **example.inputs)
        assert TASKS["deblur"].score(example, restored)["psnr"] > blurred + 1.0, name


@pytest.mark.data
@pytest.mark.slow
def test_ffdnet_color_deblurs_set3c_levin_kernels_far_beyond_wiener():
    require_set("set3c")
    require_set("kernels")
    results = {
        model: evaluation.evaluate(model, "set3c", task="deblur", kernel="levin:1", noise_level=7.65, limit=1)["psnr"]
        for model in ("ffdnet-color", "wiener")
    }
    assert results["ffdnet-color"] > results["wiener"] + 2.0, results


def test_deblur_demosaic_and_kernel_upscale_commands(photo, tmp_path, capsys):
    import json

    from tfimage import io
    from tfimage.cli.main import main

    blurred = TASKS["deblur"].degrade(photo, (0, 0), kernel="motion:9,30", noise_level=2.55)
    io.write_image(tmp_path / "blurred.png", np.clip(blurred.degraded, 0, 1))
    np.save(tmp_path / "kernel.npy", kernels.from_spec("motion:9,30"))
    assert main(["deblur", str(tmp_path / "blurred.png"), "--kernel", str(tmp_path / "kernel.npy"),
                 "--noise-level", "2.55", "--model", "tfimage-color-blind", "-o", str(tmp_path / "out")]) in (0, None)
    deblurred = io.read_image(tmp_path / "out" / "blurred.png")
    assert metrics.psnr(photo, deblurred) > metrics.psnr(photo, io.read_image(tmp_path / "blurred.png")) + 1.0
    mosaic = operators.mosaic(photo)
    io.write_image(tmp_path / "raw.png", mosaic)
    assert main(["demosaic", str(tmp_path / "raw.png"), "--model", "tfimage-color-blind",
                 "-o", str(tmp_path / "rgb.png")]) in (0, None)
    rgb = io.read_image(tmp_path / "rgb.png")
    assert rgb.shape == photo.shape and metrics.psnr(photo, rgb) > 30
    low = TASKS["sr"].degrade(photo, (0, 0), scale=2, kernel="gaussian:1.2").degraded
    io.write_image(tmp_path / "low.png", low)
    assert main(["upscale", str(tmp_path / "low.png"), "--scale", "2", "--kernel", "gaussian:1.2",
                 "--noise-level", "0", "--model", "tfimage-color-blind", "-o", str(tmp_path / "up.png")]) in (0, None)
    assert io.read_image(tmp_path / "up.png").shape == photo.shape
    capsys.readouterr()
    io.write_image(tmp_path / "set" / "a.png", photo)
    assert main(["evaluate", "deblur", "--model", "wiener", "--dataset", str(tmp_path / "set"),
                 "--kernel", "gaussian:1.6", "--noise-level", "2.55", "--json"]) in (0, None)
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["task"] == "deblur" and result["kernel"] == "gaussian:1.6" and result["noise_level"] == 2.55
    assert 20 < result["psnr"] < 40 and result["images"] == 1
    assert main(["evaluate", "deblur", "--model", "wiener", "--dataset", str(tmp_path / "set"),
                 "--kernel", "gaussian:1.6", "--noise-level", "-2"]) not in (0, None)
    assert "Received: noise_level=-2" in capsys.readouterr().err
