"""DCGAN generator and discriminator builders (functional Keras models).

The layouts follow Radford, Metz and Chintala, "Unsupervised Representation
Learning with Deep Convolutional Generative Adversarial Networks", ICLR 2016:
strided (transposed) convolutions instead of pooling, batch normalization in
the generator, LeakyReLU in the discriminator and no fully connected hidden
layers. The discriminator has no batch normalization so that it also suits the
WGAN-GP penalty (Gulrajani et al., 2017), which is defined per example.

Both networks are sized from the image shape: the generator starts from a
`base x base` feature map, where `base` is the image side halved until it is
odd or below 8 (28 -> 7, 32 -> 4, 16 -> 4, 64 -> 4), and doubles it once per
upsampling block.

Optional class conditioning: the generator concatenates a learned label
embedding to the latent vector; the discriminator is a projection
discriminator (Miyato and Koyama, "cGANs with Projection Discriminator",
ICLR 2018).
"""

import keras
from keras import layers


def _check_image_shape(image_shape):
    try:
        image_shape = tuple(int(size) for size in image_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"image_shape must be (height, width, channels). Received: image_shape={image_shape!r}"
        ) from None
    if len(image_shape) != 3 or min(image_shape) < 1:
        raise ValueError(
            f"image_shape must be (height, width, channels). Received: image_shape={image_shape!r}"
        )
    return image_shape


def num_upsamplings(image_shape):
    """How many times the generator doubles its starting feature map.

    Args:
        image_shape: (height, width, channels).

    Returns:
        The number of stride-2 blocks: the side is halved while it stays even
        and the half is at least 4.

    Raises:
        ValueError: the image is smaller than 8 pixels on a side or cannot be
            halved at least once.
    """
    height, width, _ = _check_image_shape(image_shape)
    count = 0
    while height % 2 == 0 and width % 2 == 0 and height // 2 >= 4 and width // 2 >= 4:
        height //= 2
        width //= 2
        count += 1
    if count == 0:
        raise ValueError(
            "The DCGAN networks need an image side that is even and at least 8 "
            f"(e.g. 28x28 or 32x32). Received: image_shape={tuple(image_shape)}"
        )
    return count


def _check_common(latent_dim, filters, num_classes):
    if int(latent_dim) < 1:
        raise ValueError(
            f"latent_dim must be a positive integer. Received: latent_dim={latent_dim}")
    if int(filters) < 1:
        raise ValueError(f"filters must be a positive integer. Received: filters={filters}")
    if num_classes is not None and int(num_classes) < 2:
        raise ValueError(
            f"num_classes must be None or an integer >= 2. Received: num_classes={num_classes}"
        )


