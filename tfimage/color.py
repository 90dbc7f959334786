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
