"""`tfimage degrade`: test inputs made from a clean image."""

import numpy as np
import pytest
from skimage import data

from tfimage import io, metrics
from tfimage.cli.main import main


@pytest.fixture
def photo(tmp_path):
    path = str(tmp_path / "photo.png")
    io.write_image(path, data.astronaut()[:128, :96].astype(np.float32) / 255)
    return path


def test_noise_downscale_and_holes(photo, tmp_path):
    clean = io.read_image(photo)
    main(["degrade", photo, "--sigma", "25", "-o", str(tmp_path / "noisy.png")])
    noisy = io.read_image(str(tmp_path / "noisy.png"))
    assert noisy.shape == clean.shape
    assert 19.5 < float(metrics.psnr(clean, noisy)) < 21.5  # sigma 25 (clipped, 8-bit)
    main(["degrade", photo, "--downscale", "4", "-o", str(tmp_path / "small.png")])
    assert io.read_image(str(tmp_path / "small.png")).shape == (32, 24, 3)
    main(["degrade", photo, "--holes", "0.25", "--mask-out", str(tmp_path / "mask.png"), "-o", str(tmp_path / "masked.png")])
    mask = io.read_image(str(tmp_path / "mask.png"))[..., 0]
    masked = io.read_image(str(tmp_path / "masked.png"))
    assert abs(mask.mean() - 0.25) < 0.05 and set(np.unique(mask)) == {0.0, 1.0}
    assert np.all(masked[mask == 1] == 0)
    np.testing.assert_allclose(masked[mask == 0], clean[mask == 0], atol=1e-6)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--holes", "0.25", "-o", "{tmp}/a.png"], "--mask-out=None"),
        (["--holes", "0.25", "--mask-out", "{photo}", "-o", "{tmp}/b.png"], "--mask-out="),
        (["--sigma", "25", "-o", "{photo}"], "overwrite an input"),
        (["--downscale", "5", "-o", "{tmp}/c.png"], "--downscale=5"),
        (["--holes", "1.5", "--mask-out", "{tmp}/m.png", "-o", "{tmp}/d.png"], "hole_ratio=1.5"),
    ],
)
def test_bad_arguments_are_named(photo, tmp_path, capsys, extra, message):
    argv = ["degrade", photo] + [item.format(tmp=tmp_path, photo=photo) for item in extra]
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_missing_input_is_named(tmp_path, capsys):
    assert main(["degrade", str(tmp_path / "missing.png"), "--sigma", "25", "-o", str(tmp_path / "d.png")]) == 1
    assert "missing.png" in capsys.readouterr().err