def build_generator(image_shape=(28, 28, 1), latent_dim=64, filters=32, num_classes=None,
                    name="generator"):
    """Builds a DCGAN generator: latent vector -> image in [-1, 1] (tanh).

    Args:
        image_shape: (height, width, channels) of the images to generate.
        latent_dim: size of the latent vector z.
        filters: channels of the last upsampling block; each earlier block has
            twice as many.
        num_classes: None for an unconditional generator, else the number of
            classes; the model then takes `[z, labels]` with integer labels of
            shape (batch, 1).
        name: model name.

    Returns:
        A functional `keras.Model` mapping z of shape (batch, latent_dim)
        (and labels) to images of shape (batch, *image_shape) in [-1, 1].
    """
    image_shape = _check_image_shape(image_shape)
    _check_common(latent_dim, filters, num_classes)
    blocks = num_upsamplings(image_shape)
    height, width, channels = image_shape
    start_h, start_w = height >> blocks, width >> blocks
    start_filters = filters * 2 ** blocks

    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    x = z
    if num_classes is not None:
        labels = keras.Input((1,), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = layers.Flatten(name="label_flatten")(
            layers.Embedding(num_classes, latent_dim, name="label_embedding")(labels)
        )
        x = layers.Concatenate(name="z_and_label")([z, embedded])
    x = layers.Dense(start_h * start_w * start_filters, use_bias=False, name="project")(x)
    x = layers.BatchNormalization(name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((start_h, start_w, start_filters), name="reshape")(x)
    for block in range(blocks):
        block_filters = filters * 2 ** (blocks - block - 1)
        x = layers.Conv2DTranspose(block_filters, 4, strides=2, padding="same", use_bias=False,
                                   name=f"block{block + 1}_upconv")(x)
        x = layers.BatchNormalization(name=f"block{block + 1}_bn")(x)
        x = layers.ReLU(name=f"block{block + 1}_relu")(x)
    outputs = layers.Conv2D(channels, 3, padding="same", activation="tanh", name="to_image")(x)
    return keras.Model(inputs if num_classes is not None else z, outputs, name=name)


def build_discriminator(image_shape=(28, 28, 1), filters=32, num_classes=None, dropout=0.0,
                        name="discriminator"):
    """Builds a DCGAN discriminator: image in [-1, 1] -> one unbounded logit.

    Blocks `block1`, `block2`, ... are stride-2 4x4 convolutions with
    LeakyReLU(0.2), doubling the channels each time; a dense layer maps the
    flattened features to the logit. `freeze_blocks` freezes the first blocks
    (FreezeD, Mo et al. 2020).

    Args:
        image_shape: (height, width, channels) of the input images.
        filters: channels of the first block.
        num_classes: None, or the number of classes for a projection
            discriminator taking `[images, labels]`.
        dropout: dropout rate after each block (0 for none).
        name: model name.

    Returns:
        A functional `keras.Model` returning logits of shape (batch, 1).
    """
    image_shape = _check_image_shape(image_shape)
    _check_common(1, filters, num_classes)
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1). Received: dropout={dropout}")
    blocks = num_upsamplings(image_shape)
    images = keras.Input(image_shape, name="images")
    inputs = [images]
    x = images
    for block in range(blocks):
        x = layers.Conv2D(filters * 2 ** block, 4, strides=2, padding="same",
                          name=f"block{block + 1}_conv")(x)
        x = layers.LeakyReLU(0.2, name=f"block{block + 1}_lrelu")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"block{block + 1}_dropout")(x)
    features = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(1, name="logit")(features)
    if num_classes is not None:
        labels = keras.Input((1,), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = layers.Flatten(name="label_flatten")(
            layers.Embedding(num_classes, features.shape[-1], name="label_embedding")(labels)
        )
        projection = layers.Dot(axes=1, name="projection")([embedded, features])
        logits = layers.Add(name="logit_plus_projection")([logits, projection])
    return keras.Model(inputs if num_classes is not None else images, logits, name=name)


def discriminator_blocks(discriminator):
    """The number of convolution blocks `block1`, `block2`, ... of a discriminator."""
    count = 0
    names = {layer.name for layer in discriminator.layers}
    while f"block{count + 1}_conv" in names:
        count += 1
    return count


def freeze_blocks(discriminator, count):
    """Freezes the first `count` blocks of a discriminator (FreezeD).

    Mo, Cho and Shin, "Freeze the Discriminator: a Simple Baseline for
    Fine-Tuning GANs", CVPR AI for content creation workshop, 2020.

    Args:
        discriminator: a model from `build_discriminator`.
        count: how many leading blocks to freeze (0 unfreezes all).

    Returns:
        The names of the frozen layers.
    """
    total = discriminator_blocks(discriminator)
    if not isinstance(count, int) or not 0 <= count <= total:
        raise ValueError(
            f"freeze_d must be an integer in [0, {total}] (the discriminator has {total} "
            f"blocks). Received: freeze_d={count!r}"
        )
    frozen = []
    for layer in discriminator.layers:
        if layer.name.startswith("block"):
            block = int(layer.name[len("block"):].split("_")[0])
            layer.trainable = block > count
            if block <= count and layer.weights:
                frozen.append(layer.name)
    return frozen
