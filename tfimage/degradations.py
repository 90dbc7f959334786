"""Degradations: pure, seedable functions that turn a clean image into a degraded one.

Like deepinv's `physics`, degradations know nothing of models: training
pipelines and the evaluation harness call the same functions, so a model is
trained and scored on the same corruption. Every random degradation takes an
explicit `seed` (an int or a pair of ints) and uses TensorFlow's stateless
random ops (Philox), so the same seed gives the same degraded image on every
run and machine.

Conventions: images are float32 in [0, 1], shaped (H, W, C) or (N, H, W, C);
noise levels are standard deviations in the same [0, 1] units (sigma / 255).
"""

import math

import numpy as np
import tensorflow as tf

# Noise levels above this are almost surely given in 0-255 units by mistake.
MAX_NOISE_STDDEV = 1.0


def _seed_pair(seed, name="seed"):
    """Turns an int or a pair of ints into the int32 [2] seed stateless ops take."""
    if isinstance(seed, (int, np.integer)):
        return tf.constant([int(seed), 0], dtype=tf.int64)
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank != 1 or seed.shape[0] != 2:
        raise ValueError(f"{name} must be an int or a pair of ints. Received: {name}={seed}")
    return tf.cast(seed, tf.int64)


def _as_image(image, name="image"):
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.float32:
        image = tf.cast(image, tf.float32)
    if image.shape.rank not in (3, 4):
        raise ValueError(
            f"Expected an image (H, W, C) or a batch (N, H, W, C). Received: {name} with "
            f"shape={image.shape}"
        )
    return image


def check_noise_stddev(noise_stddev, name="noise_stddev"):
    """Validates a noise level given in [0, 1] image units (sigma / 255)."""
    value = float(noise_stddev)
    if not math.isfinite(value) or value < 0 or value > MAX_NOISE_STDDEV:
        raise ValueError(
            f"{name} is a standard deviation in [0, 1] image units (sigma / 255, e.g. "
            f"25 / 255 = 0.098). Received: {name}={noise_stddev}"
        )
    return value


def sigma_to_stddev(sigma):
    """Converts a noise level in 0-255 pixel units (as papers quote it) to [0, 1] units.

    Raises:
        ValueError: sigma is negative, above 255 or not finite.
    """
    value = float(sigma)
    if not math.isfinite(value) or value < 0 or value > 255:
        raise ValueError(f"sigma is in 0-255 pixel units, between 0 and 255. Received: sigma={sigma}")
    return value / 255.0


def gaussian_noise(image, noise_stddev, seed, clip=False):
    """Adds white Gaussian noise of a fixed standard deviation.

    The denoising papers (DnCNN, FFDNet, BM3D) add noise to the [0, 1] image
    without clipping; pass `clip=True` to clip to [0, 1] as a camera would.

    Args:
        image: float image (H, W, C) or batch (N, H, W, C) in [0, 1].
        noise_stddev: standard deviation in [0, 1] units (sigma / 255).
        seed: int or pair of ints.
        clip: clip the result to [0, 1].

    Returns:
        The noisy image, float32, same shape.
    """
    image = _as_image(image)
    noise_stddev = check_noise_stddev(noise_stddev)
    noise = tf.random.stateless_normal(tf.shape(image), seed=_seed_pair(seed), dtype=tf.float32)
    noisy = image + noise_stddev * noise
    return tf.clip_by_value(noisy, 0.0, 1.0) if clip else noisy


def random_gaussian_noise(image, noise_stddev_range, seed, clip=False):
    """Adds Gaussian noise whose level is drawn uniformly per image from a range.

    Used to train blind and noise-level-map denoisers (DnCNN-B, FFDNet).

    Args:
        image: float image (H, W, C) or batch (N, H, W, C) in [0, 1].
        noise_stddev_range: (low, high) in [0, 1] units, e.g. (0, 55 / 255).
        seed: int or pair of ints.
        clip: clip the result to [0, 1].

    Returns:
        (noisy, noise_stddev): the noisy image and the level drawn for each
        image, shape (1,) for one image or (N, 1) for a batch.
    """
    image = _as_image(image)
    low, high = noise_stddev_range
    low = check_noise_stddev(low, "noise_stddev_range[0]")
    high = check_noise_stddev(high, "noise_stddev_range[1]")
    if high < low:
        raise ValueError(
            f"noise_stddev_range must be (low, high) with low <= high. "
            f"Received: noise_stddev_range={noise_stddev_range}"
        )
    seed = _seed_pair(seed)
    batched = image.shape.rank == 4
    level_shape = [tf.shape(image)[0], 1] if batched else [1]
    level = tf.random.stateless_uniform(level_shape, seed=seed, minval=low, maxval=high)
    noise = tf.random.stateless_normal(tf.shape(image), seed=seed + [0, 1], dtype=tf.float32)
    scale = level[:, :, None, None] if batched else level[None, None, :]
    noisy = image + scale * noise
    if clip:
        noisy = tf.clip_by_value(noisy, 0.0, 1.0)
    return noisy, level


