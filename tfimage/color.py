"""BT.601 YCbCr in the MATLAB `rgb2ycbcr` convention (studio range), for float images in [0, 1].

Y lies in [16/255, 235/255] and Cb, Cr in [16/255, 240/255]: the colour
space in which the SR literature (SRCNN, VDSR, ESPCN) measures PSNR and in
which a luma-only (1-channel) model restores a color image: the model sees
Y, and the chroma channels take the classical path (bicubic upsampling).
`tfimage.metrics.rgb_to_y` is the Y row of the same matrix.
"""

import numpy as np

_MATRIX = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], np.float64
) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0
_INVERSE = np.linalg.inv(_MATRIX)


def rgb_to_ycbcr(image):
    """RGB (..., 3) in [0, 1] to YCbCr (..., 3), float32."""
    image = np.asarray(image, np.float64)
    if image.shape[-1] != 3:
        raise ValueError(f"rgb_to_ycbcr needs an RGB image (..., 3). Received: image with shape={image.shape}")
    return (image @ _MATRIX.T + _OFFSET).astype(np.float32)


def ycbcr_to_rgb(image):
    """YCbCr (..., 3) to RGB (..., 3), float32 (not clipped)."""
    image = np.asarray(image, np.float64)
    if image.shape[-1] != 3:
        raise ValueError(f"ycbcr_to_rgb needs a YCbCr image (..., 3). Received: image with shape={image.shape}")
    return ((image - _OFFSET) @ _INVERSE.T).astype(np.float32)


def luma_8bit(image):
    """The Y of MATLAB's `rgb2ycbcr` on the 8-bit RGB image, rounded to 8 bits, as float32 (H, W, 1) in [0, 1].

    `image` is RGB (H, W, 3) in [0, 1] (rounded to 8 bits first) or gray
    (H, W) / (H, W, 1), which is taken as Y (rounded to 8 bits). This is the test label
    of the JPEG deblocking literature (DnCNN-3's `rgb2ycbcr(uint8 RGB)(:,:,1)`):
    Y = round(16 + (65.481 R + 128.553 G + 24.966 B) / 255) with R, G, B in 0-255.
    """
    image = np.asarray(image, np.float64)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3):
        raise ValueError(f"luma_8bit needs a gray or RGB image (H, W, 1|3). Received: image with shape={image.shape}")
    image = np.clip(image, 0.0, 1.0)
    if image.shape[-1] == 3:
        luma = (np.round(image * 255.0) / 255.0) @ _MATRIX[0] + _OFFSET[0]
        image = luma[:, :, None]
    return (np.round(image * 255.0) / 255.0).astype(np.float32)


def on_luma(function, image, chroma=None):
    """`function` applied to the Y channel of an RGB image; float32 RGB (not clipped).

    How a gray (1-channel) model restores a color image: `function` maps the
    (H, W, 1) Y image to its restored Y image, and Cb and Cr are kept
    (`chroma=None`) or mapped by `chroma` to the output's size (e.g. bicubic
    upsampling for super-resolution, SRCNN/VDSR's setting).
    """
    ycbcr = rgb_to_ycbcr(image)
    luma = np.asarray(function(np.ascontiguousarray(ycbcr[:, :, :1])), dtype=np.float32)
    cbcr = ycbcr[:, :, 1:] if chroma is None else np.asarray(chroma(ycbcr[:, :, 1:]), dtype=np.float32)
    if luma.shape[:2] != cbcr.shape[:2]:
        raise ValueError(f"on_luma: the Y output is {luma.shape[:2]}, Cb/Cr {cbcr.shape[:2]}. Received: image {image.shape}")
    return ycbcr_to_rgb(np.concatenate([luma, cbcr], axis=-1))
