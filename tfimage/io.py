"""Image input and output.

Inside tfimage every image is a float32 NumPy array or tensor in [0, 1], laid
out height x width x channels. This module is the only place that converts
from and to files: it reads PNG, JPEG, BMP and TIFF files of 8 or 16 bits per
channel (gray, RGB or RGBA) and writes PNG files of 8 or 16 bits atomically, so
a failed write never leaves a half-written file behind or replaces a good one.
"""

import os
import tempfile
import warnings

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# ITU-R BT.601 luma weights, the convention of the denoising and SR papers.
BT601_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def is_image_file(path):
    """Whether `path` has one of the image extensions tfimage reads."""
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def _check_decodes(path):
    """Fully decodes `path` with Pillow to catch truncated or corrupt files.

    OpenCV fills the missing part of a truncated JPEG or PNG with gray and
    only prints a warning, so Pillow, which raises, checks the file first.
    """
    try:
        with Image.open(path) as handle:
            handle.load()
    except UnidentifiedImageError:
        raise ValueError(
            f"Not an image file (expected PNG, JPEG, BMP or TIFF). "
            f"Received: path={path}"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ValueError(
            f"The image file is truncated or corrupt ({error}). "
            f"Received: path={path}"
        ) from None


def read_image(path, channels=None):
    """Reads an image file into a float32 array in [0, 1], shape (H, W, C).

    8-bit files are divided by 255 and 16-bit files by 65535. Color files
    come out in RGB order; RGBA keeps its alpha channel unless `channels`
    asks for 1 or 3.

    Args:
        path: path of a PNG, JPEG, BMP or TIFF file.
        channels: None to keep the file's channels (1, 3 or 4), or 1 or 3 to
            convert (see `convert_channels`).

    Returns:
        A float32 NumPy array of shape (height, width, channels).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not an image, is truncated or corrupt, or has
            a pixel format tfimage does not read.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Image file not found. Received: path={path}")
    _check_decodes(path)
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(
            f"OpenCV could not decode the image file. Received: path={path}"
        )
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif image.dtype == np.uint16:
        image = image.astype(np.float32) / 65535.0
    elif image.dtype in (np.float32, np.float64):
        image = image.astype(np.float32)
        if not np.all(np.isfinite(image)) or image.min() < 0 or image.max() > 1:
            raise ValueError(
                "Floating-point images must hold finite values in [0, 1]. "
                f"Received: path={path} with range "
                f"[{np.nanmin(image)}, {np.nanmax(image)}]"
            )
    else:
        raise ValueError(
            f"Unsupported pixel type {image.dtype} (expected 8- or 16-bit "
            f"integers). Received: path={path}"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    elif image.ndim == 3 and image.shape[2] == 3:
        image = image[:, :, ::-1]
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, [2, 1, 0, 3]]
    else:
        raise ValueError(
            f"Unsupported image layout {image.shape} (expected gray, RGB or "
            f"RGBA). Received: path={path}"
        )
    image = np.ascontiguousarray(image)
    if channels is not None:
        image = convert_channels(image, channels, name=path)
    return image


def convert_channels(image, channels, name="image"):
    """Converts an HxWxC float image to 1 (gray) or 3 (RGB) channels.

    RGB becomes gray through the BT.601 luma weights; gray becomes RGB by
    repeating it; RGBA loses its alpha channel (composited on black is *not*
    done: the color values are kept as they are). Each lossy conversion
    issues a warning that names the image.

    Args:
        image: float array of shape (H, W, C) with C in {1, 3, 4}.
        channels: 1 or 3.
        name: what to call the image in warnings and errors.

    Returns:
        A float32 array of shape (H, W, channels).
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3. Received: channels={channels}")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(
            "Expected an image of shape (height, width, 1|3|4). "
            f"Received: {name} with shape={image.shape}"
        )
    have = image.shape[2]
    if have == 4:
        warnings.warn(f"Dropping the alpha channel of {name}.", stacklevel=2)
        image = image[:, :, :3]
        have = 3
    if have == channels:
        return image
    if channels == 1:
        warnings.warn(f"Converting the color image {name} to gray (BT.601).", stacklevel=2)
        return np.tensordot(image, BT601_LUMA, axes=([2], [0]))[:, :, None].astype(np.float32)
    warnings.warn(f"Converting the gray image {name} to RGB.", stacklevel=2)
    return np.repeat(image, 3, axis=2)


def to_uint(image, bit_depth=8):
    """Rounds a float image in [0, 1] to uint8 or uint16 (values are clipped)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16. Received: bit_depth={bit_depth}")
    scale = 255.0 if bit_depth == 8 else 65535.0
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    image = np.asarray(image, dtype=np.float32)
    return np.round(np.clip(image, 0.0, 1.0) * scale).astype(dtype)


def default_file_mode():
    """The permissions a plain `open(path, "w")` would give (0666 less the umask).

    `tempfile.mkstemp` creates 0600 files; atomic writers chmod their
    temporary file to this before renaming it into place.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_image(path, image, bit_depth=8):
    """Writes a float image in [0, 1] as a PNG file, atomically.

    The image is written to a temporary file in the same folder, which is then
    renamed over `path`: readers never see a half-written file, and a failed
    write leaves any existing file untouched.

    Args:
        path: destination path; it must end in `.png`.
        image: float array of shape (H, W), (H, W, 1), (H, W, 3) or
            (H, W, 4) with values in [0, 1] (values outside are clipped).
        bit_depth: 8 or 16 bits per channel.

    Returns:
        The path written.
    """
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"write_image writes PNG files only. Received: path={path}")
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(
            "Expected an image of shape (height, width, 1|3|4). "
            f"Received: shape={image.shape} for path={path}"
        )
    if not np.all(np.isfinite(image)):
        raise ValueError(f"The image holds NaN or infinite values. Received: path={path}")
    pixels = to_uint(image, bit_depth)
    if pixels.shape[2] == 3:
        pixels = pixels[:, :, ::-1]
    elif pixels.shape[2] == 4:
        pixels = pixels[:, :, [2, 1, 0, 3]]
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(pixels))
    if not ok:
        raise ValueError(f"OpenCV could not encode the image. Received: path={path}")
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".png")
    os.chmod(temp_path, default_file_mode())
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(encoded.tobytes())
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise
    return path


def list_images(folder):
    """Sorted paths of the image files directly inside `folder`.

    Raises:
        FileNotFoundError: `folder` does not exist.
        ValueError: `folder` holds no image file.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Image folder not found. Received: folder={folder}")
    paths = sorted(
        os.path.join(folder, name)
        for name in os.listdir(folder)
        if is_image_file(name) and not name.startswith(".")
    )
    if not paths:
        raise ValueError(
            f"The folder holds no image file ({', '.join(IMAGE_EXTENSIONS)}). "
            f"Received: folder={folder}"
        )
    return paths
