"""Tests of the MNIST loader, the generation data loader and the picture helpers."""

import gzip
import os

import numpy as np
import pytest
from PIL import Image

from conftest import requires_data

from tfimage.datasets.mnist import holdout_split, load_mnist

TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


real_mnist = requires_data("mnist")  # the real 10k test split


def write_idx(path, magic, array):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_mnist(tmp_path):
    folder = tmp_path / "MNIST"
    folder.mkdir()
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    write_idx(folder / "t10k-images-idx3-ubyte.gz", 2051, images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", 2049, np.array([3, 7]))
    write_idx(folder / "train-labels-idx1-ubyte.gz", 2049, np.array([1, 2, 3]))
    return tmp_path, images


@real_mnist
def test_load_mnist_test_split():
    images, labels = load_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert images.max() == 255 and images.min() == 0
    assert np.bincount(labels).tolist() == TEST_COUNTS


def test_load_mnist_reads_idx_files(fake_mnist):
    data_dir, expected = fake_mnist
    images, labels = load_mnist("test", data_dir=str(data_dir), download=False)
    np.testing.assert_array_equal(images, expected)
    assert labels.tolist() == [3, 7]


def test_train_split_without_images_says_how_to_get_them(fake_mnist):
    data_dir, _ = fake_mnist
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz.*split='train'"):
        load_mnist("train", data_dir=str(data_dir), download=False)


def test_bad_split_and_bad_file(fake_mnist):
    data_dir, _ = fake_mnist
    with pytest.raises(ValueError, match="split='valid'"):
        load_mnist("valid", data_dir=str(data_dir))
    write_idx(data_dir / "MNIST" / "t10k-images-idx3-ubyte.gz", 1234, np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="magic number 2051"):
        load_mnist("test", data_dir=str(data_dir), download=False)


def test_holdout_split_is_a_fixed_partition():
    train, held = holdout_split(100, 0.2, seed=0)
    assert len(train) == 80 and len(held) == 20
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(100))
    np.testing.assert_array_equal(held, holdout_split(100, 0.2, seed=0)[1])


# ----------------------------------------------------------- generation data
def test_folder_data_errors_name_the_problem(tmp_path):
    from tfimage.cli.generate import load_generation_data

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="folder="):
        load_generation_data(str(empty))
    (empty / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="no image file"):
        load_generation_data(str(empty))
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "a.png").write_text("not an image either")
    with pytest.raises(ValueError, match="a.png"):
        load_generation_data(str(fake))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(mixed / "a.png")
    Image.fromarray(np.zeros((8, 10), np.uint8)).save(mixed / "b.png")
    with pytest.raises(ValueError, match="b.png"):
        load_generation_data(str(mixed))
    with pytest.raises(FileNotFoundError, match="--data="):
        load_generation_data(str(tmp_path / "missing"))


def test_folder_data_loads_same_size_images(tmp_path):
    from tfimage.cli.generate import load_generation_data

    for i in range(3):
        Image.fromarray(np.full((8, 8), 60 * i, np.uint8)).save(tmp_path / f"{i}.png")
    images, labels = load_generation_data(str(tmp_path), limit=2)
    assert images.shape == (2, 8, 8, 1) and labels is None
    np.testing.assert_allclose(images[1].max(), 60 / 255, rtol=1e-6)


def test_mnist_digit_filter(fake_mnist):
    from tfimage.cli.generate import load_generation_data

    data_dir, _ = fake_mnist
    images, labels = load_generation_data("mnist", str(data_dir), digits=["7"])
    assert images.shape == (1, 28, 28, 1) and labels.tolist() == [7]
    with pytest.raises(ValueError, match="--digits"):
        load_generation_data("mnist", str(data_dir), digits=["12"])


# ----------------------------------------------------------- pictures
def test_save_image_grid_layout(tmp_path):
    from tfimage.plots import save_image_grid

    images = np.zeros((5, 4, 6, 1), np.float32)
    images[4] = 1.0
    path = save_image_grid(images, str(tmp_path / "g.png"), ncols=3, padding=1)
    grid = np.asarray(Image.open(path))
    assert grid.shape == (2 * 4 + 3, 3 * 6 + 4)
    assert grid[1:5, 1:7].max() == 0  # first tile is black
    assert grid[6:10, 8:14].min() == 255  # the white fifth tile, row 2 col 2
    with pytest.raises(ValueError, match="ncols=0"):
        save_image_grid(images, str(tmp_path / "h.png"), ncols=0)
    with pytest.raises(ValueError, match="images"):
        save_image_grid(np.zeros((0, 4, 4, 1)), str(tmp_path / "h.png"))


def test_interpolation_and_reconstruction_pictures(tmp_path):
    from tfimage.plots import interpolate_latents, save_interpolation_strip, save_reconstruction_grid

    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    path = interpolate_latents(a, b, steps=5)
    np.testing.assert_allclose(path[0], a, atol=1e-6)
    np.testing.assert_allclose(path[-1], b, atol=1e-6)
    np.testing.assert_allclose(interpolate_latents(a, b, 3, spherical=False)[1], [0.5, 1.0])

    def decode(z):
        return np.repeat(z[:, :1, None, None], 4, axis=1).repeat(4, axis=2).clip(0, 1)

    strip = save_interpolation_strip(decode, a, b, str(tmp_path / "s.png"), steps=4)
    assert Image.open(strip).size == (4 * 4 + 5 * 2, 4 + 4)
    originals = np.zeros((3, 4, 4, 1))
    recon = save_reconstruction_grid(originals, originals + 0.5, str(tmp_path / "r.png"), ncols=2)
    assert Image.open(recon).size == (2 * 4 + 3 * 2, 4 * 4 + 5 * 2)  # 4 rows: o, r, o, r
    with pytest.raises(ValueError, match="reconstructions.shape"):
        save_reconstruction_grid(originals, originals[:2], str(tmp_path / "x.png"))


def test_sample_grid_callback_writes_one_grid_per_epoch(tmp_path):
    pytest.importorskip("keras")
    from tfimage.plots import SampleGridCallback

    class Fake:
        def sample(self, n, seed=None):
            return np.full((n, 4, 4, 1), 0.5, np.float32)

    callback = SampleGridCallback(folder=str(tmp_path), n=4, ncols=2, every=2)
    callback.set_model(Fake())
    for epoch in range(4):
        callback.on_epoch_end(epoch)
    assert sorted(os.listdir(tmp_path)) == ["epoch_002.png", "epoch_004.png"]
    assert callback.get_config()["every"] == 2
    with pytest.raises(ValueError, match="n=0"):
        SampleGridCallback(folder=str(tmp_path), n=0)
