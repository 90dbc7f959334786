"""MNIST digits from the original IDX files.

LeCun, Bottou, Bengio and Haffner, "Gradient-Based Learning Applied to
Document Recognition", Proc. IEEE 86(11), 1998. The files are found through
`tfimage.datasets.catalogue.locate("mnist")` (the `MNIST/` folder under
`data_dir`, `$TFIMAGE_DATA_DIR` or the user cache).
"""

import gzip
import os

import numpy as np

from tfimage.datasets import catalogue

SPLITS = {
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
}
TRAIN_IMAGES_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz"


def _read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    if len(data) < 4 + 4 * ndim or int.from_bytes(data[:4], "big") != magic:
        raise ValueError(
            f"Not an IDX file with magic number {magic}. Received: path={path}"
        )
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims))
    if len(data) - offset != expected:
        raise ValueError(
            f"The IDX file holds {len(data) - offset} bytes of data, expected {expected} "
            f"for shape {tuple(dims)}. Received: path={path}"
        )
    return np.frombuffer(data, np.uint8, offset=offset).reshape(dims)


def load_mnist(split="test", data_dir=None, download=True):
    """Loads an MNIST split as uint8 images and integer labels.

    Args:
        split: "test" (10,000 images) or "train" (60,000 images; needs
            `train-images-idx3-ubyte.gz` in the MNIST folder).
        data_dir: a folder holding `MNIST/` (else `$TFIMAGE_DATA_DIR` or the
            user cache are searched, see `catalogue.locate`).
        download: whether `catalogue.locate` may download missing files.

    Returns:
        `(images, labels)`: uint8 array (N, 28, 28) with values 0..255 (white
        digit on black) and int64 array (N,) with values 0..9.

    Raises:
        ValueError: unknown split or malformed file.
        FileNotFoundError: the MNIST folder or the split's files are missing.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'test' or 'train'. Received: split={split!r}")
    folder = catalogue.locate("mnist", data_dir=data_dir, download=download)
    image_name, label_name = SPLITS[split]
    image_path = os.path.join(folder, image_name)
    label_path = os.path.join(folder, label_name)
    if not os.path.isfile(image_path):
        raise FileNotFoundError(
            f"The MNIST {split} images ({image_name}) are not in {folder}: only the test "
            f"split (and the training labels) are there. Download {TRAIN_IMAGES_URL} "
            f"(9.9 MB) into that folder, or use split='test'. Received: split={split!r}"
        )
    if not os.path.isfile(label_path):
        raise FileNotFoundError(f"The MNIST labels file {label_name} is not in {folder}. "
                                f"Received: split={split!r}")
    images = _read_idx(image_path, 2051, 3)
    labels = _read_idx(label_path, 2049, 1).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(
            f"{len(images)} images but {len(labels)} labels. Received: split={split!r}"
        )
    return images, labels


def mnist_float(split="test", data_dir=None, download=True):
    """`load_mnist` as float32 images (N, 28, 28, 1) in [0, 1] and int labels."""
    images, labels = load_mnist(split, data_dir=data_dir, download=download)
    return (images.astype(np.float32) / 255.0)[..., None], labels


def holdout_split(n, holdout_fraction=0.2, seed=0):
    """A fixed random split of range(n) into (train_indices, holdout_indices)."""
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(
            f"holdout_fraction must be in (0, 1). Received: holdout_fraction={holdout_fraction}"
        )
    order = np.random.default_rng(seed).permutation(n)
    cut = int(round(n * (1.0 - holdout_fraction)))
    return np.sort(order[:cut]), np.sort(order[cut:])
