"""U-Net: an encoder-decoder with skip connections, plain or on a pretrained backbone.

Reference:
    O. Ronneberger, P. Fischer, T. Brox, "U-Net: Convolutional Networks for
    Biomedical Image Segmentation", MICCAI 2015.

The encoder is either plain convolution blocks (two 3x3 convolutions + ReLU,
then 2x2 max pooling, as in the paper) or a Keras Applications backbone from
`tfimage.backbones` whose layers at strides 2, 4, 8, ... serve as skips
(transfer learning: ImageNet weights, a local weights file, or random). The
decoder upsamples by 2 (bilinear), concatenates the skip of that scale and
applies a convolution block. Images of any size work: the input is padded
(mirrored) to a multiple of the total stride and the output cropped back, with
the registered layers of `tfimage.networks.ffdnet`, so models survive a
`.keras` save and load.

Extra inputs (the inpainting mask) are a second model input of
`extra_inputs` channels, concatenated to the image at full resolution (and,
for backbone encoders, whose pretrained stem only takes RGB, also
average-pooled into every decoder level).
"""

import keras
import numpy as np

from tfimage.networks.espcn import BicubicUpsample, check_sr_scale
from tfimage.networks.ffdnet import CropToReference, PadToMultiple

MAX_BACKBONE_LEVELS = 5


def _conv_block(x, width, prefix):
    for index in (1, 2):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"{prefix}_conv{index}")(x)
    return x


def _check_filters(filters, encoder):
    try:
        filters = tuple(int(width) for width in filters)
    except TypeError:
        raise ValueError(f"filters must be a tuple of ints. Received: filters={filters!r}") from None
    if not filters or min(filters) < 1:
        raise ValueError(f"filters must be positive ints. Received: filters={filters}")
    if encoder is None and len(filters) < 2:
        raise ValueError(f"A plain U-Net needs at least 2 levels. Received: filters={filters}")
    if encoder is not None and len(filters) > MAX_BACKBONE_LEVELS:
        raise ValueError(
            f"A backbone encoder gives at most {MAX_BACKBONE_LEVELS} levels (stride 32). "
            f"Received: filters={filters}"
        )
    return filters


def total_stride(encoder, filters):
    """The factor input sizes are padded to: 2**(levels - 1) plain, 2**levels with a backbone."""
    levels = len(filters)
    return 2 ** (levels - 1) if encoder is None else 2**levels


def required_multiple(model):
    """The largest `PadToMultiple` factor in a model (its smallest input size), 1 if none."""
    multiple = 1
    for layer in model.layers:
        if isinstance(layer, PadToMultiple):
            multiple = max(multiple, layer.multiple)
        elif isinstance(layer, keras.Model):
            multiple = max(multiple, required_multiple(layer))
    return multiple


def _unet_graph(image, extra, channels, encoder, filters, output_channels, weights, encoder_trainable):
    """The U-Net from an image tensor (and an optional extra tensor) to its output, cropped back."""
    stride = total_stride(encoder, filters)
    padded = PadToMultiple(multiple=stride, name="pad")(image)
    padded_extra = None
    if extra is not None:
        padded_extra = PadToMultiple(multiple=stride, name="pad_extra")(extra)
    stem_input = padded
    if padded_extra is not None:
        stem_input = keras.layers.Concatenate(name="with_extra")([padded, padded_extra])

    if encoder is None:
        skips = []
        x = stem_input
        for level, width in enumerate(filters):
            if level:
                x = keras.layers.MaxPooling2D(2, name=f"enc{level + 1}_pool")(x)
            x = _conv_block(x, width, f"enc{level + 1}")
            skips.append(x)
        x = skips.pop()
        levels = range(len(filters) - 2, -1, -1)
    else:
        from tfimage import backbones

        strides = backbones.stride_layers(encoder)
        names = [strides[2**level] for level in range(1, len(filters) + 1)]
        extractor = backbones.feature_extractor(
            encoder, names, weights=weights, trainable=encoder_trainable,
            input_shape=(None, None, channels),
        )
        features = extractor(padded)
        if not isinstance(features, (list, tuple)):  # a one-level encoder
            features = [features]
        stem = _conv_block(stem_input, filters[0], "stem")
        skips = [stem] + list(features[:-1])  # skips[k] is at stride 2**k
        x = features[-1]
        levels = range(len(filters) - 1, -1, -1)

    for level in levels:
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"dec{level + 1}_up")(x)
        parts = [x, skips[level]]
        if encoder is not None and padded_extra is not None:
            pooled = padded_extra
            if level:
                pooled = keras.layers.AveragePooling2D(2**level, name=f"dec{level + 1}_extra")(padded_extra)
            parts.append(pooled)
        x = keras.layers.Concatenate(name=f"dec{level + 1}_concat")(parts)
        x = _conv_block(x, filters[level], f"dec{level + 1}")
    x = keras.layers.Conv2D(output_channels, 1, name="output_conv")(x)
    return CropToReference(name="crop")([x, image])


