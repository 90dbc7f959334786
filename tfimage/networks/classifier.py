"""A small MNIST-style CNN classifier, used as the FID/KID feature extractor.

A LeNet-like network (LeCun et al., Proc. IEEE 1998) in the VGG style:
two blocks of two 3x3 convolutions and max pooling, then a dense "features"
layer (the penultimate layer, whose activations the Frechet distance of
Heusel et al., NeurIPS 2017, compares) and a softmax.
"""

import keras
from keras import layers

from tfimage.networks.dcgan import _check_image_shape

FEATURES_LAYER = "features"


def build_classifier(image_shape=(28, 28, 1), num_classes=10, filters=32, feature_dim=128,
                     dropout=0.3, name="classifier"):
    """Builds the classifier: images in [0, 1] -> class probabilities.

    Args:
        image_shape: (height, width, channels); sides divisible by 4.
        num_classes: number of classes (>= 2).
        filters: channels of the first block (the second has twice as many).
        feature_dim: width of the penultimate "features" layer (>= 1; FID
            uses these activations).
        dropout: dropout rate before the softmax.
        name: model name.

    Returns:
        A functional `keras.Model` with softmax outputs of shape
        (batch, num_classes) and a layer named "features".
    """
    image_shape = _check_image_shape(image_shape)
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2. Received: num_classes={num_classes}")
    if int(feature_dim) < 1:
        raise ValueError(f"feature_dim must be >= 1. Received: feature_dim={feature_dim}")
    images = keras.Input(image_shape, name="images")
    x = images
    for block, width in enumerate((filters, filters * 2)):
        x = layers.Conv2D(width, 3, padding="same", activation="relu",
                          name=f"block{block + 1}_conv1")(x)
        x = layers.Conv2D(width, 3, padding="same", activation="relu",
                          name=f"block{block + 1}_conv2")(x)
        x = layers.MaxPooling2D(2, name=f"block{block + 1}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(images, outputs, name=name)


def features_model(classifier):
    """The sub-model mapping images to the classifier's "features" activations."""
    try:
        layer = classifier.get_layer(FEATURES_LAYER)
    except ValueError:
        raise ValueError(
            f"The classifier has no layer named {FEATURES_LAYER!r}. "
            f"Received: classifier={classifier.name}"
        ) from None
    return keras.Model(classifier.input, layer.output, name=classifier.name + "_features")
