"""A color denoiser from a gray one: the gray network on each channel of an opponent color space.

Gray-to-color transfer with no new weights: the noisy RGB image is rotated
by an orthonormal opponent transform (luminance, red-blue, green-magenta),
which keeps white Gaussian noise white with the same sigma in every channel;
each channel then goes through the same gray network as a separate image,
and the result is rotated back. Colour BM3D (Dabov et al., "Color image
denoising via sparse 3D collaborative filtering with grouping constraint in
luminance-chrominance space", ICIP 2007) denoises in such a space for the
same reason: the chroma channels are smooth and easy, the luminance carries
the structure. Because the gray network's weights are shared by the three
channels, fine-tuning the color model (e.g. `tfimage train denoise
--opponent-color`) keeps the gray knowledge in one place.

The chroma channels (centred on 0) are shifted by `chroma_offset` into the
[0, 1] range the gray network was trained on, and their noise level can be
scaled by `chroma_noise_factor` (> 1 smooths the chroma more). With
`unit_range=True` (the default for new models) each opponent channel is also
scaled to span [0, 1] exactly, as the gray training images did: luminance
(R + G + B) / 3, chroma (R - B) / 2 and (R - 2G + B) / 4, each with its own,
smaller noise level (sigma / sqrt(3), sigma / sqrt(2), sigma * sqrt(6) / 4).
The orthonormal channels reach 1.73 (luminance) and +-0.82, outside what the
gray network saw, which is why `unit_range=True` is the default.

With `cross_channel=True` each channel's pass also sees the whole noisy
opponent image and which channel it is denoising (`ChannelGuides`), through
extra first-layer inputs that start at zero (`with_guide_inputs`): the model
starts as the per-channel one and fine-tuning lets the chroma passes use the
luminance's edges, as colour BM3D does with its luminance grouping.
"""

import keras
import numpy as np
from keras import ops

OPPONENT = np.array(
    [
        [1 / np.sqrt(3), 1 / np.sqrt(3), 1 / np.sqrt(3)],
        [1 / np.sqrt(2), 0.0, -1 / np.sqrt(2)],
        [1 / np.sqrt(6), -2 / np.sqrt(6), 1 / np.sqrt(6)],
    ],
    np.float32,
)

# Per-channel factors that make the orthonormal channels span [0, 1] (after the chroma offset of 0.5):
# (R + G + B) / 3, (R - B) / 2, (R - 2G + B) / 4.
UNIT_RANGE_SCALES = np.array([1 / np.sqrt(3), 1 / np.sqrt(2), np.sqrt(6) / 4], np.float32)


def channel_scales(unit_range):
    """The per-channel factors on the orthonormal opponent channels: `UNIT_RANGE_SCALES` or ones."""
    return UNIT_RANGE_SCALES if unit_range else np.ones(3, np.float32)


@keras.saving.register_keras_serializable(package="tfimage")
class OpponentColor(keras.layers.Layer):
    """RGB -> opponent space (`inverse=False`) or back, with the chroma channels shifted by `chroma_offset`.

    Args:
        inverse: False: RGB to opponent; True: opponent to RGB.
        chroma_offset: added to the two chroma channels after the forward
            transform (subtracted before the inverse).
        unit_range: scale the channels by `UNIT_RANGE_SCALES` (before the
            offset), so that each spans [0, 1] for RGB in [0, 1].
    """

    def __init__(self, inverse=False, chroma_offset=0.5, unit_range=False, **kwargs):
        super().__init__(**kwargs)
        self.inverse = bool(inverse)
        self.chroma_offset = float(chroma_offset)
        self.unit_range = bool(unit_range)

    def call(self, inputs):
        dtype = inputs.dtype  # the compute dtype under a mixed policy (e.g. bfloat16)
        offset = ops.convert_to_tensor([0.0, self.chroma_offset, self.chroma_offset], dtype)
        scales = channel_scales(self.unit_range)
        if self.inverse:
            return ops.matmul(inputs - offset, ops.convert_to_tensor(OPPONENT / scales[:, None], dtype))
        return ops.matmul(inputs, ops.convert_to_tensor(OPPONENT.T * scales, dtype)) + offset

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(inverse=self.inverse, chroma_offset=self.chroma_offset, unit_range=self.unit_range)
        return config


