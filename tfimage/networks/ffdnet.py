"""FFDNet: the fast and flexible denoiser of Zhang, Zuo and Zhang.

Reference:
    K. Zhang, W. Zuo, L. Zhang, "FFDNet: Toward a Fast and Flexible Solution
    for CNN-Based Image Denoising", IEEE TIP 27(9), 2018.

The image is pixel-unshuffled into four half-resolution sub-images per
channel, a constant noise-level map is appended, a plain convolution stack
denoises the sub-images and a pixel shuffle puts them back together. The
model outputs the clean image (no residual connection) and takes the noise
level as a second input, so one network covers a range of noise levels.

The custom layers below are registered Keras serializables (no Lambda
layers), so models built here survive a `.keras` save and load.
"""

import keras
from keras import ops

_CHANNEL_ORDERS = ("matconvnet", "tensorflow")


def _check_channel_order(channel_order):
    if channel_order not in _CHANNEL_ORDERS:
        raise ValueError(
            f"channel_order must be one of {_CHANNEL_ORDERS}. "
            f"Received: channel_order={channel_order!r}"
        )


def _check_scale(scale):
    if int(scale) != scale or int(scale) < 1:
        raise ValueError(f"scale must be a positive integer. Received: scale={scale}")
    return int(scale)


@keras.saving.register_keras_serializable(package="tfimage")
class PadToMultiple(keras.layers.Layer):
    """Pads the bottom and right of an image so its size divides `multiple`.

    The padding mirrors the image (TensorFlow's SYMMETRIC mode); for FFDNet's
    one-pixel pad of an odd size this repeats the last row or column, as the
    authors' MATLAB code does. `CropToReference` undoes it.

    Args:
        multiple: the height and width become multiples of this.
    """

    def __init__(self, multiple=2, **kwargs):
        super().__init__(**kwargs)
        self.multiple = _check_scale(multiple)

    def call(self, inputs):
        import tensorflow as tf

        shape = tf.shape(inputs)
        pad_h = (-shape[1]) % self.multiple
        pad_w = (-shape[2]) % self.multiple
        paddings = [[0, 0], [0, pad_h], [0, pad_w], [0, 0]]
        return tf.pad(inputs, paddings, mode="SYMMETRIC")

    def compute_output_shape(self, input_shape):
        def padded(size):
            return None if size is None else -(-size // self.multiple) * self.multiple

        return (input_shape[0], padded(input_shape[1]), padded(input_shape[2]), input_shape[3])

    def get_config(self):
        config = super().get_config()
        config.update({"multiple": self.multiple})
        return config


@keras.saving.register_keras_serializable(package="tfimage")
class PixelUnshuffle(keras.layers.Layer):
    """Space-to-depth: (B, H, W, C) -> (B, H/s, W/s, C*s*s).

    With `channel_order="matconvnet"` (MatConvNet's `vl_nnSubP`, used by the
    FFDNet weights) output channel `c*s*s + i` holds the pixels at row offset
    `i % s` and column offset `i // s` of input channel `c`. With
    `"tensorflow"` the order is that of `tf.nn.space_to_depth`,
    `(row_offset*s + col_offset)*C + c`. The height and width must be
    multiples of `scale` (see `PadToMultiple`).

    Args:
        scale: the downsampling factor s.
        channel_order: "matconvnet" or "tensorflow".
    """

    def __init__(self, scale=2, channel_order="matconvnet", **kwargs):
        super().__init__(**kwargs)
        self.scale = _check_scale(scale)
        _check_channel_order(channel_order)
        self.channel_order = channel_order

    def call(self, inputs):
        s = self.scale
        channels = inputs.shape[-1]
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        # (B, h, r, w, c_off, C) where r and c_off are the row/column offsets.
        x = ops.reshape(inputs, (batch, height // s, s, width // s, s, channels))
        if self.channel_order == "matconvnet":
            x = ops.transpose(x, (0, 1, 3, 5, 4, 2))  # (B, h, w, C, col, row)
        else:
            x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (B, h, w, row, col, C)
        return ops.reshape(x, (batch, height // s, width // s, channels * s * s))

    def compute_output_shape(self, input_shape):
        s = self.scale

        def down(size):
            return None if size is None else size // s

        return (input_shape[0], down(input_shape[1]), down(input_shape[2]), input_shape[3] * s * s)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "channel_order": self.channel_order})
        return config


@keras.saving.register_keras_serializable(package="tfimage")
class PixelShuffle(keras.layers.Layer):
    """Depth-to-space, the exact inverse of `PixelUnshuffle` with the same order.

    (B, h, w, C*s*s) -> (B, h*s, w*s, C).

    Args:
        scale: the upsampling factor s.
        channel_order: "matconvnet" or "tensorflow" (see `PixelUnshuffle`).
    """

    def __init__(self, scale=2, channel_order="matconvnet", **kwargs):
        super().__init__(**kwargs)
        self.scale = _check_scale(scale)
        _check_channel_order(channel_order)
        self.channel_order = channel_order

    def _out_channels(self, in_channels):
        if in_channels % (self.scale * self.scale):
            raise ValueError(
                f"The channels must be a multiple of scale**2 = {self.scale ** 2}. "
                f"Received: channels={in_channels}"
            )
        return in_channels // (self.scale * self.scale)

    def call(self, inputs):
        s = self.scale
        channels = self._out_channels(inputs.shape[-1])
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        if self.channel_order == "matconvnet":
            x = ops.reshape(inputs, (batch, height, width, channels, s, s))  # col, row
            x = ops.transpose(x, (0, 1, 5, 2, 4, 3))  # (B, h, row, w, col, C)
        else:
            x = ops.reshape(inputs, (batch, height, width, s, s, channels))  # row, col
            x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        return ops.reshape(x, (batch, height * s, width * s, channels))

    def compute_output_shape(self, input_shape):
        s = self.scale

        def up(size):
            return None if size is None else size * s

        return (
            input_shape[0],
            up(input_shape[1]),
            up(input_shape[2]),
            self._out_channels(input_shape[3]),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale, "channel_order": self.channel_order})
        return config


@keras.saving.register_keras_serializable(package="tfimage")
class ConcatNoiseLevelMap(keras.layers.Layer):
    """Appends a constant noise-level plane to a feature map.

    Called on `[features, noise_level]` with features (B, H, W, C) and
    noise_level (B, 1) (or (B,)): each image gets a plane filled with its own
    noise level as channel C (the last one, as in FFDNet's MatConvNet model).
    """

    def call(self, inputs):
        features, noise_level = inputs
        noise_level = ops.cast(noise_level, features.dtype)
        noise_level = ops.reshape(noise_level, (-1, 1, 1, 1))
        plane = ops.ones_like(features[..., :1]) * noise_level
        return ops.concatenate([features, plane], axis=-1)

    def compute_output_shape(self, input_shape):
        features_shape = input_shape[0]
        channels = None if features_shape[-1] is None else features_shape[-1] + 1
        return tuple(features_shape[:-1]) + (channels,)


@keras.saving.register_keras_serializable(package="tfimage")
class CropToReference(keras.layers.Layer):
    """Crops `[image, reference]` to the reference's height and width (top-left)."""

    def call(self, inputs):
        image, reference = inputs
        shape = ops.shape(reference)
        return image[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape):
        image_shape, reference_shape = input_shape
        return (image_shape[0], reference_shape[1], reference_shape[2], image_shape[3])


def build_ffdnet(channels=1, depth=15, filters=64, residual=False, guide_channels=0, name="ffdnet"):
    """Builds an FFDNet denoiser as a functional Keras model.

    The graph is: pad odd sizes to even, pixel-unshuffle by 2 (MatConvNet
    channel order), append the noise-level map, `depth` 3x3 convolutions
    with a ReLU after each but the last, pixel-shuffle back and crop to the
    input size. The official models use depth 15 / 64 filters (gray) and
    depth 12 / 96 filters (color).

    Args:
        channels: image channels, 1 (gray) or 3 (color).
        depth: number of convolution layers, at least 2.
        filters: feature channels of the hidden layers.
        residual: add the input image to the output, so the convolutions
            predict the negative noise (residual learning, as in DnCNN). The
            official models are not residual; residual ones train faster
            from scratch.
        guide_channels: if positive, a third input `guide` (batch, H, W,
            guide_channels) of side information the network sees but does
            not denoise (e.g. the other color channels); it is
            pixel-unshuffled like the image and its sub-images follow the
            image's in the first convolution's input, before the noise map.
        name: the model name.

    Returns:
        A `keras.Model` with two inputs, the noisy image (batch, H, W,
        channels) in [0, 1] and the noise level (batch, 1) as sigma / 255
        (i.e. in [0, 1] units), and one output, the denoised image of the
        input's shape. Any height and width, odd ones included, work.
    """
    if int(depth) < 2:
        raise ValueError(f"depth must be at least 2. Received: depth={depth}")
    if int(filters) < 1:
        raise ValueError(f"filters must be positive. Received: filters={filters}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3. Received: channels={channels}")
    if int(guide_channels) < 0:
        raise ValueError(f"guide_channels must be 0 or more. Received: guide_channels={guide_channels}")
    depth, filters, guide_channels = int(depth), int(filters), int(guide_channels)

    image = keras.Input(shape=(None, None, channels), name="noisy")
    noise_level = keras.Input(shape=(1,), name="noise_level")
    x = PadToMultiple(multiple=2, name="pad")(image)
    x = PixelUnshuffle(scale=2, channel_order="matconvnet", name="unshuffle")(x)
    inputs = [image, noise_level]
    if guide_channels:
        guide = keras.Input(shape=(None, None, guide_channels), name="guide")
        inputs.append(guide)
        guide_x = PadToMultiple(multiple=2, name="guide_pad")(guide)
        guide_x = PixelUnshuffle(scale=2, channel_order="matconvnet", name="guide_unshuffle")(guide_x)
        x = keras.layers.Concatenate(name="with_guide")([x, guide_x])
    x = ConcatNoiseLevelMap(name="noise_map")([x, noise_level])
    for index in range(1, depth):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=True, name=f"conv{index}"
        )(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
    x = keras.layers.Conv2D(
        4 * channels, 3, padding="same", use_bias=True, name=f"conv{depth}"
    )(x)
    x = PixelShuffle(scale=2, channel_order="matconvnet", name="shuffle")(x)
    outputs = CropToReference(name="clean" if not residual else "restored")([x, image])
    if residual:
        outputs = keras.layers.Add(name="clean")([image, outputs])
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def conv_layers(model):
    """The Conv2D layers of a (possibly nested) model, in order."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(conv_layers(layer))
    return found


def ffdnet_layout(network):
    """The convolutions of an FFDNet-style network and the `build_ffdnet` settings that rebuild it.

    Used by the transfers that rebuild a gray network with a wider first
    layer (`tfimage.transfer.widen_to_color`,
    `tfimage.networks.opponent.with_guide_inputs`) and then copy its weights.

    Args:
        network: a model from `build_ffdnet` (nested models are searched too).

    Returns:
        `(convs, settings)`: its Conv2D layers in order, and a dict with
        "depth", "filters" and "residual".
    """
    convs = conv_layers(network)
    residual = any(isinstance(layer, keras.layers.Add) for layer in network.layers)
    return convs, {"depth": len(convs), "filters": convs[0].filters, "residual": residual}
