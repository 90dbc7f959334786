"""The residual U-Net of a denoising diffusion model (functional builder).

The layout follows the DDIM example of keras-io (Beres, "Denoising Diffusion
Implicit Models", 2022), itself a reduced version of the U-Net of Ho et al.,
"Denoising Diffusion Probabilistic Models", NeurIPS 2020: residual blocks
(Song et al., "Denoising Diffusion Implicit Models", ICLR 2021, use the same
network), average-pooling downsampling, bilinear upsampling and skip
connections from every down block to the matching up block. The noise
level enters as a sinusoidal embedding of the noise variance (Vaswani et al.
2017; Mildenhall et al. 2020) and, for class conditioning, a learned label
embedding; both are added to the features of every residual block.

Inputs are the noisy images (batch, H, W, C), the noise variances
(batch, 1, 1, 1) and, for a conditional network, integer labels (batch, 1);
the output is the predicted noise, same shape as the images. The last
convolution starts at zero, so an untrained network predicts no noise.
"""

import math

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="tfimage")
class SinusoidalEmbedding(layers.Layer):
    """Sinusoidal features of a scalar per example: (batch, 1, 1, 1) -> (batch, 1, 1, dims).

    Frequencies are spaced geometrically between `min_frequency` and
    `max_frequency`; the output is `[sin(2 pi f x), cos(2 pi f x)]`.

    Args:
        dims: output size (even).
        min_frequency, max_frequency: the frequency range.
        **kwargs: `keras.layers.Layer` arguments.
    """

    def __init__(self, dims=32, min_frequency=1.0, max_frequency=1000.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(dims, bool) or int(dims) <= 0 or int(dims) % 2:
            raise ValueError(f"dims must be a positive even integer. Received: dims={dims}")
        self.dims = int(dims)
        self.min_frequency = float(min_frequency)
        self.max_frequency = float(max_frequency)

    def call(self, x):
        ops = keras.ops
        frequencies = ops.exp(ops.linspace(math.log(self.min_frequency), math.log(self.max_frequency),
                                           self.dims // 2))
        angular = 2.0 * math.pi * ops.cast(frequencies, x.dtype)
        return ops.concatenate([ops.sin(angular * x), ops.cos(angular * x)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.dims,)

    def get_config(self):
        config = super().get_config()
        config.update(dims=self.dims, min_frequency=self.min_frequency, max_frequency=self.max_frequency)
        return config


def _check_arguments(image_shape, widths, block_depth, num_classes, embedding_dims):
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) != 3 or min(image_shape) <= 0:
        raise ValueError(f"image_shape must be (height, width, channels). Received: image_shape={image_shape}")
    widths = tuple(int(w) for w in widths)
    if not widths or min(widths) <= 0:
        raise ValueError(f"widths must be a non-empty list of positive integers. Received: widths={widths}")
    factor = 2 ** (len(widths) - 1)
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f"The image height and width must be divisible by 2 ** (len(widths) - 1) = {factor}. "
            f"Received: image_shape={image_shape}")
    if isinstance(block_depth, bool) or int(block_depth) <= 0:
        raise ValueError(f"block_depth must be a positive integer. Received: block_depth={block_depth}")
    if num_classes is not None and (isinstance(num_classes, bool) or int(num_classes) <= 0):
        raise ValueError(f"num_classes must be None or a positive integer. Received: num_classes={num_classes}")
    if isinstance(embedding_dims, bool) or int(embedding_dims) <= 0 or int(embedding_dims) % 2:
        raise ValueError(
            f"embedding_dims must be a positive even integer. Received: embedding_dims={embedding_dims}")
    return image_shape, widths, int(block_depth)


def _residual_block(x, width, embedding, name):
    """Residual block: BN -> conv (swish) -> + embedding -> conv, with a 1x1 skip when widths differ."""
    residual = x if x.shape[-1] == width else layers.Conv2D(width, 1, name=f"{name}_skip")(x)
    x = layers.BatchNormalization(center=False, scale=False, name=f"{name}_norm")(x)
    x = layers.Conv2D(width, 3, padding="same", activation="swish", name=f"{name}_conv1")(x)
    e = layers.Dense(width, name=f"{name}_embedding")(embedding)  # (batch, 1, 1, width), broadcast
    x = layers.Add(name=f"{name}_add_embedding")([x, e])
    x = layers.Conv2D(width, 3, padding="same", name=f"{name}_conv2")(x)
    return layers.Add(name=f"{name}_add")([x, residual])


def build_diffusion_unet(image_shape=(28, 28, 1), widths=(32, 64, 96), block_depth=2, num_classes=None,
                         embedding_dims=32, name="diffusion_unet"):
    """Builds the noise-prediction U-Net of `tfimage.models.diffusion.DiffusionModel`.

    Args:
        image_shape: (height, width, channels); height and width must be
            divisible by 2 ** (len(widths) - 1).
        widths: channels per resolution; every width but the last has
            `block_depth` residual blocks on the way down and up, the last
            one is the bottleneck at the lowest resolution.
        block_depth: residual blocks per resolution.
        num_classes: None, or the number of classes (the model then takes
            `[noisy_images, noise_variances, labels]`).
        embedding_dims: size of the sinusoidal noise embedding (and of the
            label embedding).
        name: model name.

    Returns:
        A functional `keras.Model` mapping `[noisy_images, noise_variances]`
        (+ labels) to the predicted noise, shape (batch, *image_shape).
    """
    image_shape, widths, block_depth = _check_arguments(image_shape, widths, block_depth, num_classes,
                                                       embedding_dims)
    height, width, channels = image_shape
    noisy = keras.Input(image_shape, name="noisy_images")
    variances = keras.Input((1, 1, 1), name="noise_variances")
    inputs = [noisy, variances]
    embedding = SinusoidalEmbedding(embedding_dims, name="noise_embedding")(variances)
    if num_classes is not None:
        labels = keras.Input((1,), dtype="int32", name="labels")
        inputs.append(labels)
        label_embedding = layers.Embedding(int(num_classes), embedding_dims, name="label_embedding")(labels)
        label_embedding = layers.Reshape((1, 1, embedding_dims), name="label_reshape")(label_embedding)
        embedding = layers.Concatenate(name="noise_and_label")([embedding, label_embedding])
    embedding = layers.Dense(4 * embedding_dims, activation="swish", name="embedding_mlp")(embedding)

    x = layers.Conv2D(widths[0], 1, name="stem")(noisy)
    skips = []
    level = 0
    for level, w in enumerate(widths[:-1]):
        for block in range(block_depth):
            x = _residual_block(x, w, embedding, f"down{level}_{block}")
            skips.append(x)
        x = layers.AveragePooling2D(2, name=f"down{level}_pool")(x)
    for block in range(block_depth):
        x = _residual_block(x, widths[-1], embedding, f"mid_{block}")
    for level in reversed(range(len(widths) - 1)):
        x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{level}_upsample")(x)
        for block in range(block_depth):
            x = layers.Concatenate(name=f"up{level}_{block}_concat")([x, skips.pop()])
            x = _residual_block(x, widths[level], embedding, f"up{level}_{block}")
    noise = layers.Conv2D(channels, 1, kernel_initializer="zeros", name="noise")(x)
    return keras.Model(inputs, noise, name=name)