@keras.saving.register_keras_serializable(package="tfimage")
class ChannelsToBatch(keras.layers.Layer):
    """(B, H, W, C) -> (C * B, H, W, 1), channel-major: every channel becomes a gray image."""

    def call(self, inputs):
        shape = ops.shape(inputs)
        moved = ops.transpose(inputs, (3, 0, 1, 2))
        return ops.reshape(moved, (-1, shape[1], shape[2], 1))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[1], input_shape[2], 1)


@keras.saving.register_keras_serializable(package="tfimage")
class BatchToChannels(keras.layers.Layer):
    """The inverse of `ChannelsToBatch`: (C * B, H, W, 1) -> (B, H, W, C).

    Args:
        channels: C.
    """

    def __init__(self, channels=3, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)

    def call(self, inputs):
        shape = ops.shape(inputs)
        split = ops.reshape(inputs, (self.channels, -1, shape[1], shape[2]))
        return ops.transpose(split, (1, 2, 3, 0))

    def compute_output_shape(self, input_shape):
        return (None, input_shape[1], input_shape[2], self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels)
        return config


@keras.saving.register_keras_serializable(package="tfimage")
class ChannelNoiseLevels(keras.layers.Layer):
    """(B, 1) noise levels -> (C * B, 1) in `ChannelsToBatch` order, channel c scaled by `factors[c]`.

    Args:
        factors: one multiplier per channel.
    """

    def __init__(self, factors=(1.0, 1.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.factors = tuple(float(value) for value in factors)

    def call(self, inputs):
        scaled = [inputs * factor for factor in self.factors]
        return ops.concatenate(scaled, axis=0)

    def compute_output_shape(self, input_shape):
        return (None, 1)

    def get_config(self):
        config = super().get_config()
        config.update(factors=list(self.factors))
        return config


@keras.saving.register_keras_serializable(package="tfimage")
class ChannelGuides(keras.layers.Layer):
    """(B, H, W, C) -> (C * B, H, W, 2C) side information for each `ChannelsToBatch` pass.

    Pass c (rows c * B .. c * B + B - 1) gets the whole C-channel image
    followed by C constant planes, a one-hot code of c.
    """

    def call(self, inputs):
        channels = inputs.shape[-1]
        batch = ops.shape(inputs)[0]
        tiled = ops.tile(inputs, (channels, 1, 1, 1))
        codes = ops.repeat(ops.eye(channels, dtype=inputs.dtype), batch, axis=0)
        planes = ops.ones_like(tiled[..., :1]) * ops.reshape(codes, (-1, 1, 1, channels))
        return ops.concatenate([tiled, planes], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (None, input_shape[1], input_shape[2], None if channels is None else 2 * channels)


def _check_gray_network(gray_network, caller):
    inputs = getattr(gray_network, "inputs", None) or []
    if len(inputs) != 2 or inputs[0].shape[-1] != 1:
        raise ValueError(
            f"{caller} takes a gray network with inputs [image (H, W, 1), noise_level]. "
            f"Received: network={getattr(gray_network, 'name', gray_network)} with inputs "
            f"{[tuple(tensor.shape) for tensor in inputs]}"
        )


def with_guide_inputs(gray_network, guide_channels):
    """A copy of a gray FFDNet-style network with a `guide` input whose first-layer weights start at zero.

    The new network (`build_ffdnet(..., guide_channels=guide_channels)`) takes
    `[image, noise_level, guide]` and, until its guide weights are trained,
    returns exactly what `gray_network` returns for `[image, noise_level]`.

    Args:
        gray_network: a 1-channel network from `build_ffdnet` (residual or not).
        guide_channels: channels of the guide input.

    Returns:
        The new `keras.Model`.
    """
    from tfimage.networks.ffdnet import build_ffdnet, ffdnet_layout

    _check_gray_network(gray_network, "with_guide_inputs")
    convs, settings = ffdnet_layout(gray_network)
    guided = build_ffdnet(channels=1, guide_channels=guide_channels, name=gray_network.name + "_guided", **settings)
    guided_convs = ffdnet_layout(guided)[0]
    kernel, bias = convs[0].get_weights()
    wide = np.zeros(guided_convs[0].kernel.shape, np.float32)
    wide[:, :, :4, :] = kernel[:, :, :4, :]  # the image's 4 sub-images
    wide[:, :, -1:, :] = kernel[:, :, 4:, :]  # the noise map; the guide's sub-images in between start at 0
    guided_convs[0].set_weights([wide, bias])
    for target, origin in zip(guided_convs[1:], convs[1:]):
        target.set_weights(origin.get_weights())
    return guided


def build_opponent_color(
    gray_network, chroma_offset=0.5, chroma_noise_factor=1.0, unit_range=True, cross_channel=False, name=None
):
    """A color denoiser that runs a gray FFDNet-style network on each opponent channel.

    Args:
        gray_network: a 1-channel network taking `[image, noise_level]`
            (e.g. `build_ffdnet(channels=1)` or `tfimage-gray-blind`). It is
            used as it is (shared, trainable), not copied.
        chroma_offset: shift of the chroma channels into [0, 1].
        chroma_noise_factor: the chroma channels are denoised at this multiple
            of their noise level (1.0 suits `unit_range`; the orthonormal
            layout works better with about 1.5).
        unit_range: scale every opponent channel to span [0, 1]
            (`OpponentColor(unit_range=True)`), with the noise levels scaled
            the same way; False keeps the orthonormal channels (luminance up
            to 1.73).
        cross_channel: each pass also sees the whole noisy opponent image and
            its channel's one-hot code (`ChannelGuides`), through a copy of
            `gray_network` whose extra first-layer weights start at zero
            (`with_guide_inputs`); a network that already has a 6-channel
            `guide` input is used as it is.
        name: the model name (default: the gray network's + "_opponent").

    Returns:
        A `keras.Model` taking `[image (B, H, W, 3), noise_level (B, 1)]` in
        [0, 1] units and returning the denoised (B, H, W, 3) image.
    """
    inputs = getattr(gray_network, "inputs", None) or []
    guided = cross_channel and len(inputs) == 3 and inputs[2].shape[-1] == 6
    if not guided:
        _check_gray_network(gray_network, "build_opponent_color")
    image = keras.Input(shape=(None, None, 3), name="noisy")
    noise_level = keras.Input(shape=(1,), name="noise_level")
    opponent = OpponentColor(chroma_offset=chroma_offset, unit_range=unit_range, name="to_opponent")(image)
    gray_batch = ChannelsToBatch(name="channels_to_batch")(opponent)
    factors = channel_scales(unit_range) * np.array([1.0, chroma_noise_factor, chroma_noise_factor], np.float32)
    levels = ChannelNoiseLevels(factors=factors, name="channel_levels")(noise_level)
    if cross_channel:
        if not guided:
            gray_network = with_guide_inputs(gray_network, guide_channels=6)
        guides = ChannelGuides(name="channel_guides")(opponent)
        denoised = gray_network([gray_batch, levels, guides])
    else:
        denoised = gray_network([gray_batch, levels])
    color = BatchToChannels(3, name="batch_to_channels")(denoised)
    output = OpponentColor(inverse=True, chroma_offset=chroma_offset, unit_range=unit_range, name="to_rgb")(color)
    return keras.Model([image, noise_level], output, name=name or f"{gray_network.name}_opponent")
