"""An inpainting U-Net that refines a classical fill: normalized convolution, then a residual U-Net.

Holes are first filled inside the model by multi-scale normalized
convolution (H. Knutsson and C.-F. Westin, "Normalized and Differential
Convolution", CVPR 1993): at each Gaussian scale, the blurred known pixels
divided by the blurred known-pixel mask; the finest scale whose support is
large enough wins; on its own the fill is comparable to OpenCV's Telea
inpainting. A U-Net
(`build_unet`, residual) then sees the filled image and the mask and
predicts a correction, so training starts from a good image instead of
zeros in the holes. With `composite=True` the model's output keeps the
known pixels of its input and takes only the holes from the U-Net (as in
Yu et al., "Generative Image Inpainting with Contextual Attention", CVPR
2018), so a pixel loss on the output is a loss on the holes alone.
"""

import keras
import numpy as np
from keras import ops

from tfimage.networks.unet import build_unet, widen_unet


def _gaussian(sigma):
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-(x**2) / (2 * sigma * sigma))
    return kernel / kernel.sum()


@keras.saving.register_keras_serializable(package="tfimage")
class NormalizedConvolutionFill(keras.layers.Layer):
    """Fills the holes of `[image, mask]` (mask 1 = hole) by multi-scale normalized convolution.

    Args:
        sigmas: Gaussian scales in pixels, fine to coarse.
        threshold: the blurred known-pixel fraction a scale needs to be used.
    """

    def __init__(self, sigmas=(1.0, 2.0, 4.0, 8.0, 16.0), threshold=0.05, **kwargs):
        super().__init__(**kwargs)
        self.sigmas = tuple(float(sigma) for sigma in sigmas)
        self.threshold = float(threshold)
        if not self.sigmas or min(self.sigmas) <= 0:
            raise ValueError(f"sigmas must be positive. Received: sigmas={sigmas}")

    def _blur(self, x, sigma):
        import tensorflow as tf

        kernel = _gaussian(sigma)
        channels = x.shape[-1]
        horizontal = tf.constant(np.tile(kernel[None, :, None, None], (1, 1, channels, 1)))
        vertical = tf.constant(np.tile(kernel[:, None, None, None], (1, 1, channels, 1)))
        x = tf.nn.depthwise_conv2d(x, horizontal, [1, 1, 1, 1], "SAME")
        return tf.nn.depthwise_conv2d(x, vertical, [1, 1, 1, 1], "SAME")

    def call(self, inputs):
        image, mask = inputs
        known = 1.0 - ops.cast(mask, "float32")
        kept = ops.cast(image, "float32") * known
        fill = None
        for sigma in reversed(self.sigmas):
            support = self._blur(known, sigma)
            estimate = self._blur(kept, sigma) / ops.maximum(support, 1e-6)
            fill = estimate if fill is None else ops.where(support > self.threshold, estimate, fill)
        return kept + (1.0 - known) * fill

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(sigmas=list(self.sigmas), threshold=self.threshold)
        return config


@keras.saving.register_keras_serializable(package="tfimage")
class HoleComposite(keras.layers.Layer):
    """`[image, mask, prediction] -> image * (1 - mask) + prediction * mask` (mask 1 = hole)."""

    def call(self, inputs):
        image, mask, prediction = inputs
        mask = ops.cast(mask, prediction.dtype)
        return ops.cast(image, prediction.dtype) * (1.0 - mask) + prediction * mask

    def compute_output_shape(self, input_shape):
        return input_shape[2]


def is_composited(network):
    """Whether an inpainting network's output already keeps its known pixels (ends in `HoleComposite`)."""
    return bool(network.layers) and isinstance(network.layers[-1], HoleComposite)


def with_hole_composite(network):
    """The same inpainting network (shared weights) with its output composited: known pixels kept.

    Args:
        network: a Keras model taking `[image, mask]` (mask 1 = hole).

    Returns:
        `network` itself when it already ends in `HoleComposite`, else a new
        functional model around it.
    """
    inputs = getattr(network, "inputs", None) or []
    if len(inputs) != 2 or inputs[1].shape[-1] != 1:
        raise ValueError(
            "with_hole_composite takes an inpainting network with inputs [image, mask (H, W, 1)]. "
            f"Received: network={getattr(network, 'name', network)} with inputs "
            f"{[tuple(tensor.shape) for tensor in inputs]}"
        )
    if is_composited(network):
        return network
    image = keras.Input(shape=inputs[0].shape[1:], name="image")
    mask = keras.Input(shape=inputs[1].shape[1:], name="mask")
    output = HoleComposite(name="composite")([image, mask, network([image, mask])])
    return keras.Model([image, mask], output, name=network.name)


