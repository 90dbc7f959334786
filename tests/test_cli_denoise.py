import json
import os

import cv2
import numpy as np
import pytest

from conftest import require_set
from tfimage import degradations, io, metrics
from tfimage.cli.main import main


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


def test_denoise_folder_writes_better_images(noisy_folder, tmp_path, capsys):
    folder, clean = noisy_folder
    out = tmp_path / "out"
    assert main(["denoise", str(folder), "-o", str(out), "--model", "nlm", "--sigma", "25"]) == 0
    assert sorted(os.listdir(out)) == sorted(clean)
    for name, image in clean.items():
        before = float(metrics.psnr(image, io.read_image(folder / name)))
        after = float(metrics.psnr(image, io.read_image(out / name)))
        assert after > before + 3, name


def test_denoise_never_overwrites_an_input(noisy_folder):
    folder, _ = noisy_folder
    before = (folder / "img0.png").read_bytes()
    assert main(["denoise", str(folder / "img0.png"), "-o", str(folder), "--model", "noisy"]) == 1
    assert (folder / "img0.png").read_bytes() == before


def test_pretrained_model_with_estimated_sigma_and_conversions(tmp_path, capsys):
    if not os.path.isdir(os.path.join(os.environ.get("TFIMAGE_DATA_DIR", "/nonexistent"), "FFDNet_MatConvNet")):
        pytest.skip("official weights not available")
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


def test_evaluate_json_last_line(capsys):
    require_set("set12")
    assert main(["evaluate", "denoise", "--model", "noisy", "--dataset", "set12", "--sigma", "25", "--limit", "2", "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(record) == {"model", "dataset", "sigma", "images", "psnr", "ssim", "seconds_per_image"}
    assert record["images"] == 2 and 20 < record["psnr"] < 21


def test_inpaint_and_upscale_take_a_file_or_a_folder(tmp_path):
    from tfimage import degradations as deg

    image = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    io.write_image(tmp_path / "photo.png", image)
    io.write_image(tmp_path / "holes.png", deg.random_mask(40, 40, 0.2, seed=0))
    assert main(["inpaint", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "holes.png"),
                 "-o", str(tmp_path / "out"), "--model", "telea"]) == 0
    assert io.read_image(tmp_path / "out" / "photo.png").shape == (40, 40, 3)
    assert main(["upscale", str(tmp_path / "photo.png"), "--scale", "2", "-o", str(tmp_path / "big.png")]) == 0
    assert io.read_image(tmp_path / "big.png").shape == (80, 80, 3)
    before = (tmp_path / "holes.png").read_bytes()
    assert main(["inpaint", str(tmp_path / "photo.png"), "--mask", str(tmp_path / "holes.png"),
                 "-o", str(tmp_path / "holes.png"), "--model", "telea"]) == 1
    assert (tmp_path / "holes.png").read_bytes() == before


def test_evaluate_and_denoise_with_self_ensemble(noisy_folder, tmp_path, capsys):
    require_set("set12")
    if not os.path.isdir(os.path.join(os.environ.get("TFIMAGE_DATA_DIR", "/nonexistent"), "DnCNN_MatConvNet")):
        pytest.skip("official weights not available")
    records = []
    for extra in ([], ["--self-ensemble"]):
        assert main(["evaluate", "denoise", "--model", "dncnn-s25", "--dataset", "set12", "--sigma", "25",
                     "--limit", "1", "--json", *extra]) == 0
        records.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert "self_ensemble" not in records[0] and records[1]["self_ensemble"] == 8
    assert records[0]["psnr"] + 0.03 < records[1]["psnr"] < records[0]["psnr"] + 0.5
    assert main(["evaluate", "denoise", "--model", "nlm", "--dataset", "set12", "--sigma", "25", "--limit", "1",
                 "--self-ensemble"]) == 1
    assert "self_ensemble=True" in capsys.readouterr().err
    folder, clean = noisy_folder
    outs = []
    for extra in ([], ["--self-ensemble"]):
        out = tmp_path / f"out{len(outs)}"
        assert main(["denoise", str(folder / "img0.png"), "-o", str(out), "--model", "dncnn-s25", *extra]) == 0
        outs.append(float(metrics.psnr(clean["img0.png"], io.read_image(out / "img0.png"))))
    assert outs[1] > outs[0]


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
    assert main(["evaluate", "denoise", "--model", "tfimage-color-blind", "--dataset", "cbsd68", "--sigma", "25",
                 "--limit", "1", "--self-ensemble", "--color-symmetries", "--json"]) == 0
    output = capsys.readouterr().out.strip().splitlines()
    record = json.loads(output[-1])
    assert record["self_ensemble"] == 8 and record["color_symmetries"] is True
    assert "(x8 self-ensemble, color symmetries)" in output[-2]
    assert main(["denoise", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out9"), "--model",
                 "tfimage-color-blind", "--sigma", "25", "--color-symmetries"]) == 1
    assert "pass self_ensemble=True too" in capsys.readouterr().err
    assert not (tmp_path / "out9" / "photo.png").exists()
