"""tf.data pipelines: image sources in, model-ready batches out.

- `restoration_dataset`: random crops with the 8 flips/rotations (and, for
  color, optionally the channel orders and negatives), degraded on the fly,
  batched as `(degraded, clean)` (or `((degraded, extra), clean)` when the
  degradation also returns a noise level or a mask): what `Restorer.fit`
  takes.
- `evaluation_dataset`: whole images of any size, batch 1, degraded with a
  per-image seed, so every model sees exactly the same degraded images.
- `generative_dataset`: images (and optional labels) for GAN/VAE training.

Sources are lists of image paths (a catalogue set, `image_folder`, any list)
or in-memory arrays; TFDS datasets come in through `tfds_dataset` and
`tfds_image_folder`.
"""

import os

import numpy as np
import tensorflow as tf

from tfimage import io
from tfimage.datasets import catalogue

AUTOTUNE = tf.data.AUTOTUNE
COLOR_SEED_OFFSET = 7919  # separates the color augmentation's seeds from the crop/flip/noise seeds


def image_folder(path, channels=None):
    """The image paths of a user's folder, each checked to decode.

    Every file is opened once here, so a corrupt, truncated or non-image file
    is reported up front with its name instead of failing mid-training.

    Args:
        path: a folder of PNG/JPEG/BMP/TIFF images.
        channels: None, 1 or 3 (checked later when the images are read).

    Returns:
        A sorted list of paths.
    """
    paths = io.list_images(path)
    for image_path in paths:
        io._check_decodes(image_path)
    return paths


def resolve_source(source, data_dir=None):
    """Turns a catalogue name, a folder or a list of paths into a list of image paths."""
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("The list of images is empty. Received: source=[]")
        return list(source)
    source = str(source)
    if source in catalogue.CATALOGUE:
        return catalogue.image_paths(source, data_dir=data_dir)
    return image_folder(source)


def bundled_color_images():
    """Six color photos that ship with scikit-image and scikit-learn: no download needed.

    astronaut, chelsea, coffee and rocket (scikit-image), china and flower
    (scikit-learn's `load_sample_images`, skipped when scikit-learn is not
    installed). A small color training set for transfer; the color test sets
    (CBSD68, Kodak24) stay unseen.

    Returns:
        (names, images): float32 (H, W, 3) arrays in [0, 1].
    """
    from skimage import data

    names, images = [], []
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        names.append(f"skimage:{name}")
        images.append(getattr(data, name)())
    try:
        from sklearn.datasets import load_sample_images
    except ImportError:
        pass
    else:
        bunch = load_sample_images()
        for file_name, image in zip(bunch.filenames, bunch.images):
            names.append("sklearn:" + os.path.basename(file_name))
            images.append(image)
    return names, [np.asarray(image, np.float32) / 255.0 for image in images]


# Image sets that ship inside installed packages: name -> loader returning (names, images).
BUNDLED_SETS = {"bundled-color": bundled_color_images}


