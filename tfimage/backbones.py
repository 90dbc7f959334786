"""Keras Applications backbones as feature extractors, and the perceptual loss.

`feature_extractor` wraps a `keras.applications` network (VGG16, VGG19,
ResNet50, MobileNetV2, MobileNetV3Small, EfficientNetB0) into a functional
model that takes tfimage images (float32 [0, 1], RGB or gray, any size) and
returns the activations of the requested layers. Each backbone's own input
preprocessing is built in (`ImageNetPreprocess`), so callers never scale or
reorder channels themselves; gray images are repeated to three channels.

ImageNet weights: Keras keeps them in `~/.keras/models/` (or
`$KERAS_HOME/models/`). When the file is not there and the download server
cannot be reached, `feature_extractor(weights="imagenet")` fails at once with
a message naming the file to fetch and how to pass it (`weights=PATH`)
instead of hanging in a download.

References:
    K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for
    Large-Scale Image Recognition", ICLR 2015 (VGG).
    K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image
    Recognition", CVPR 2016 (ResNet).
    M. Sandler et al., "MobileNetV2: Inverted Residuals and Linear
    Bottlenecks", CVPR 2018; A. Howard et al., "Searching for MobileNetV3",
    ICCV 2019.
    M. Tan, Q. Le, "EfficientNet: Rethinking Model Scaling for Convolutional
    Neural Networks", ICML 2019.
    J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual Losses for Real-Time Style
    Transfer and Super-Resolution", ECCV 2016 (perceptual loss).
"""

import os
import socket

import keras
from keras import ops

# Caffe-style mean of ImageNet in BGR order, on the 0-255 scale.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
PREPROCESS_MODES = ("caffe", "tf", "raw255")
DOWNLOAD_HOST = ("storage.googleapis.com", 443)
DOWNLOAD_PROBE_TIMEOUT = 3.0
# Keras Applications refuse fixed input sizes below 32x32.
MIN_INPUT_SIZE = 32

_KERAS_APPS = "https://storage.googleapis.com/tensorflow/keras-applications/"

# name -> how to build it, its preprocessing, its ImageNet (no-top) weight file,
# and the layer whose output is at each total stride (used as U-Net skips).
BACKBONES = {
    "vgg16": {
        "application": "VGG16",
        "preprocess": "caffe",
        "weights_file": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "url": _KERAS_APPS + "vgg16/",
        "strides": {
            1: "block1_conv2", 2: "block2_conv2", 4: "block3_conv3", 8: "block4_conv3",
            16: "block5_conv3", 32: "block5_pool",
        },
    },
    "vgg19": {
        "application": "VGG19",
        "preprocess": "caffe",
        "weights_file": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "url": _KERAS_APPS + "vgg19/",
        "strides": {
            1: "block1_conv2", 2: "block2_conv2", 4: "block3_conv4", 8: "block4_conv4",
            16: "block5_conv4", 32: "block5_pool",
        },
    },
    "resnet50": {
        "application": "ResNet50",
        "preprocess": "caffe",
        "weights_file": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "url": _KERAS_APPS + "resnet/",
        "strides": {
            2: "conv1_relu", 4: "conv2_block3_out", 8: "conv3_block4_out",
            16: "conv4_block6_out", 32: "conv5_block3_out",
        },
    },
    "mobilenetv2": {
        "application": "MobileNetV2",
        "preprocess": "tf",
        # "{rows}" is the input size Keras picks the weights for (224 for any size).
        "weights_file": "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5",
        "url": _KERAS_APPS + "mobilenet_v2/",
        "strides": {
            2: "block_1_expand_relu", 4: "block_3_expand_relu", 8: "block_6_expand_relu",
            16: "block_13_expand_relu", 32: "out_relu",
        },
    },
    "mobilenetv3small": {
        "application": "MobileNetV3Small",
        # The application has its own Rescaling layer: it takes 0-255 inputs.
        "preprocess": "raw255",
        "weights_file": "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        "url": _KERAS_APPS + "mobilenet_v3/",
        # Only explicitly named layers: the activations have counter-based names
        # that change from one build to the next.
        "strides": {
            2: "conv_bn", 4: "expanded_conv_1_expand_bn", 8: "expanded_conv_3_expand_bn",
            16: "expanded_conv_8_expand_bn", 32: "conv_1_bn",
        },
    },
    "efficientnetb0": {
        "application": "EfficientNetB0",
        # The application has its own Rescaling + Normalization: 0-255 inputs.
        "preprocess": "raw255",
        "weights_file": "efficientnetb0_notop.h5",
        "url": "https://storage.googleapis.com/keras-applications/",
        "strides": {
            2: "block2a_expand_activation", 4: "block3a_expand_activation",
            8: "block4a_expand_activation", 16: "block6a_expand_activation",
            32: "top_activation",
        },
    },
}

