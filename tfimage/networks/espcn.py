"""ESPCN: the efficient sub-pixel super-resolution network of Shi et al.

Reference:
    W. Shi, J. Caballero, F. Huszar, J. Totz, A. P. Aitken, R. Bishop,
    D. Rueckert, Z. Wang, "Real-Time Single Image and Video Super-Resolution
    Using an Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016.

All convolutions run at low resolution; the last one predicts scale**2
values per output channel and a pixel shuffle (depth-to-space) arranges them
into the high-resolution image. Super-resolution models in tfimage all map a
low-resolution image (batch, h, w, C) to the high-resolution one
(batch, h * scale, w * scale, C), so `BicubicUpsample` (used by the U-Net
variant in `tfimage.networks.unet`) also lives here.
"""

import keras
from keras import ops

from tfimage.networks.ffdnet import PixelShuffle

SCALES = (2, 3, 4)


def check_sr_scale(scale):
    """Validates a super-resolution scale (2, 3 or 4) and returns it as an int."""
    if isinstance(scale, bool) or scale not in SCALES:
        raise ValueError(f"scale must be 2, 3 or 4. Received: scale={scale!r}")
    return int(scale)


@keras.saving.register_keras_serializable(package="tfimage")
class BicubicUpsample(keras.layers.Layer):
    """Bicubic upsampling by an integer factor (`tf.image.resize`, bicubic).

    The same resize as `tfimage.degradations.bicubic_upsample`, as a layer.

    Args:
        scale: the upsampling factor, 2, 3 or 4.
    """

    def __init__(self, scale=2, **kwargs):
        super().__init__(**kwargs)
        self.scale = check_sr_scale(scale)

    def call(self, inputs):
        import tensorflow as tf

        size = tf.shape(inputs)[1:3] * self.scale
        return tf.image.resize(ops.cast(inputs, "float32"), size, method="bicubic")

    def compute_output_shape(self, input_shape):
        def up(size):
            return None if size is None else size * self.scale

        return (input_shape[0], up(input_shape[1]), up(input_shape[2]), input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        return config


def build_espcn(scale, channels=3, filters=(64, 32), activation="tanh", name="espcn"):
    """Builds ESPCN (Shi et al. 2016) as a functional Keras model.

    The graph is a 5x5 convolution, 3x3 convolutions for the other widths of
    `filters` (tanh after each, as in the paper), a 3x3 convolution to
    `channels * scale**2` maps and a pixel shuffle.

    Args:
        scale: the upscaling factor, 2, 3 or 4.
        channels: image channels, 1 or 3.
        filters: widths of the hidden layers, (64, 32) in the paper.
        activation: hidden activation ("tanh" in the paper, "relu" trains
            faster).
        name: the model name.

    Returns:
        A `keras.Model` mapping low-resolution images (batch, h, w, channels)
        in [0, 1] to (batch, h * scale, w * scale, channels).
    """
    scale = check_sr_scale(scale)
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3. Received: channels={channels}")
    filters = tuple(int(width) for width in filters)
    if not filters or min(filters) < 1:
        raise ValueError(f"filters must be a non-empty tuple of positive ints. Received: filters={filters}")
    low_res = keras.Input(shape=(None, None, channels), name="low_res")
    x = low_res
    for index, width in enumerate(filters):
        x = keras.layers.Conv2D(
            width, 5 if index == 0 else 3, padding="same", activation=activation, name=f"conv{index + 1}"
        )(x)
    x = keras.layers.Conv2D(channels * scale * scale, 3, padding="same", name=f"conv{len(filters) + 1}")(x)
    outputs = PixelShuffle(scale=scale, channel_order="tensorflow", name="shuffle")(x)
    return keras.Model(low_res, outputs, name=name)