def _check_common(channels, extra_inputs, output_channels, encoder):
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3. Received: channels={channels}")
    if int(extra_inputs) != extra_inputs or extra_inputs < 0:
        raise ValueError(f"extra_inputs must be a non-negative int. Received: extra_inputs={extra_inputs}")
    output_channels = channels if output_channels is None else int(output_channels)
    if output_channels < 1:
        raise ValueError(f"output_channels must be positive. Received: output_channels={output_channels}")
    if encoder is not None:
        from tfimage import backbones

        backbones.stride_layers(encoder)  # validates the name
    return int(extra_inputs), output_channels


def build_unet(
    channels=3,
    encoder=None,
    filters=(16, 32, 64, 128),
    extra_inputs=0,
    output_channels=None,
    weights=None,
    encoder_trainable=True,
    residual=False,
    name="unet",
):
    """Builds a U-Net (Ronneberger et al. 2015) as a functional Keras model.

    Plain encoder: `len(filters)` levels of two 3x3 convolutions + ReLU, 2x2
    max pooling between levels (total stride 2**(len(filters) - 1)). Backbone
    encoder: the backbone's layers at strides 2 .. 2**len(filters) (see
    `tfimage.backbones.stride_layers`) plus a full-resolution convolution
    block, total stride 2**len(filters). The decoder mirrors the levels with
    `filters` widths; a 1x1 convolution gives the output.

    Args:
        channels: image channels, 1 or 3 (a backbone sees gray repeated to RGB).
        encoder: None for plain convolution blocks, or a backbone name
            ("vgg16", "vgg19", "resnet50", "mobilenetv2", "mobilenetv3small",
            "efficientnetb0").
        filters: the width of each level, shallow to deep (at most 5 levels
            with a backbone).
        extra_inputs: channels of a second input concatenated to the image
            (1 for an inpainting mask); 0 for a single-input model.
        output_channels: output channels (default: `channels`).
        weights: backbone weights: None (random), "imagenet" or the path of
            a weights file of the application without its top.
        encoder_trainable: False freezes the backbone (fine-tune the decoder
            first).
        residual: add the input image to the output (the network predicts a
            correction); needs output_channels == channels.
        name: the model name.

    Returns:
        A `keras.Model` taking images (batch, H, W, channels) in [0, 1] (and,
        with `extra_inputs`, `[image, extra]` with extra (batch, H, W,
        extra_inputs)) and returning (batch, H, W, output_channels) for any
        H, W at least the total stride (`required_multiple(model)`).
    """
    filters = _check_filters(filters, encoder)
    extra_inputs, output_channels = _check_common(channels, extra_inputs, output_channels, encoder)
    if residual and output_channels != channels:
        raise ValueError(
            f"residual=True needs output_channels == channels ({channels}). "
            f"Received: output_channels={output_channels}"
        )
    image = keras.Input(shape=(None, None, channels), name="image")
    extra = keras.Input(shape=(None, None, extra_inputs), name="extra") if extra_inputs else None
    outputs = _unet_graph(image, extra, channels, encoder, filters, output_channels, weights, encoder_trainable)
    if residual:
        outputs = keras.layers.Add(name="residual")([image, outputs])
    inputs = [image, extra] if extra is not None else image
    return keras.Model(inputs, outputs, name=name)


def build_unet_sr(
    scale,
    channels=3,
    encoder=None,
    filters=(16, 32, 64, 128),
    weights=None,
    encoder_trainable=True,
    name="unet_sr",
):
    """A super-resolution U-Net: bicubic upsampling plus a U-Net residual.

    The low-resolution image is upsampled bicubically inside the model (as
    VDSR, Kim et al. CVPR 2016, does outside it) and a U-Net (Ronneberger et
    al. 2015) on the upsampled image predicts the missing detail, added to it.

    Args:
        scale: the upscaling factor, 2, 3 or 4.
        channels: image channels, 1 or 3.
        encoder: None or a backbone name (see `build_unet`).
        filters: the width of each level.
        weights: backbone weights: None, "imagenet" or a weights file path.
        encoder_trainable: False freezes the backbone.
        name: the model name.

    Returns:
        A `keras.Model` mapping (batch, h, w, channels) in [0, 1] to
        (batch, h * scale, w * scale, channels), like every tfimage SR model.
    """
    scale = check_sr_scale(scale)
    filters = _check_filters(filters, encoder)
    _check_common(channels, 0, channels, encoder)
    low_res = keras.Input(shape=(None, None, channels), name="low_res")
    upsampled = BicubicUpsample(scale, name="bicubic")(low_res)
    detail = _unet_graph(upsampled, None, channels, encoder, filters, channels, weights, encoder_trainable)
    outputs = keras.layers.Add(name="residual")([upsampled, detail])
    return keras.Model(low_res, outputs, name=name)