# The feature layers used when `layers=None`: the classic perceptual-loss
# choice for VGG (Johnson et al. use relu2_2 for content), the stride-4 and
# stride-8 features of the others.
DEFAULT_LAYERS = {
    "vgg16": ("block2_conv2", "block3_conv3"),
    "vgg19": ("block2_conv2", "block3_conv4"),
}


def backbone_names():
    """The backbone names `feature_extractor` and `build_unet` accept."""
    return sorted(BACKBONES)


def _spec(name):
    key = str(name).lower().replace("_", "").replace("-", "")
    if key not in BACKBONES:
        raise ValueError(f"Unknown backbone. Expected one of {backbone_names()}. Received: name={name!r}")
    return key, BACKBONES[key]


def stride_layers(name):
    """The backbone's layer at each total stride, e.g. {2: "conv1_relu", 4: ...}."""
    return dict(_spec(name)[1]["strides"])


@keras.saving.register_keras_serializable(package="tfimage")
class ImageNetPreprocess(keras.layers.Layer):
    """Turns a float [0, 1] RGB or gray image into a backbone's expected input.

    Gray (1-channel) inputs are repeated to three channels first. Modes:
    "caffe" (VGG, ResNet: 0-255, RGB to BGR, ImageNet mean subtracted),
    "tf" (MobileNetV2: scaled to [-1, 1]) and "raw255" (MobileNetV3,
    EfficientNet, which rescale inside: 0-255).

    Args:
        mode: "caffe", "tf" or "raw255".
    """

    def __init__(self, mode="caffe", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESS_MODES:
            raise ValueError(f"mode must be one of {PREPROCESS_MODES}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        if x.shape[-1] == 1:
            x = ops.concatenate([x, x, x], axis=-1)
        if self.mode == "tf":
            return x * 2.0 - 1.0
        x = x * 255.0
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)  # RGB -> BGR
            x = x - ops.convert_to_tensor(CAFFE_MEAN_BGR, dtype=x.dtype)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config


def weights_cache_dir():
    """Where Keras keeps downloaded application weights ($KERAS_HOME/models or ~/.keras/models)."""
    try:
        from keras.src.backend.config import keras_home

        home = keras_home()
    except ImportError:  # pragma: no cover - a future Keras layout
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(os.path.expanduser(home), "models")


def imagenet_weights_file(name, input_shape=(None, None, 3)):
    """The file name Keras downloads the no-top ImageNet weights of `name` to."""
    _, spec = _spec(name)
    rows = 224
    if input_shape[0] is not None and input_shape[0] == input_shape[1] and input_shape[0] in (96, 128, 160, 192):
        rows = input_shape[0]
    return spec["weights_file"].format(rows=rows)


def _can_download():
    """Whether the Keras weights server answers within a few seconds."""
    try:
        with socket.create_connection(DOWNLOAD_HOST, timeout=DOWNLOAD_PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def _resolve_weights(name, weights, input_shape):
    """Checks `weights` and fails fast when ImageNet weights cannot be had offline."""
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"weights must be 'imagenet', the path of a weights file, or None. Received: weights={weights!r}"
        )
    weights = os.fspath(weights)
    if weights == "imagenet":
        _, spec = _spec(name)
        file_name = imagenet_weights_file(name, input_shape)
        cached = os.path.join(weights_cache_dir(), file_name)
        if not os.path.isfile(cached) and not _can_download():
            raise ValueError(
                f"The ImageNet weights of {name} are not in {weights_cache_dir()} and cannot be "
                f"downloaded (no connection to {DOWNLOAD_HOST[0]}). Fetch {spec['url']}{file_name} "
                f"on a connected machine, then pass weights='/path/to/{file_name}' (a local weights "
                f"file), or copy it to {cached}. Received: weights='imagenet'"
            )
        return "imagenet"
    if not os.path.isfile(weights):
        raise ValueError(
            f"weights must be 'imagenet', None, or an existing weights file. Received: weights={weights}"
        )
    return weights


def build_backbone(name, weights=None, input_shape=(None, None, 3)):
    """The bare `keras.applications` network (no top), with weights checked first.

    Args:
        name: a backbone name (see `backbone_names()`), case-insensitive.
        weights: "imagenet", the path of a weights file for that network
            (no top), or None for random weights.
        input_shape: the backbone's input shape; channels must be 3.

    Returns:
        The application model, which expects its own preprocessed input.
    """
    key, spec = _spec(name)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(
            f"A backbone takes RGB input (H, W, 3). Received: input_shape={input_shape}"
        )
    weights = _resolve_weights(key, weights, input_shape)
    application = getattr(keras.applications, spec["application"])
    return application(include_top=False, weights=weights, input_shape=input_shape)


def feature_extractor(name, layers=None, weights="imagenet", trainable=False, input_shape=(None, None, 3)):
    """A model mapping [0, 1] images to the activations of named backbone layers.

    Args:
        name: "vgg16", "vgg19", "resnet50", "mobilenetv2", "mobilenetv3small"
            or "efficientnetb0" (case-insensitive).
        layers: a layer name or a list of them (see `stride_layers(name)` for
            the layer at each stride); None for the default set.
        weights: "imagenet" (from the Keras cache; offline, a missing file is
            an immediate ValueError), the path of a local weights file for
            the application without its top, or None for random weights.
        trainable: whether the backbone's weights train.
        input_shape: (H, W, C) of the images, C 1 (repeated to RGB) or 3;
            H and W may be None.

    Returns:
        A functional `keras.Model` taking float32 images in [0, 1] and
        returning one feature map per requested layer, in order: a list, or
        the tensor itself when one layer is requested (Keras unwraps
        single-output models).

    Raises:
        ValueError: unknown backbone or layer, bad weights, ImageNet
            weights that are not available offline, or a fixed input size
            below 32x32.
    """
    key, spec = _spec(name)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError(
            f"input_shape must be (H, W, 1) or (H, W, 3). Received: input_shape={input_shape}"
        )
    fixed = [size for size in input_shape[:2] if size is not None]
    if fixed and min(fixed) < MIN_INPUT_SIZE:
        raise ValueError(
            f"A {spec['application']} backbone needs images of at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} "
            f"pixels. Received: input_shape={input_shape}"
        )
    if layers is None:
        strides = spec["strides"]
        layers = DEFAULT_LAYERS.get(key, (strides[4], strides[8]))
    if isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError("layers must name at least one layer. Received: layers=[]")
    backbone = build_backbone(key, weights=weights, input_shape=input_shape[:2] + (3,))
    names = {layer.name for layer in backbone.layers}
    missing = [layer for layer in layers if layer not in names]
    if missing:
        raise ValueError(
            f"{spec['application']} has no layer {missing[0]!r} (layers by stride: "
            f"{spec['strides']}). Received: layers={layers}"
        )
    features = keras.Model(
        backbone.input, [backbone.get_layer(layer).output for layer in layers], name=f"{key}_features"
    )
    features.trainable = bool(trainable)
    images = keras.Input(shape=input_shape, name="images")
    x = ImageNetPreprocess(spec["preprocess"], name=f"{key}_preprocess")(images)
    return keras.Model(images, features(x), name=f"{key}_extractor")


def perceptual_loss(extractor, layer_weights=None):
    """The feature reconstruction loss of Johnson et al. (ECCV 2016).

    For each feature layer l: the mean over (H, W, C) of the squared
    difference of the features of the target and of the prediction,
    weighted and summed over layers.

    Args:
        extractor: a model from `feature_extractor` (or any model returning
            a list of feature maps).
        layer_weights: None (every layer weighs 1), a list with one weight
            per output, or a dict {layer index: weight}.

    Returns:
        A callable `loss(y_true, y_pred)` returning a float32 tensor of shape
        (batch,): one loss per example, usable as a Keras loss.
    """
    count = len(extractor.outputs)
    if layer_weights is None:
        weights = [1.0] * count
    elif isinstance(layer_weights, dict):
        weights = [float(layer_weights.get(index, 0.0)) for index in range(count)]
    else:
        weights = [float(weight) for weight in layer_weights]
    if len(weights) != count:
        raise ValueError(
            f"layer_weights needs one weight per feature layer ({count}). "
            f"Received: layer_weights={layer_weights}"
        )

    def loss(y_true, y_pred):
        true_features = extractor(ops.cast(y_true, "float32"), training=False)
        pred_features = extractor(ops.cast(y_pred, "float32"), training=False)
        if not isinstance(true_features, (list, tuple)):
            true_features, pred_features = [true_features], [pred_features]
        total = 0.0
        for weight, target, estimate in zip(weights, true_features, pred_features):
            if weight == 0.0:
                continue
            squared = ops.square(ops.cast(estimate, "float32") - ops.cast(target, "float32"))
            total = total + weight * ops.mean(squared, axis=(1, 2, 3))
        return total

    loss.__name__ = "perceptual_loss"
    return loss
