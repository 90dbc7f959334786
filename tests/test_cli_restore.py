"""Tests of `tfimage denoise|upscale|inpaint IN ... -o OUT` (`tfimage.cli.restore`)."""

import os

import cv2
import numpy as np
import pytest

from conftest import require_set
from tfimage import degradations, io, metrics
from tfimage.cli.main import main
from tfimage.tasks.inpainting import masked_psnr


@pytest.fixture
def noisy_folder(tmp_path):
    """Two noisy Set12 crops in a temp folder, with their clean versions."""
    paths = io.list_images(require_set("set12"))[:2]
    folder = tmp_path / "in"
    clean = {}
    for index, path in enumerate(paths):
        image = io.read_image(path)[:96, :80]
        noisy = degradations.gaussian_noise(image, 25 / 255, seed=index, clip=True).numpy()
        name = f"img{index}.png"
        io.write_image(folder / name, noisy)
        clean[name] = image
    return folder, clean


def _cbsd68_crop(size):
    folder = require_set("cbsd68")
    return io.read_image(io.list_images(folder)[0], channels=3)[:size, :size]


@pytest.mark.data
def test_denoise_folder_writes_better_images(noisy_folder, tmp_path, capsys):
    folder, clean = noisy_folder
    out = tmp_path / "out"
    assert main(["denoise", str(folder), "-o", str(out), "--model", "nlm", "--sigma", "25"]) == 0
    assert sorted(os.listdir(out)) == sorted(clean)
    for name, image in clean.items():
        before = float(metrics.psnr(image, io.read_image(folder / name)))
        after = float(metrics.psnr(image, io.read_image(out / name)))
        assert after > before + 3, name


@pytest.mark.data
def test_denoise_never_overwrites_an_input(noisy_folder):
    folder, _ = noisy_folder
    before = (folder / "img0.png").read_bytes()
    assert main(["denoise", str(folder / "img0.png"), "-o", str(folder), "--model", "noisy"]) == 1
    assert (folder / "img0.png").read_bytes() == before


@pytest.mark.data
def test_pretrained_model_with_estimated_sigma_and_conversions(tmp_path, capsys):
    require_set("ffdnet_matconvnet")
    clean = io.read_image(io.list_images(require_set("set12"))[0])[:64, :64]
    noisy = degradations.gaussian_noise(clean, 25 / 255, seed=0, clip=True).numpy()
    rgba = np.concatenate([np.repeat(noisy, 3, axis=2), np.ones_like(noisy)], axis=2)
    io.write_image(tmp_path / "rgba16.png", rgba, bit_depth=16)
    with pytest.warns(UserWarning):
        status = main(["denoise", str(tmp_path / "rgba16.png"), "-o", str(tmp_path / "out"), "--model", "ffdnet-gray"])
    assert status == 0
    assert "estimated sigma" in capsys.readouterr().out
    restored = io.read_image(tmp_path / "out" / "rgba16.png")
    assert restored.shape == (64, 64, 1)  # the gray model's channels
    assert float(metrics.psnr(clean, restored)) > float(metrics.psnr(clean, noisy)) + 6


def test_bad_inputs_give_clear_errors(tmp_path, capsys):
    (tmp_path / "notes.png").write_text("not an image")
    assert main(["denoise", str(tmp_path / "notes.png"), "-o", str(tmp_path / "o"), "--model", "noisy"]) == 1
    assert "notes.png" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((4, 4), np.uint8))
    assert main(["denoise", str(tmp_path / "tiny.png"), "-o", str(tmp_path / "o"), "--model", "noisy"]) == 1
    assert "8x8" in capsys.readouterr().err
    assert main(["denoise", str(tmp_path / "tiny.png"), "-o", str(tmp_path / "o"), "--model", "nope"]) == 1
    assert "name='nope'" in capsys.readouterr().err
    for sigma in ("-5", "300"):
        assert main(["denoise", str(tmp_path), "-o", str(tmp_path / "o"), "--model", "noisy", "--sigma", sigma]) == 1
        assert f"sigma={float(sigma)}" in capsys.readouterr().err
    assert main(["denoise", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o"), "--model", "noisy"]) == 1
    assert "missing.png" in capsys.readouterr().err
    assert main(["denoise", str(tmp_path / "tiny.png"), "-o", str(tmp_path / "o"), "--model", "telea"]) == 1
    assert "'inpaint' task, not 'denoise'. Received: model=telea" in capsys.readouterr().err


def test_inpaint_and_upscale_take_a_file_or_a_folder(tmp_path, capsys):
    image = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    io.write_image(tmp_path / "photo.png", image)
    io.write_image(tmp_path / "holes.png", degradations.random_mask(40, 40, 0.2, seed=0))
    assert main(["inpaint", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "holes.png"),
                 "-o", str(tmp_path / "out"), "--model", "telea"]) == 0
    assert io.read_image(tmp_path / "out" / "photo.png").shape == (40, 40, 3)
    assert main(["upscale", str(tmp_path / "photo.png"), "--scale", "2", "-o", str(tmp_path / "big.png")]) == 0
    assert io.read_image(tmp_path / "big.png").shape == (80, 80, 3)
    assert "(40x40 -> 80x80)" in capsys.readouterr().out
    folder = tmp_path / "many"
    for name in ("a.png", "b.png"):
        io.write_image(folder / name, image[:24, :32])
    assert main(["upscale", str(folder), "--scale", "3", "-o", str(tmp_path / "bigs")]) == 0
    assert sorted(os.listdir(tmp_path / "bigs")) == ["a.png", "b.png"]
    assert io.read_image(tmp_path / "bigs" / "b.png").shape == (72, 96, 3)
    before = (tmp_path / "holes.png").read_bytes()
    assert main(["inpaint", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "holes.png"),
                 "-o", str(tmp_path / "holes.png"), "--model", "telea"]) == 1
    assert (tmp_path / "holes.png").read_bytes() == before
    # A tiled Keras model from a .keras file, through the same command.
    pytest.importorskip("keras")
    from tfimage.inference import restore
    from tfimage.networks.unet import build_unet

    network = build_unet(1, filters=(4, 8), extra_inputs=1)
    network.save(str(tmp_path / "tiny.keras"))
    assert main(["inpaint", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "holes.png"), "-o",
                 str(tmp_path / "tiled.png"), "--model", str(tmp_path / "tiny.keras"), "--tile", "32",
                 "--overlap", "8", "--bit-depth", "16"]) == 0
    expected = restore(network, io.read_image(tmp_path / "photo.png"), task="inpaint",
                       mask=io.read_image(tmp_path / "holes.png"), tile=32, overlap=8)
    np.testing.assert_allclose(io.read_image(tmp_path / "tiled.png"), expected, atol=1 / 65535 + 1e-6)