def poisson_noise(image, peak, seed):
    """Poisson (shot) noise: counts drawn with mean `image * peak`, divided by `peak`.

    Args:
        image: float image or batch in [0, 1].
        peak: photons at full intensity (lower is noisier), > 0.
        seed: int or pair of ints.

    Returns:
        The noisy image, float32, same shape.
    """
    image = _as_image(image)
    peak = float(peak)
    if not math.isfinite(peak) or peak <= 0:
        raise ValueError(f"peak must be a positive number of photons. Received: peak={peak}")
    counts = tf.random.stateless_poisson(
        tf.shape(image), seed=_seed_pair(seed), lam=tf.maximum(image, 0.0) * peak, dtype=tf.float32
    )
    return counts / peak


def gaussian_kernel(kernel_stddev, kernel_size=None):
    """A normalised 2-D Gaussian kernel (NumPy), size 2 * ceil(3 * stddev) + 1 by default."""
    kernel_stddev = float(kernel_stddev)
    if not math.isfinite(kernel_stddev) or kernel_stddev <= 0:
        raise ValueError(f"kernel_stddev must be positive. Received: kernel_stddev={kernel_stddev}")
    if kernel_size is None:
        kernel_size = 2 * math.ceil(3 * kernel_stddev) + 1
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd int. Received: kernel_size={kernel_size}")
    radius = kernel_size // 2
    axis = np.arange(-radius, radius + 1, dtype=np.float64)
    line = np.exp(-(axis**2) / (2 * kernel_stddev**2))
    kernel = np.outer(line, line)
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_blur(image, kernel_stddev, kernel_size=None):
    """Blurs with a Gaussian kernel, reflecting the image at its borders.

    Args:
        image: float image (H, W, C) or batch (N, H, W, C).
        kernel_stddev: the kernel's standard deviation in pixels.
        kernel_size: odd kernel size; default 2 * ceil(3 * stddev) + 1.

    Returns:
        The blurred image, float32, same shape.
    """
    image = _as_image(image)
    kernel = gaussian_kernel(kernel_stddev, kernel_size)
    batched = image.shape.rank == 4
    batch = image if batched else image[None]
    channels = batch.shape[-1]
    radius = kernel.shape[0] // 2
    padded = tf.pad(batch, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    filters = tf.tile(tf.constant(kernel)[:, :, None, None], [1, 1, channels, 1])
    blurred = tf.nn.depthwise_conv2d(padded, filters, strides=[1, 1, 1, 1], padding="VALID")
    return blurred if batched else blurred[0]


def check_scale(scale):
    """Validates a super-resolution scale factor (2, 3 or 4)."""
    if scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4. Received: scale={scale}")
    return int(scale)


def crop_to_multiple(image, scale):
    """Crops the bottom/right edge so height and width are multiples of `scale`."""
    image = _as_image(image)
    height = (tf.shape(image)[-3] // scale) * scale
    width = (tf.shape(image)[-2] // scale) * scale
    return image[..., :height, :width, :]


def bicubic_downsample(image, scale):
    """Bicubic downsampling by 2, 3 or 4 with antialiasing (the SR papers' degradation).

    The image is first cropped so its size is a multiple of `scale`. This
    uses TensorFlow's antialiased bicubic kernel, which is close to, but not
    bit-identical with, MATLAB's `imresize`.

    Args:
        image: float image (H, W, C) or batch (N, H, W, C) in [0, 1].
        scale: 2, 3 or 4.

    Returns:
        The low-resolution image, (H // scale, W // scale, C).
    """
    scale = check_scale(scale)
    image = crop_to_multiple(image, scale)
    size = tf.shape(image)[-3:-1] // scale
    return tf.image.resize(image, size, method="bicubic", antialias=True)


def bicubic_upsample(image, scale):
    """Bicubic upsampling by 2, 3 or 4 (the SR baseline and the input of VDSR-style nets)."""
    scale = check_scale(scale)
    image = _as_image(image)
    size = tf.shape(image)[-3:-1] * scale
    return tf.image.resize(image, size, method="bicubic")


def jpeg_compress(image, quality):
    """Encodes to JPEG at `quality` (1-100) and decodes again.

    Args:
        image: float image (H, W, C) with C in {1, 3}, in [0, 1].
        quality: JPEG quality, 1 to 100.

    Returns:
        The decoded float32 image, same shape.
    """
    image = _as_image(image)
    if image.shape.rank != 3:
        raise ValueError(f"jpeg_compress takes one image (H, W, C). Received: shape={image.shape}")
    quality = int(quality)
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be between 1 and 100. Received: quality={quality}")
    pixels = tf.image.convert_image_dtype(tf.clip_by_value(image, 0.0, 1.0), tf.uint8, saturate=True)
    encoded = tf.io.encode_jpeg(pixels, quality=quality)
    # The accurate IDCT, as Pillow and MATLAB decode (TensorFlow defaults to the fast integer one).
    decoded = tf.io.decode_jpeg(encoded, channels=image.shape[-1], dct_method="INTEGER_ACCURATE")
    return tf.image.convert_image_dtype(decoded, tf.float32)


def random_mask(height, width, hole_ratio, seed, kind="strokes", shape_scale=None):
    """A random inpainting mask with the requested fraction of missing pixels.

    Free-form masks are drawn as thick random strokes (in the style of
    Yu et al., "Free-Form Image Inpainting with Gated Convolution", ICCV 2019),
    box masks as random rectangles. Shapes are added piece by piece until the
    hole ratio is reached and the last piece is trimmed to land on it. The
    mask is built with NumPy's PCG64 generator seeded from `seed`, which gives
    the same mask on every machine.

    Args:
        height: mask height in pixels.
        width: mask width in pixels.
        hole_ratio: fraction of missing pixels, in (0, 0.9].
        seed: int.
        kind: "strokes" (free-form) or "boxes".
        shape_scale: the image size in pixels that sets the stroke thickness
            and length (or box size): default `min(height, width)`, so a
            whole image gets strokes 1/40 to 1/12 of its size. Training on
            patches of large images passes the images' size here, so that
            a 96x96 patch sees holes as wide as a 321x481 photo's.

    Returns:
        A float32 NumPy array (height, width, 1): 1 marks a missing pixel.
    """
    if kind not in ("strokes", "boxes"):
        raise ValueError(f"kind must be 'strokes' or 'boxes'. Received: kind={kind!r}")
    hole_ratio = float(hole_ratio)
    if not 0 < hole_ratio <= 0.9:
        raise ValueError(f"hole_ratio must be in (0, 0.9]. Received: hole_ratio={hole_ratio}")
    if height < 8 or width < 8:
        raise ValueError(f"The mask must be at least 8x8. Received: height={height}, width={width}")
    import cv2

    if shape_scale is not None and not shape_scale >= 8:
        raise ValueError(f"shape_scale must be at least 8 pixels. Received: shape_scale={shape_scale}")
    rng = np.random.default_rng(seed)
    mask = np.zeros((height, width), np.uint8)
    target = int(math.ceil(hole_ratio * height * width))
    size = int(shape_scale) if shape_scale is not None else min(height, width)
    while mask.sum() < target:
        before = mask.copy()
        if kind == "boxes":
            box_h = min(height, int(rng.integers(max(2, size // 16), max(3, size // 4))))
            box_w = min(width, int(rng.integers(max(2, size // 16), max(3, size // 4))))
            top = int(rng.integers(0, height - box_h + 1))
            left = int(rng.integers(0, width - box_w + 1))
            mask[top : top + box_h, left : left + box_w] = 1
        else:
            thickness = int(rng.integers(max(1, size // 40), max(2, size // 12) + 1))
            point = np.array([rng.integers(0, width), rng.integers(0, height)], dtype=np.float64)
            angle = rng.uniform(0, 2 * np.pi)
            for _ in range(int(rng.integers(4, 12))):
                angle += rng.uniform(-np.pi / 3, np.pi / 3)
                step = rng.uniform(size / 32, size / 10)
                end = np.clip(point + step * np.array([np.cos(angle), np.sin(angle)]), 0, [width - 1, height - 1])
                cv2.line(mask, tuple(int(v) for v in point), tuple(int(v) for v in end), 1, thickness)
                point = end
                if mask.sum() >= target:
                    break
        excess = int(mask.sum()) - target
        if excess > 0:  # trim the tail of the last piece, in raster order, to land on the target
            added = np.flatnonzero(mask.ravel() & ~before.ravel())
            mask.ravel()[added[-excess:]] = 0
    return mask.astype(np.float32)[:, :, None]


def apply_mask(image, mask):
    """Blanks the missing pixels (mask == 1) of an image: the inpainting degradation."""
    image = _as_image(image)
    mask = tf.convert_to_tensor(mask, tf.float32)
    return image * (1.0 - mask)
