"""DnCNN: the residual denoising CNN of Zhang et al.

Reference:
    K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, "Beyond a Gaussian Denoiser:
    Residual Learning of Deep CNN for Image Denoising", IEEE TIP 26(7), 2017.

The convolution stack predicts the noise (residual learning) and the model
subtracts it from its input, so the model's output is the clean image. The
layer layout matches the authors' MatConvNet releases (with the batch
normalisation folded into the convolutions), so `tfimage.pretrained` can copy
their weights convolution by convolution.

With `noise_map=True` the network is the authors' flexible DnCNN (FDnCNN):
it takes `[image, noise_level]` like FFDNet, appends the constant noise-level
map as the last input channel (MatConvNet's `concat` layer) and, unlike
FFDNet, works at full resolution (no pixel unshuffle); the released FDnCNN
models output the clean image directly (`residual=False`).
"""

import keras


def build_dncnn(depth=17, filters=64, channels=1, batch_norm=False, noise_map=False, residual=True, name="dncnn"):
    """Builds a DnCNN denoiser as a functional Keras model.

    The graph is: Conv2D + ReLU, then (depth - 2) x [Conv2D (+ BatchNorm) +
    ReLU], then a last Conv2D with `channels` filters that predicts the noise;
    the output is `input - noise`. Every convolution is 3x3 with 'same'
    padding, so the model takes images of any height and width.

    Args:
        depth: number of convolution layers (17 for DnCNN-S, 20 for DnCNN-B
            and CDnCNN-B). At least 2.
        filters: feature channels of the hidden layers (64 in the paper).
        channels: image channels, 1 (gray) or 3 (color).
        batch_norm: whether the middle layers use batch normalisation (as in
            training in the paper); then only the first convolution has a
            bias, as in the authors' Keras port. Without it every
            convolution has a bias, which is the layout of the released
            MatConvNet weights (BN folded in).
        noise_map: take the noise level as a second input (batch, 1),
            sigma / 255, appended to the image as a constant map channel
            before the first convolution (FDnCNN).
        residual: the last convolution predicts the noise and the output is
            `input - noise` (DnCNN); False: it predicts the clean image
            (the released FDnCNN models).
        name: the model name.

    Returns:
        A `keras.Model` mapping a (batch, height, width, channels) float
        image in [0, 1] (with `noise_map`: `[image, noise_level]`) to the
        denoised image of the same shape.
    """
    if int(depth) < 2:
        raise ValueError(f"depth must be at least 2. Received: depth={depth}")
    if int(filters) < 1:
        raise ValueError(f"filters must be positive. Received: filters={filters}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3. Received: channels={channels}")
    depth, filters = int(depth), int(filters)

    inputs = keras.Input(shape=(None, None, channels), name="noisy")
    x = inputs
    if noise_map:
        from tfimage.networks.ffdnet import ConcatNoiseLevelMap

        noise_level = keras.Input(shape=(1,), name="noise_level")
        x = ConcatNoiseLevelMap(name="noise_map")([inputs, noise_level])
    x = keras.layers.Conv2D(
        filters, 3, padding="same", use_bias=True, name="conv1"
    )(x)
    x = keras.layers.ReLU(name="relu1")(x)
    for index in range(2, depth):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            use_bias=not batch_norm,
            name=f"conv{index}",
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(
                epsilon=1e-4, momentum=0.9, name=f"bn{index}"
            )(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
    last = keras.layers.Conv2D(
        channels, 3, padding="same", use_bias=not batch_norm, name="noise" if residual else "clean"
    )(x)
    outputs = keras.layers.Subtract(name="clean")([inputs, last]) if residual else last
    model_inputs = [inputs, noise_level] if noise_map else inputs
    return keras.Model(inputs=model_inputs, outputs=outputs, name=name)