def _widened_kernel(kernel, bias, input_map, output_map, noise_stddev, rng):
    """One convolution's Net2WiderNet weights: columns picked by `output_map`, rows split over their copies."""
    counts = np.bincount(input_map, minlength=kernel.shape[2]).astype(np.float32)
    wide = kernel[:, :, input_map, :][:, :, :, output_map] / counts[input_map][None, None, :, None]
    if noise_stddev > 0:
        noise = rng.normal(0.0, noise_stddev * float(np.std(kernel)), wide.shape).astype(np.float32)
        for source in np.unique(input_map):  # zero-sum over the copies of each input (none for a single copy)
            copies = input_map == source
            noise[:, :, copies, :] -= noise[:, :, copies, :].mean(axis=2, keepdims=True)
        wide = wide + noise
    return wide.astype(np.float32), bias[output_map].astype(np.float32)


def widen_unet(unet, factor=2.0, noise_stddev=0.01, seed=0, name=None):
    """A wider copy of a plain `build_unet` U-Net that computes the same function (Net2WiderNet).

    Every level's width is multiplied by `factor`; each new channel copies
    an existing one (the first copies keep their place, the rest are drawn
    at random) and the next convolution divides that channel's incoming
    weights among its copies, so the wider network starts where the narrow
    one is (T. Chen, I. Goodfellow, J. Shlens, "Net2Net: Accelerating
    Learning via Knowledge Transfer", ICLR 2016). Max pooling, bilinear
    upsampling, ReLU and the skip concatenations act channel by channel, so
    the copy is exact. A small noise that sums to zero over the copies of a
    channel keeps the function exact and lets the copies drift apart in
    training.

    Args:
        unet: a U-Net from `build_unet(encoder=None, ...)`.
        factor: width multiplier, at least 1.
        noise_stddev: the symmetry-breaking noise, relative to each kernel's
            standard deviation (0: plain copies).
        seed: seeds which channels are copied and the noise.
        name: the new model's name (default: `unet.name`).

    Returns:
        A new `keras.Model` with widths `round(width * factor)`.
    """
    try:
        factor = float(factor)
    except (TypeError, ValueError):
        factor = float("nan")
    if not factor >= 1:
        raise ValueError(f"factor must be a number of at least 1. Received: factor={factor}")
    names = {layer.name for layer in unet.layers}
    levels = 0
    while f"enc{levels + 1}_conv1" in names:
        levels += 1
    if levels < 2 or "output_conv" not in names or (len(unet.inputs) > 1 and "with_extra" not in names):
        raise ValueError(f"widen_unet takes a plain U-Net from build_unet(encoder=None). Received: unet={unet.name}")
    widths = [unet.get_layer(f"enc{level}_conv1").filters for level in range(1, levels + 1)]
    channels = unet.inputs[0].shape[-1]
    extra_inputs = unet.inputs[1].shape[-1] if len(unet.inputs) > 1 else 0
    output_channels = unet.get_layer("output_conv").filters
    residual = any(isinstance(layer, keras.layers.Add) and layer.name == "residual" for layer in unet.layers)
    wide = build_unet(
        channels, filters=tuple(int(round(width * factor)) for width in widths), extra_inputs=extra_inputs,
        output_channels=output_channels, residual=residual, name=name or unet.name,
    )
    rng = np.random.default_rng(seed)

    def channel_map(old, new):
        extra = rng.choice(old, new - old, replace=new - old > old)
        return np.concatenate([np.arange(old), extra]).astype(np.int64)

    def copy(layer_name, input_map, output_map):
        kernel, bias = unet.get_layer(layer_name).get_weights()
        wide.get_layer(layer_name).set_weights(
            list(_widened_kernel(kernel, bias, input_map, output_map, noise_stddev, rng))
        )
        return output_map

    previous = np.arange(channels + extra_inputs)
    skips = []  # skips[k]: the channel map of level k + 1's encoder output
    for level in range(1, levels + 1):
        width, new_width = widths[level - 1], wide.get_layer(f"enc{level}_conv1").filters
        previous = copy(f"enc{level}_conv1", previous, channel_map(width, new_width))
        previous = copy(f"enc{level}_conv2", previous, channel_map(width, new_width))
        skips.append(previous)
    for level in range(levels - 1, 0, -1):  # `previous`: the output of the level below, widths[level] wide
        concatenated = np.concatenate([previous, skips[level - 1] + widths[level]])
        width, new_width = widths[level - 1], wide.get_layer(f"dec{level}_conv1").filters
        previous = copy(f"dec{level}_conv1", concatenated, channel_map(width, new_width))
        previous = copy(f"dec{level}_conv2", previous, channel_map(width, new_width))
    copy("output_conv", previous, np.arange(output_channels))
    return wide
