"""Convolutional encoder and decoder builders for a VAE (functional models).

Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014. The encoder
maps an image in [0, 1] to the mean and log-variance of a diagonal Gaussian
posterior q(z|x); the decoder maps z to pixel logits (a sigmoid gives the
Bernoulli means in [0, 1]). For class conditioning (Sohn et al., "Learning
Structured Output Representation using Deep Conditional Generative Models",
NeurIPS 2015) both networks also take integer labels of shape (batch, 1),
embedded and concatenated to the features (encoder) or to z (decoder).

The layout is sized from the image shape like the DCGAN networks: stride-2
blocks while the side halves evenly to at least 4 (28 -> 14 -> 7).
"""

import keras
from keras import layers

from tfimage.networks.dcgan import _check_common, _check_image_shape, num_upsamplings


def _label_input(num_classes, dim):
    labels = keras.Input((1,), dtype="int32", name="labels")
    embedded = layers.Flatten(name="label_flatten")(
        layers.Embedding(num_classes, dim, name="label_embedding")(labels)
    )
    return labels, embedded


def build_encoder(image_shape=(28, 28, 1), latent_dim=16, filters=32, hidden_units=128,
                  num_classes=None, name="encoder"):
    """Builds a VAE encoder: image -> (z_mean, z_log_var).

    Args:
        image_shape: (height, width, channels) of the images.
        latent_dim: size of z.
        filters: channels of the first stride-2 convolution block; each later
            block doubles them.
        hidden_units: width of the dense layer before the two heads.
        num_classes: None, or the number of classes (the model then takes
            `[images, labels]`).
        name: model name.

    Returns:
        A functional `keras.Model` returning `[z_mean, z_log_var]`, each of
        shape (batch, latent_dim).
    """
    image_shape = _check_image_shape(image_shape)
    _check_common(latent_dim, filters, num_classes)
    blocks = num_upsamplings(image_shape)
    images = keras.Input(image_shape, name="images")
    inputs = [images]
    x = images
    for block in range(blocks):
        x = layers.Conv2D(filters * 2 ** block, 3, strides=2, padding="same", activation="relu",
                          name=f"block{block + 1}_conv")(x)
    x = layers.Flatten(name="flatten")(x)
    if num_classes is not None:
        labels, embedded = _label_input(num_classes, hidden_units)
        inputs.append(labels)
        x = layers.Concatenate(name="features_and_label")([x, embedded])
    x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(inputs if num_classes is not None else images, [z_mean, z_log_var],
                       name=name)


def build_decoder(image_shape=(28, 28, 1), latent_dim=16, filters=32, num_classes=None,
                  name="decoder"):
    """Builds a VAE decoder: z -> pixel logits.

    Args:
        image_shape: (height, width, channels) of the images.
        latent_dim: size of z.
        filters: channels of the last upsampling block; each earlier block has
            twice as many.
        num_classes: None, or the number of classes (the model then takes
            `[z, labels]`).
        name: model name.

    Returns:
        A functional `keras.Model` mapping z of shape (batch, latent_dim) to
        logits of shape (batch, *image_shape); `sigmoid(logits)` are the
        images in [0, 1].
    """
    image_shape = _check_image_shape(image_shape)
    _check_common(latent_dim, filters, num_classes)
    blocks = num_upsamplings(image_shape)
    height, width, channels = image_shape
    start_h, start_w = height >> blocks, width >> blocks
    start_filters = filters * 2 ** (blocks - 1)
    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    x = z
    if num_classes is not None:
        labels, embedded = _label_input(num_classes, latent_dim)
        inputs.append(labels)
        x = layers.Concatenate(name="z_and_label")([z, embedded])
    x = layers.Dense(start_h * start_w * start_filters, activation="relu", name="project")(x)
    x = layers.Reshape((start_h, start_w, start_filters), name="reshape")(x)
    for block in range(blocks):
        x = layers.Conv2DTranspose(filters * 2 ** (blocks - block - 1), 3, strides=2,
                                   padding="same", activation="relu",
                                   name=f"block{block + 1}_upconv")(x)
    logits = layers.Conv2D(channels, 3, padding="same", name="logits")(x)
    return keras.Model(inputs if num_classes is not None else z, logits, name=name)