def load_source(source, channels=None, min_size=None, limit=None, data_dir=None):
    """Reads any image source into memory: the one entry point of trainers and harnesses.

    Args:
        source: a bundled set ("bundled-color"), a catalogue name ("bsd68"),
            a folder, a list of paths, or a list of float32 (H, W, C) arrays.
        channels: None to keep each image's channels, or 1 or 3.
        min_size: if given, each image must be at least min_size x min_size.
        limit: keep only the first `limit` images.
        data_dir: where catalogue sets are looked for first.

    Returns:
        (names, images): a name (path) per image and float32 (H, W, C) arrays.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1. Received: limit={limit}")
    if isinstance(source, (list, tuple)) and source and isinstance(source[0], np.ndarray):
        names = [f"image {index}" for index in range(len(source))][:limit]
        images = [np.asarray(image, np.float32) for image in source[:limit]]
    elif isinstance(source, str) and source in BUNDLED_SETS:
        names, images = BUNDLED_SETS[source]()
        names, images = names[:limit], images[:limit]
    else:
        names = resolve_source(source, data_dir)[:limit]
        return names, load_images(names, channels=channels, min_size=min_size)
    if channels is not None:
        images = [io.convert_channels(image, channels, name=name) for name, image in zip(names, images)]
    for name, image in zip(names, images):
        if min_size and min(image.shape[:2]) < min_size:
            raise ValueError(
                f"The image is smaller than {min_size}x{min_size} pixels. Received: {name} with "
                f"shape {image.shape}"
            )
    return names, images


def load_images(paths, channels=None, min_size=None):
    """Reads images into a list of float32 arrays, converting channels if asked.

    Args:
        paths: image paths.
        channels: None to keep each file's channels, or 1 or 3.
        min_size: if given, each image must be at least min_size x min_size.

    Returns:
        A list of float32 (H, W, C) arrays.
    """
    images = []
    for path in paths:
        image = io.read_image(path, channels=channels)
        if min_size and min(image.shape[:2]) < min_size:
            raise ValueError(
                f"The image is smaller than {min_size}x{min_size} pixels. "
                f"Received: path={path} with size {image.shape[1]}x{image.shape[0]}"
            )
        images.append(image)
    return images


def random_dihedral(image, seed):
    """One of the 8 flips/rotations of a (H, W, C) square patch, chosen by `seed`."""
    choice = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=8, dtype=tf.int32)
    image = tf.image.rot90(image, k=choice % 4)
    return tf.cond(choice >= 4, lambda: tf.image.flip_left_right(image), lambda: image)


def random_color_symmetry(image, seed):
    """One of the 6 orders of R, G, B of a (H, W, 3) patch, inverted (1 - x) or not, chosen by `seed`.

    12 variants of each color patch that Gaussian denoising treats alike (the
    transforms of `tfimage.inference.color_symmetry_self_ensemble`): a few
    training photos then show a network more color combinations than their own.
    """
    from tfimage.execution import CHANNEL_PERMUTATIONS

    choice = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=12, dtype=tf.int32)
    order = tf.gather(tf.constant(CHANNEL_PERMUTATIONS, tf.int32), choice % 6)
    image = tf.gather(image, order, axis=-1)
    return tf.cond(choice >= 6, lambda: 1.0 - image, lambda: image)


def _as_ragged_source(images):
    """A dataset of (H, W, C) float32 images of any sizes from a list of arrays."""
    channels = images[0].shape[2]
    if any(image.shape[2] != channels for image in images):
        raise ValueError(
            "All images must have the same number of channels; pass channels=1 or 3. "
            f"Received: channels {sorted({image.shape[2] for image in images})}"
        )
    return tf.data.Dataset.from_generator(
        lambda: iter(images),
        output_signature=tf.TensorSpec((None, None, channels), tf.float32),
    ), channels


def restoration_dataset(
    source,
    degradation,
    patch_size=40,
    batch_size=64,
    channels=1,
    seed=0,
    augment=True,
    repeat=True,
    data_dir=None,
    color_augment=False,
):
    """Training batches of random degraded patches and their clean versions.

    Args:
        source: anything `load_source` reads: a catalogue name ("train400"),
            a bundled set, a folder, a list of paths or of float32 arrays.
        degradation: a function `(clean_patch, seed) -> degraded` or
            `-> (degraded, extra)` built from `tfimage.degradations`, e.g.
            `lambda x, s: degradations.gaussian_noise(x, 25 / 255, s)`.
        patch_size: side of the square random crops.
        batch_size: patches per batch.
        channels: 1 or 3 (images are converted to it).
        seed: base seed; crop, augmentation and degradation of the i-th patch
            use seeds derived from (seed, i), so a run is reproducible.
        augment: apply one of the 8 flips/rotations to each patch.
        repeat: loop forever (use `steps_per_epoch` with `fit`).
        data_dir: where catalogue sets are looked for first.
        color_augment: 3 channels: also give each patch a random order of
            R, G, B and, half the time, invert it (`random_color_symmetry`).

    Returns:
        A tf.data.Dataset of `(degraded, clean)` or `((degraded, extra), clean)`.
    """
    if patch_size < 8:
        raise ValueError(f"patch_size must be at least 8. Received: patch_size={patch_size}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive. Received: batch_size={batch_size}")
    _, images = load_source(source, channels=channels, min_size=patch_size, data_dir=data_dir)
    dataset, channels = _as_ragged_source(images)
    if color_augment and channels != 3:
        raise ValueError(
            f"color_augment reorders R, G and B: it needs 3-channel images. Received: channels={channels}"
        )
    dataset = dataset.cache()
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.enumerate()
    base_seed = tf.constant(int(seed), tf.int64)

    def make_example(index, image):
        crop_seed = tf.stack([base_seed, 3 * index])
        flip_seed = tf.stack([base_seed, 3 * index + 1])
        noise_seed = tf.stack([base_seed, 3 * index + 2])
        patch = tf.image.stateless_random_crop(image, [patch_size, patch_size, channels], seed=crop_seed)
        if augment:
            patch = random_dihedral(patch, flip_seed)
        if color_augment:  # (its own seed stream, so the crops, flips and noise of other runs stay as they were)
            patch = random_color_symmetry(patch, tf.stack([base_seed + COLOR_SEED_OFFSET, index]))
        degraded = degradation(patch, noise_seed)
        if isinstance(degraded, (tuple, list)):
            return (tuple(degraded), patch)
        return degraded, patch

    dataset = dataset.map(make_example, num_parallel_calls=AUTOTUNE, deterministic=True)
    return dataset.batch(batch_size, drop_remainder=repeat).prefetch(AUTOTUNE)


def evaluation_dataset(source, degradation=None, channels=None, seed=0, data_dir=None):
    """Whole images (any size, batch 1) with a seeded degradation per image.

    Image i is degraded with the seed (seed, i), so every model evaluated with
    the same `seed` sees the same degraded images.

    Args:
        source: catalogue name, folder, or list of paths.
        degradation: as in `restoration_dataset`, or None for clean images.
        channels: None to keep the files' channels, or 1 or 3.
        seed: base seed.
        data_dir: where catalogue sets are looked for first.

    Returns:
        A tf.data.Dataset of `(degraded, clean, path)` where degraded is a
        tensor (or a tuple `(degraded, extra)`) with a batch axis of 1.
    """
    names, images = load_source(source, channels=channels, data_dir=data_dir)
    return evaluation_dataset_from_images(images, names, degradation, seed)


def evaluation_dataset_from_images(images, names, degradation=None, seed=0):
    """`evaluation_dataset` for in-memory images; `names` label each one."""
    def generate():
        for image, name in zip(images, names):
            yield image, name

    channels = images[0].shape[2]
    dataset = tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            tf.TensorSpec((None, None, channels), tf.float32),
            tf.TensorSpec((), tf.string),
        ),
    ).enumerate()
    base_seed = tf.constant(int(seed), tf.int64)

    def make_example(index, image_and_name):
        image, name = image_and_name
        if degradation is None:
            degraded = image
        else:
            degraded = degradation(image, tf.stack([base_seed, index]))
        if isinstance(degraded, (tuple, list)):
            degraded = tuple(tensor[None] for tensor in degraded)
        else:
            degraded = degraded[None]
        return degraded, image[None], name

    return dataset.map(make_example)


def generative_dataset(images, labels=None, batch_size=64, shuffle=True, seed=0):
    """Batches for GAN/VAE training.

    Args:
        images: float32 array (N, H, W, C) in [0, 1].
        labels: optional int array (N,) for class-conditional models.
        batch_size: images per batch.
        shuffle: reshuffle each epoch (seeded).
        seed: shuffle seed.

    Returns:
        A tf.data.Dataset of `images` or `(images, labels)` batches; the last
        partial batch is dropped so every step sees `batch_size` images.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty (N, H, W, C) array. Received: shape={images.shape}"
        )
    if not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1:
        raise ValueError("images must hold finite values in [0, 1]. Received: out-of-range values")
    if batch_size < 1 or batch_size > len(images):
        raise ValueError(
            f"batch_size must be between 1 and the number of images ({len(images)}). "
            f"Received: batch_size={batch_size}"
        )
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"labels must have shape ({len(images)},). Received: labels.shape={labels.shape}"
            )
        dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    else:
        dataset = tf.data.Dataset.from_tensor_slices(images)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            "TFDS datasets need tensorflow-datasets: pip install 'tfimage[tfds]' "
            f"(or tensorflow-datasets importlib_resources). ({error})"
        ) from None
    return tfds


