import numpy as np
import pytest
import tensorflow as tf

from conftest import require_set
from tfimage import degradations, io
from tfimage.datasets import pipelines


def _noise25(patch, seed):
    return degradations.gaussian_noise(patch, 25 / 255, seed)


@pytest.mark.data
def test_restoration_batches_from_a_real_set():
    require_set("train400")
    dataset = pipelines.restoration_dataset("train400", _noise25, patch_size=40, batch_size=4, seed=1)
    (noisy, clean), = dataset.take(1).as_numpy_iterator()
    assert noisy.shape == clean.shape == (4, 40, 40, 1)
    assert 0 <= clean.min() and clean.max() <= 1
    assert abs(np.std(noisy - clean) * 255 - 25) < 2
    (noisy_again, clean_again), = pipelines.restoration_dataset(
        "train400", _noise25, patch_size=40, batch_size=4, seed=1
    ).take(1).as_numpy_iterator()
    np.testing.assert_array_equal(noisy, noisy_again)  # seeded end to end
    np.testing.assert_array_equal(clean, clean_again)


def test_restoration_with_noise_level_output(tmp_path):
    images = [np.random.default_rng(i).random((24, 30, 3)).astype(np.float32) for i in range(3)]
    dataset = pipelines.restoration_dataset(
        images,
        lambda patch, seed: degradations.random_gaussian_noise(patch, (0, 50 / 255), seed),
        patch_size=16, batch_size=2, channels=3,
    )
    ((noisy, level), clean), = dataset.take(1).as_numpy_iterator()
    assert noisy.shape == (2, 16, 16, 3) and level.shape == (2, 1)


def test_augmentation_covers_the_eight_transforms():
    patch = tf.reshape(tf.range(16, dtype=tf.float32), (4, 4, 1))
    seen = {pipelines.random_dihedral(patch, tf.constant([0, i], tf.int64)).numpy().tobytes() for i in range(200)}
    assert len(seen) == 8


def test_color_augmentation_reorders_and_inverts_the_channels():
    from tfimage.execution import CHANNEL_PERMUTATIONS

    patch = np.random.default_rng(0).random((4, 4, 3)).astype(np.float32)
    variants = {pipelines.random_color_symmetry(patch, tf.constant([0, i], tf.int64)).numpy().tobytes()
                for i in range(300)}
    expected = {np.ascontiguousarray(view).tobytes() for order in CHANNEL_PERMUTATIONS
                for view in (patch[..., list(order)], 1.0 - patch[..., list(order)])}
    assert variants == expected  # all 12, and nothing else

    images = [np.random.default_rng(i).random((24, 30, 3)).astype(np.float32) for i in range(3)]
    batches = [
        next(pipelines.restoration_dataset(images, _noise25, patch_size=16, batch_size=8, channels=3,
                                           color_augment=flag).as_numpy_iterator())
        for flag in (False, True)
    ]
    assert not np.allclose(batches[0][1], batches[1][1])
    # The crops and flips are those of the plain run: each augmented patch is a color variant of its plain one.
    for plain, augmented in zip(batches[0][1], batches[1][1]):
        assert any(np.allclose(augmented, view) for order in CHANNEL_PERMUTATIONS
                   for view in (plain[..., list(order)], 1.0 - plain[..., list(order)]))
    with pytest.raises(ValueError, match="channels=1"):
        pipelines.restoration_dataset([images[0][..., :1]], _noise25, patch_size=16, channels=1, color_augment=True)


def test_small_image_error_names_the_file(tmp_path):
    io.write_image(tmp_path / "big.png", np.zeros((50, 50, 1), np.float32))
    io.write_image(tmp_path / "tiny.png", np.zeros((20, 50, 1), np.float32))
    with pytest.raises(ValueError, match="tiny.png"):
        pipelines.restoration_dataset(str(tmp_path), _noise25, patch_size=40)


def test_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="no image file"):
        pipelines.restoration_dataset(str(tmp_path), _noise25)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(ValueError, match="broken.png"):
        pipelines.image_folder(tmp_path)


@pytest.mark.data
def test_evaluation_dataset_is_seeded_per_image():
    require_set("set12")
    first = list(pipelines.evaluation_dataset("set12", _noise25, seed=0).take(2).as_numpy_iterator())
    second = list(pipelines.evaluation_dataset("set12", _noise25, seed=0).take(2).as_numpy_iterator())
    (noisy_a, clean_a, name_a), (noisy_b, _, _) = first
    assert noisy_a.shape == clean_a.shape == (1, 256, 256, 1)
    assert name_a.decode().endswith("01.png")
    np.testing.assert_array_equal(noisy_a, second[0][0])
    assert not np.allclose(noisy_a - clean_a, noisy_b - second[1][1])  # a new seed per image


def test_generative_dataset():
    images = np.random.default_rng(0).random((10, 28, 28, 1)).astype(np.float32)
    labels = np.arange(10)
    batches = list(pipelines.generative_dataset(images, labels, batch_size=4).as_numpy_iterator())
    assert len(batches) == 2 and batches[0][0].shape == (4, 28, 28, 1)
    seen = np.concatenate([b[1] for b in batches])
    assert len(set(seen.tolist())) == 8  # shuffled, no image twice in an epoch
    for batch_images, batch_labels in batches:  # labels stay with their images
        np.testing.assert_array_equal(batch_images, images[batch_labels])
    with pytest.raises(ValueError, match="batch_size=11"):
        pipelines.generative_dataset(images, batch_size=11)
    with pytest.raises(ValueError, match="labels.shape"):
        pipelines.generative_dataset(images, labels[:3], batch_size=4)


def test_tfds_image_folder_offline(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    for label in ("cats", "dogs"):
        folder = tmp_path / "train" / label
        folder.mkdir(parents=True)
        for i in range(2):
            io.write_image(folder / f"{i}.png", np.full((8, 8, 3), 0.5, np.float32))
    dataset = pipelines.tfds_image_folder(str(tmp_path), split="train", shape=(8, 8, 3))
    examples = list(dataset.as_numpy_iterator())
    assert len(examples) == 4
    assert abs(examples[0][0].mean() - 0.5) < 0.01 and examples[0][0].dtype == np.float32


def test_load_source_reads_every_kind_of_source(tmp_path):
    names, images = pipelines.load_source("bundled-color", channels=3)
    assert len(images) >= 4 and names[0] == "skimage:astronaut"
    assert all(image.shape[2] == 3 and image.dtype == np.float32 and image.max() <= 1 for image in images)
    arrays = [np.zeros((20, 20, 3), np.float32)]
    with pytest.warns(UserWarning, match="gray"):
        _, gray = pipelines.load_source(arrays, channels=1)
    assert gray[0].shape == (20, 20, 1)
    with pytest.raises(ValueError, match="smaller than 32x32.*image 0"):
        pipelines.load_source(arrays, min_size=32)
    io.write_image(tmp_path / "a.png", np.zeros((9, 9, 1), np.float32))
    io.write_image(tmp_path / "b.png", np.zeros((9, 9, 1), np.float32))
    names, images = pipelines.load_source(str(tmp_path), limit=1)
    assert len(images) == 1 and names[0].endswith("a.png")
    with pytest.raises(ValueError, match="limit=0"):
        pipelines.load_source(str(tmp_path), limit=0)
