"""A small EDSR-style super-resolution network with a bicubic skip.

Reference:
    B. Lim, S. Son, H. Kim, S. Nah, K. M. Lee, "Enhanced Deep Residual
    Networks for Single Image Super-Resolution", CVPRW 2017 (residual blocks
    without batch normalisation, residual scaling, sub-pixel upsampling);
    the global bicubic skip follows VDSR (J. Kim, J. K. Lee, K. M. Lee,
    "Accurate Image Super-Resolution Using Very Deep Convolutional Networks",
    CVPR 2016): the network only predicts the detail bicubic misses, which
    trains much faster from scratch.

Every convolution runs at low resolution, so the cost per output pixel is
`1 / scale**2` of a network working on the upsampled image. Like every
tfimage SR model it maps (batch, h, w, C) to (batch, h * scale, w * scale, C).
"""

import keras

from tfimage.networks.espcn import BicubicUpsample, check_sr_scale
from tfimage.networks.ffdnet import PixelShuffle


def build_edsr(scale, channels=1, filters=48, blocks=8, residual_scale=0.2, name="edsr"):
    """Builds a small EDSR (residual blocks at low resolution, pixel shuffle, bicubic skip).

    Args:
        scale: the upscaling factor, 2, 3 or 4.
        channels: image channels, 1 (luma, the SR papers' setting) or 3.
        filters: width of every convolution (EDSR-baseline: 64).
        blocks: residual blocks (EDSR-baseline: 16).
        residual_scale: each block's output is multiplied by this before the
            addition (EDSR's residual scaling; stabilises training).
        name: the model name.

    Returns:
        A `keras.Model` mapping low-resolution images (batch, h, w, channels)
        in [0, 1] to (batch, h * scale, w * scale, channels).
    """
    scale = check_sr_scale(scale)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3. Received: channels={channels}")
    if int(filters) < 1 or int(blocks) < 0:
        raise ValueError(f"filters must be positive and blocks >= 0. Received: filters={filters}, blocks={blocks}")
    low_res = keras.Input(shape=(None, None, channels), name="low_res")
    head = keras.layers.Conv2D(filters, 3, padding="same", name="head")(low_res)
    x = head
    for index in range(int(blocks)):
        y = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{index + 1}_conv1")(x)
        y = keras.layers.Conv2D(filters, 3, padding="same", name=f"block{index + 1}_conv2")(y)
        y = keras.layers.Rescaling(residual_scale, name=f"block{index + 1}_scale")(y)
        x = keras.layers.Add(name=f"block{index + 1}_add")([x, y])
    x = keras.layers.Conv2D(filters, 3, padding="same", name="body_end")(x)
    x = keras.layers.Add(name="body_skip")([head, x])
    # A zero tail starts the model at plain bicubic upsampling.
    x = keras.layers.Conv2D(channels * scale * scale, 3, padding="same", kernel_initializer="zeros", name="tail")(x)
    detail = PixelShuffle(scale=scale, channel_order="tensorflow", name="shuffle")(x)
    upsampled = BicubicUpsample(scale, name="bicubic")(low_res)
    outputs = keras.layers.Add(name="residual")([upsampled, detail])
    return keras.Model(low_res, outputs, name=name)