def tfds_dataset(name, split="train", data_dir=None, download=False, image_key="image"):
    """A TFDS dataset as float32 images in [0, 1] (with labels when it has them).

    `download` defaults to False: TFDS retries a failed download for minutes,
    so prepare the dataset once online (`tfds.load(name, download=True)`) and
    read it from `data_dir` afterwards.

    Args:
        name: TFDS name, e.g. "mnist" or "cifar10".
        split: TFDS split.
        data_dir: the TFDS data folder (default: TFDS's own, ~/tensorflow_datasets).
        download: let TFDS download and prepare it.
        image_key: the feature holding the image.

    Returns:
        A tf.data.Dataset of `image` or `(image, label)`.
    """
    tfds = _import_tfds()
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # tfds raises its own DatasetNotFoundError subclasses
        raise ValueError(f"Unknown TFDS dataset ({error}). Received: name={name!r}") from None
    if not download and not builder.is_prepared():
        raise FileNotFoundError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir}. Prepare it once "
            f"online with tfds.load({name!r}, download=True), or pass data_dir= to where it is."
        )
    dataset = tfds.load(name, split=split, data_dir=data_dir, download=download)
    return dataset.map(lambda example: _tfds_example(example, image_key))


def _tfds_example(example, image_key):
    image = tf.image.convert_image_dtype(example[image_key], tf.float32)
    if "label" in example:
        return image, example["label"]
    return image


def tfds_image_folder(root_dir, split="train", shape=None):
    """A `tfds.folder_dataset.ImageFolder` split (root/split/label/image.png) as float images.

    Returns:
        A tf.data.Dataset of `(image, label)`.
    """
    tfds = _import_tfds()
    builder = tfds.folder_dataset.ImageFolder(root_dir, shape=shape)
    dataset = builder.as_dataset(split=split)
    return dataset.map(lambda example: _tfds_example(example, "image"))