def build_inpainting_unet(channels=1, filters=(24, 48, 96, 192), sigmas=(1.0, 2.0, 4.0, 8.0, 16.0),
                          threshold=0.05, zero_init=False, composite=False, name="inpaint_unet"):
    """Normalized-convolution fill followed by a residual U-Net.

    Args:
        channels: image channels, 1 or 3.
        filters: U-Net widths, shallow to deep.
        sigmas, threshold: see `NormalizedConvolutionFill`.
        zero_init: start the U-Net's output convolution at zero, so the
            untrained model returns the fill. The default (random init)
            trains better.
        composite: keep the known pixels in the output (`HoleComposite`),
            so a training loss on the output counts the holes only.
        name: the model name.

    Returns:
        A `keras.Model` taking `[masked_image (B, H, W, channels), mask (B, H, W, 1)]`
        (mask 1 = hole; hole pixels are ignored) and returning the image.
    """
    image = keras.Input(shape=(None, None, channels), name="image")
    mask = keras.Input(shape=(None, None, 1), name="mask")
    filled = NormalizedConvolutionFill(sigmas, threshold, name="fill")([image, mask])
    unet = build_unet(channels, filters=filters, extra_inputs=1, residual=True, name=f"{name}_unet")
    if zero_init:
        output_conv = [layer for layer in unet.layers if isinstance(layer, keras.layers.Conv2D)][-1]
        output_conv.set_weights([np.zeros_like(weight) for weight in output_conv.get_weights()])
    output = unet([filled, mask])
    if composite:
        output = HoleComposite(name="composite")([image, mask, output])
    return keras.Model([image, mask], output, name=name)


def _refinement_unet(network):
    """The last residual U-Net of an inpainting network (the `build_unet` model its last stage calls)."""
    for layer in reversed(network.layers):
        if isinstance(layer, keras.Model):
            inner = _refinement_unet(layer)
            if inner is not None:
                return inner
            if any(isinstance(sub, keras.layers.Add) and sub.name == "residual" for sub in layer.layers):
                return layer
    return None


def with_refinement_stage(network, correction_scale=0.1, freeze_first_stage=True, name=None):
    """A coarse-to-fine inpainting cascade: `network`, then a copy of its last U-Net refines its output.

    Cascades of this kind (e.g. Yu et al., "Generative Image Inpainting with
    Contextual Attention", CVPR 2018) let the second network work on an image
    whose holes are already plausibly filled. The new stage starts as a
    copy of `network`'s last residual U-Net (the only one of a single-stage
    network; on a cascade this adds a third stage, and so on) with its output
    convolution scaled by `correction_scale`, so the untrained cascade is
    close to `network` alone (applying the same correction twice would
    overshoot).

    Args:
        network: an inpainting network taking `[image, mask]` that contains a
            residual U-Net (`build_inpainting_unet`, composited or not, or
            a cascade this function made).
        correction_scale: factor on the copied U-Net's output convolution.
        freeze_first_stage: keep `network`'s weights fixed (sets
            `network.trainable = False`; training then updates the new
            stage only).
        name: the model name (default: the network's + "_refined").

    Returns:
        A `keras.Model` taking `[image, mask]` whose output keeps the known
        pixels (`HoleComposite`).
    """
    inputs = getattr(network, "inputs", None) or []
    unet = _refinement_unet(network) if len(inputs) == 2 else None
    if unet is None or inputs[1].shape[-1] != 1:
        raise ValueError(
            "with_refinement_stage takes an inpainting network with inputs [image, mask (H, W, 1)] and a "
            f"residual U-Net inside. Received: network={getattr(network, 'name', network)}"
        )
    if not float(correction_scale) > 0:
        raise ValueError(f"correction_scale must be positive. Received: correction_scale={correction_scale}")
    config = unet.get_config()
    config["name"] = "refine_unet"
    refine = unet.__class__.from_config(config)
    refine.set_weights(unet.get_weights())
    output_conv = refine.get_layer("output_conv")
    output_conv.set_weights([weight * float(correction_scale) for weight in output_conv.get_weights()])
    return _cascade(network, refine, freeze_first_stage, name or f"{network.name}_refined")


def _cascade(network, refine, freeze_first_stage, name):
    """`[image, mask] -> composite(refine([composite(network([image, mask])), mask]))`."""
    if freeze_first_stage:
        network.trainable = False
    image = keras.Input(shape=network.inputs[0].shape[1:], name="image")
    mask = keras.Input(shape=network.inputs[1].shape[1:], name="mask")
    coarse = network([image, mask])
    if not is_composited(network):
        coarse = HoleComposite(name="coarse_composite")([image, mask, coarse])
    fine = refine([coarse, mask])
    output = HoleComposite(name="composite")([image, mask, fine])
    return keras.Model([image, mask], output, name=name)


def with_wider_refinement(network, factor=2.0, freeze_first_stage=True, seed=0):
    """The same inpainting cascade with a wider last stage that starts as the same function.

    The last stage's U-Net is widened by `factor` at every level with
    `tfimage.networks.unet.widen_unet` (Net2WiderNet, Chen et al., ICLR
    2016), so training goes on from the cascade's own output with more
    capacity where the fine details are made.

    Args:
        network: a cascade from `with_refinement_stage` (its last stage is
            the layer "refine_unet"; the stages before it are one sub-model).
        factor: width multiplier of the last stage, at least 1.
        freeze_first_stage: keep the earlier stages' weights fixed.
        seed: seeds the widening (which channels are copied, the noise).

    Returns:
        A new `keras.Model` taking `[image, mask]`; the first stage is
        shared with `network`.
    """
    stages = [layer for layer in getattr(network, "layers", []) if isinstance(layer, keras.Model)]
    refine = [layer for layer in stages if layer.name == "refine_unet"]
    first = [layer for layer in stages if layer.name != "refine_unet"]
    if len(refine) != 1 or len(first) != 1:
        raise ValueError(
            "with_wider_refinement takes an inpainting cascade (with_refinement_stage). "
            f"Received: network={getattr(network, 'name', network)} with sub-models {[layer.name for layer in stages]}"
        )
    wide = widen_unet(refine[0], factor, seed=seed, name="refine_unet")
    return _cascade(first[0], wide, freeze_first_stage, network.name)
