import os

import cv2
import numpy as np
import pytest

from tfimage import io


def _random_image(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_png_round_trip(tmp_path, channels, bit_depth):
    image = _random_image((13, 17, channels))
    path = io.write_image(tmp_path / "x.png", image, bit_depth=bit_depth)
    back = io.read_image(path)
    assert back.shape == (13, 17, channels)
    assert back.dtype == np.float32
    step = 1 / (255 if bit_depth == 8 else 65535)
    assert np.max(np.abs(back - image)) <= step / 2 + 1e-6


def test_sixteen_bit_keeps_precision(tmp_path):
    image = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64, 1)
    io.write_image(tmp_path / "x.png", image, bit_depth=16)
    back = io.read_image(tmp_path / "x.png")
    assert len(np.unique(back)) > 256  # more levels than 8 bits can hold


@pytest.mark.parametrize("extension", [".jpg", ".bmp", ".tif"])
def test_reads_other_formats_in_rgb_order(tmp_path, extension):
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 200  # red
    path = str(tmp_path / f"red{extension}")
    cv2.imwrite(path, rgb[..., ::-1])  # OpenCV writes BGR
    image = io.read_image(path)
    assert image.shape == (16, 16, 3)
    assert image[..., 0].mean() > 0.7 and image[..., 2].mean() < 0.1


def test_sixteen_bit_tiff(tmp_path):
    path = str(tmp_path / "x.tif")
    cv2.imwrite(path, np.full((8, 8), 65535 // 4, np.uint16))
    image = io.read_image(path)
    assert image.shape == (8, 8, 1)
    assert abs(image.mean() - 0.25) < 1e-4


def test_channel_conversion_warns_and_converts(tmp_path):
    rgba = _random_image((8, 8, 4))
    with pytest.warns(UserWarning, match="alpha"):
        rgb = io.convert_channels(rgba, 3, name="a.png")
    np.testing.assert_array_equal(rgb, rgba[..., :3])
    with pytest.warns(UserWarning, match="gray"):
        gray = io.convert_channels(rgb, 1, name="a.png")
    expected = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(gray[..., 0], expected, atol=1e-6)
    with pytest.warns(UserWarning, match="RGB"):
        assert io.convert_channels(gray, 3).shape == (8, 8, 3)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png"):
        io.read_image(tmp_path / "nope.png")


def test_not_an_image_names_it(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture")
    with pytest.raises(ValueError, match="Not an image.*notes.png"):
        io.read_image(path)


@pytest.mark.parametrize("extension", [".png", ".jpg"])
def test_truncated_file_names_it(tmp_path, extension):
    path = str(tmp_path / f"whole{extension}")
    cv2.imwrite(path, (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8))
    data = open(path, "rb").read()
    cut = tmp_path / f"cut{extension}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"truncated or corrupt.*cut{extension}"):
        io.read_image(cut)


def test_bad_channel_request_names_argument():
    with pytest.raises(ValueError, match="channels=2"):
        io.convert_channels(np.zeros((4, 4, 3), np.float32), 2)


def test_write_is_atomic_and_keeps_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    original = _random_image((8, 8, 1))
    io.write_image(path, original)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(io.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        io.write_image(path, _random_image((8, 8, 1), seed=1))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.png"]  # no temp file left


def test_write_rejects_nan_and_non_png(tmp_path):
    image = _random_image((8, 8, 1))
    image[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN.*bad.png"):
        io.write_image(tmp_path / "bad.png", image)
    assert not (tmp_path / "bad.png").exists()
    with pytest.raises(ValueError, match="path=.*x.jpg"):
        io.write_image(tmp_path / "x.jpg", _random_image((8, 8, 1)))


def test_list_images_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        io.list_images(tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="no image file"):
        io.list_images(tmp_path)