@pytest.mark.data
def test_cli_upscale_a_set5_crop(tmp_path, capsys):
    image = io.read_image(io.list_images(require_set("set5"))[1])
    source = str(tmp_path / "small.png")
    io.write_image(source, image[:30, :41])
    out = str(tmp_path / "big.png")
    assert main(["upscale", source, "--scale", "3", "-o", out]) == 0
    assert io.read_image(out).shape == (90, 123, 3)
    # argparse refuses a scale outside 2, 3, 4 before anything runs (a usage error: status 2).
    with pytest.raises(SystemExit) as exit_info:
        main(["upscale", source, "--scale", "5", "-o", str(tmp_path / "other.png")])
    assert exit_info.value.code == 2
    assert "--scale: invalid choice: 5 (choose from 2, 3, 4)" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "other.png")


@pytest.mark.data
def test_cli_inpaint_a_cbsd68_crop(tmp_path, capsys):
    clean = _cbsd68_crop(64)
    source = str(tmp_path / "photo.png")
    io.write_image(source, clean)
    mask = degradations.random_mask(64, 64, 0.2, seed=3)
    mask_path = str(tmp_path / "holes.png")
    io.write_image(mask_path, mask)
    out = str(tmp_path / "filled.png")
    assert main(["inpaint", source, "--mask", mask_path, "-o", out, "--model", "ns"]) == 0
    assert f"({int(mask.sum())} hole pixels" in capsys.readouterr().out
    filled = io.read_image(out)
    assert masked_psnr(clean, filled, mask) > masked_psnr(clean, clean * (1 - mask), mask)
    small = str(tmp_path / "small_mask.png")
    io.write_image(small, mask[:32])
    assert main(["inpaint", source, "--mask", small, "-o", out]) == 1
    assert "small_mask.png" in capsys.readouterr().err


@pytest.mark.data
def test_denoise_with_self_ensemble(noisy_folder, tmp_path, capsys):
    require_set("dncnn_matconvnet")
    folder, clean = noisy_folder
    outs = []
    for extra in ([], ["--self-ensemble"]):
        out = tmp_path / f"out{len(outs)}"
        assert main(["denoise", str(folder / "img0.png"), "-o", str(out), "--model", "dncnn-s25", *extra]) == 0
        outs.append(float(metrics.psnr(clean["img0.png"], io.read_image(out / "img0.png"))))
    assert outs[1] > outs[0]
    assert main(["denoise", str(folder / "img0.png"), "-o", str(tmp_path / "nlm"), "--model", "nlm",
                 "--self-ensemble"]) == 1
    assert "self_ensemble=True" in capsys.readouterr().err


@pytest.mark.data
def test_color_symmetries_from_the_command_line(tmp_path, capsys):
    photo = io.read_image(io.list_images(require_set("cbsd68"))[0])[:96, :96]
    noisy = degradations.gaussian_noise(photo, 25 / 255, seed=0, clip=True).numpy()
    io.write_image(tmp_path / "photo.png", noisy)
    outs = {}
    for extra in (["--self-ensemble"], ["--self-ensemble", "--color-symmetries"]):
        out = tmp_path / f"out{len(outs)}"
        assert main(["denoise", str(tmp_path / "photo.png"), "-o", str(out), "--model", "tfimage-color-blind",
                     "--sigma", "25", *extra]) == 0
        outs[len(extra)] = io.read_image(out / "photo.png")
    assert np.abs(outs[2] - outs[1]).max() > 1 / 255  # different views, so a different average
    assert abs(float(metrics.psnr(photo, outs[2])) - float(metrics.psnr(photo, outs[1]))) < 1.0
    for output in outs.values():  # both really denoise (measured: 21.19 dB noisy, 27.41 denoised)
        assert float(metrics.psnr(photo, output)) > float(metrics.psnr(photo, noisy)) + 5
    assert main(["denoise", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out9"), "--model",
                 "tfimage-color-blind", "--sigma", "25", "--color-symmetries"]) == 1
    assert "pass self_ensemble=True too" in capsys.readouterr().err
    assert not (tmp_path / "out9" / "photo.png").exists()
    with pytest.raises(SystemExit):  # only denoising has color views
        main(["upscale", str(tmp_path / "photo.png"), "--scale", "2", "-o", str(tmp_path / "x.png"),
              "--self-ensemble", "--color-symmetries"])
    assert "--color-symmetries" in capsys.readouterr().err
