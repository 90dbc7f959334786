"""Inpainting and super-resolution: baselines, prediction, evaluation, transfer.

Inpainting: a network takes `[masked_image, mask]` (mask 1 = hole, as
`tfimage.degradations.random_mask` draws it) and returns the image; the
known pixels are then copied back from the input (`inpaint_image`). Classical
baselines `telea` (A. Telea, "An Image Inpainting Technique Based on the Fast
Marching Method", J. Graphics Tools 9(1), 2004) and `ns` (M. Bertalmio,
A. L. Bertozzi, G. Sapiro, "Navier-Stokes, Fluid Dynamics, and Image and
Video Inpainting", CVPR 2001) run OpenCV's `cv2.inpaint` (radius 3).
`evaluate_inpainting` scores PSNR/SSIM over the whole image and PSNR inside
the holes (`psnr_hole`), with mask i drawn from the seed (seed, i) so every
model fills the same holes.

Super-resolution: every SR model maps a low-resolution image (h, w, C) to
(h * scale, w * scale, C). `evaluate_sr` follows the SR papers' convention:
the HR image is cropped to a multiple of the scale, downsampled with
`tfimage.degradations.bicubic_downsample`, and PSNR/SSIM are measured on the
BT.601 luma (Y) after cropping `scale` pixels from each border. The
`bicubic` baseline upsamples with TensorFlow's bicubic resize.

Gray (1-channel) models restore color images too: an SR model upscales the
Y channel of `tfimage.color.rgb_to_ycbcr` while Cb and Cr are upsampled
bicubically (SRCNN/VDSR/ESPCN's setting), and an inpainting model fills R, G
and B as three gray images.

Baselines share the call shape of `tfimage.baselines` (attributes
`channels`, `noise_level_input`, `description`, `task`, and
`predict_image(image, noise_level=None, mask=None | scale=None)`);
`TASK_BASELINES` has the registry entries.

Transfer: `compare_encoder_init` trains the same U-Net twice from the same
seed, once with its encoder initialised from a pretrained network and once
from random weights, and reports validation PSNR at equal steps.

This module imports NumPy only at the top (TensorFlow loads when a function
needs it), so `tfimage.baselines` can register the baselines cheaply.
"""

import math
import os
import time

import numpy as np

from tfimage.inference import check_baseline_self_ensemble, geometric_self_ensemble, graph_call

INPAINT_RADIUS = 3
MIN_IMAGE_SIZE = 8
MIN_LOW_RES_SIZE = 4


def _check_image(image, name="image"):
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(f"Expected a gray or RGB image (H, W, 1|3). Received: {name} with shape={image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError(f"The image holds NaN or infinite values. Received: {name} with non-finite values")
    return image


def check_sr_scale(scale):
    """Validates a super-resolution scale: 2, 3 or 4 (ValueError naming `scale` otherwise)."""
    if isinstance(scale, bool) or scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4. Received: scale={scale!r}")
    return int(scale)


def check_mask(mask, size=None, name="mask"):
    """Validates an inpainting mask: binary, 1 = hole, optionally of a given size.

    Args:
        mask: array (H, W) or (H, W, 1) (or (H, W, 3|4) with equal color
            channels, e.g. a black-and-white PNG saved as RGB).
        size: the (height, width) the mask must have, or None.
        name: what to call the mask in errors (its file name).

    Returns:
        A float32 (H, W, 1) array of zeros and ones.

    Raises:
        ValueError: not binary, not single-channel, or the wrong size.
    """
    if mask is None:
        raise ValueError(f"An inpainting mask is required (white/1 = hole). Received: {name}=None")
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim == 2:
        mask = mask[:, :, None]
    if mask.ndim == 3 and mask.shape[2] == 4:
        mask = mask[:, :, :3]
    if mask.ndim == 3 and mask.shape[2] == 3:
        if not np.array_equal(mask[:, :, :1].repeat(3, axis=2), mask):
            raise ValueError(
                f"The mask must be black and white (white = hole), not colored. Received: {name}"
            )
        mask = mask[:, :, :1]
    if mask.ndim != 3 or mask.shape[2] != 1:
        raise ValueError(f"The mask must be (H, W) or (H, W, 1). Received: {name} with shape={mask.shape}")
    binary = (mask == 0) | (mask == 1)
    if not np.all(binary):
        values = np.unique(mask[~binary])
        raise ValueError(
            f"The mask must be binary: black (0) keeps a pixel, white (1) marks a hole; it has "
            f"{int(np.sum(~binary))} pixels of other values (e.g. {float(values[0]):.3f}). Received: {name}"
        )
    if size is not None and tuple(mask.shape[:2]) != tuple(size[:2]):
        raise ValueError(
            f"The mask is {mask.shape[1]}x{mask.shape[0]} pixels but the image is "
            f"{size[1]}x{size[0]}. Received: {name}"
        )
    return mask


def read_mask(path, size=None):
    """Reads a mask image file (white = hole) and checks it with `check_mask` (errors name the file)."""
    from tfimage import io

    return check_mask(io.read_image(path), size=size, name=f"mask={path}")


def masked_psnr(reference, estimate, mask, data_range=1.0):
    """PSNR (dB) over the pixels where mask == 1 (the holes), all channels.

    Args:
        reference: the clean image (H, W, C).
        estimate: the inpainted image (H, W, C).
        mask: (H, W, 1), 1 = hole.
        data_range: the peak value.

    Returns:
        A float; inf for a perfect fill, nan when the mask has no hole.
    """
    reference = np.asarray(reference, np.float64)
    estimate = np.asarray(estimate, np.float64)
    mask = np.asarray(mask, np.float64)
    if mask.ndim == 2:
        mask = mask[:, :, None]
    holes = float(mask.sum()) * reference.shape[-1]
    if holes == 0:
        return float("nan")
    mse = float(np.sum(mask * (reference - estimate) ** 2)) / holes
    return float("inf") if mse == 0 else float(10.0 * math.log10(data_range**2 / mse))


# ----------------------------------------------------------------------------- baselines


class _OpenCVInpainting:
    channels = None
    noise_level_input = False
    task = "inpaint"
    flag_name = None

    def __init__(self, radius=INPAINT_RADIUS):
        if int(radius) != radius or radius < 1:
            raise ValueError(f"radius must be a positive int. Received: radius={radius}")
        self.radius = int(radius)

    def predict_image(self, image, noise_level=None, mask=None):
        """Fills the holes (mask == 1) of `image`; known pixels are returned unchanged.

        Args:
            image: float (H, W, C) in [0, 1], C 1 or 3 (hole pixels are ignored).
            noise_level: ignored (the baseline interface's argument).
            mask: (H, W) or (H, W, 1), 1 = hole.

        Returns:
            The inpainted float32 image, clipped to [0, 1].
        """
        import cv2

        image = _check_image(image)
        mask = check_mask(mask, image.shape[:2])
        known = image * (1.0 - mask)
        pixels = np.round(np.clip(known, 0.0, 1.0) * 255.0).astype(np.uint8)
        holes = np.ascontiguousarray(mask[:, :, 0].astype(np.uint8))
        flag = getattr(cv2, self.flag_name)
        if image.shape[2] == 3:
            filled = cv2.inpaint(np.ascontiguousarray(pixels), holes, self.radius, flag)
        else:
            filled = cv2.inpaint(np.ascontiguousarray(pixels[:, :, 0]), holes, self.radius, flag)[:, :, None]
        filled = filled.astype(np.float32) / 255.0
        return np.clip(known + mask * filled, 0.0, 1.0).astype(np.float32)


class Telea(_OpenCVInpainting):
    """Fast-marching inpainting (Telea 2004), OpenCV's INPAINT_TELEA, radius 3.

    Args:
        radius: the neighbourhood radius in pixels.
    """

    description = "Telea 2004 fast-marching inpainting (OpenCV INPAINT_TELEA, radius 3)"
    flag_name = "INPAINT_TELEA"


class NavierStokes(_OpenCVInpainting):
    """Navier-Stokes inpainting (Bertalmio et al. 2001), OpenCV's INPAINT_NS, radius 3.

    Args:
        radius: the neighbourhood radius in pixels.
    """

    description = "Navier-Stokes inpainting (Bertalmio et al. 2001, OpenCV INPAINT_NS, radius 3)"
    flag_name = "INPAINT_NS"


class Bicubic:
    """Bicubic upsampling (TensorFlow's bicubic resize): the SR floor."""

    channels = None
    noise_level_input = False
    task = "sr"
    description = "bicubic upsampling (TensorFlow tf.image.resize), the SR baseline"

    def predict_image(self, image, noise_level=None, scale=None):
        """Upsamples a low-resolution image by `scale` (2, 3 or 4).

        Returns:
            The float32 (H * scale, W * scale, C) image, clipped to [0, 1].
        """
        from tfimage import degradations

        scale = check_sr_scale(scale)
        image = _check_image(image)
        upsampled = degradations.bicubic_upsample(image, scale).numpy()
        return np.clip(upsampled, 0.0, 1.0).astype(np.float32)


# Registry entries in the shape of `tfimage.baselines.BASELINES`. "published":
# bicubic PSNR (Y channel, MATLAB imresize) by test set and scale, as in the
# SRCNN/VDSR tables.
TASK_BASELINES = {
    "telea": {"factory": Telea, "description": Telea.description, "task": "inpaint"},
    "ns": {"factory": NavierStokes, "description": NavierStokes.description, "task": "inpaint"},
    "bicubic": {
        "factory": Bicubic,
        "description": Bicubic.description,
        "task": "sr",
        "published": {"set5": {2: 33.66, 3: 30.39, 4: 28.42}, "set14": {2: 30.24, 3: 27.55, 4: 26.00}},
    },
}


# ----------------------------------------------------------------------------- models


def load_model(model, data_dir=None):
    """Resolves a task model: a task baseline name, a `tfimage.pretrained` name or path, or a model.

    Args:
        model: "telea", "ns", "bicubic", any name `tfimage.pretrained.load`
            accepts, a `.keras` path, or an already loaded model/baseline.
        data_dir: where weights are looked for first.

    Returns:
        A Keras model or a baseline object.
    """
    if not isinstance(model, (str, os.PathLike)):
        return model
    text = os.fspath(model)
    if text in TASK_BASELINES:
        return TASK_BASELINES[text]["factory"]()
    from tfimage.models.saving import register_custom_objects

    register_custom_objects()
    from tfimage import pretrained

    return pretrained.load(text, data_dir=data_dir)


def _is_keras_model(model):
    import keras

    return isinstance(model, keras.Model)


def _network(model):
    network = getattr(model, "network", None)
    return model if network is None else network


def _model_name(model):
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    return getattr(model, "name", type(model).__name__)


def _check_min_size(image, minimum, name="image"):
    if min(image.shape[:2]) < minimum:
        raise ValueError(
            f"The image is too small for this model (its encoder needs at least {minimum}x{minimum} "
            f"pixels). Received: {name} with shape={image.shape}"
        )


def inpaint_image(model, image, mask, composite=True, self_ensemble=False):
    """Fills the holes of one image with an inpainting network or baseline.

    Args:
        model: a Keras model taking `[masked_image, mask]` (e.g.
            `build_unet(extra_inputs=1)`), a `Restorer` around one, or a
            baseline (`Telea`, `NavierStokes`).
        image: float (H, W, C) in [0, 1]; hole pixels are ignored (zeroed).
        mask: (H, W) or (H, W, 1), 1 = hole.
        composite: keep the known pixels of the input and take only the
            holes from the network.
        self_ensemble: Keras models: average the network's fill over the 8
            flips and quarter turns of image and mask
            (`inference.geometric_self_ensemble`, 8x the time).

    Returns:
        The inpainted float32 (H, W, C_model) image, clipped to [0, 1].

    Raises:
        ValueError: bad mask, an image smaller than the encoder allows, or a
            model that does not take `[image, mask]`.
    """
    image = _check_image(image)
    if not _is_keras_model(model):
        if getattr(model, "task", None) != "inpaint":
            raise ValueError(f"The baseline is not an inpainting method. Received: model={_model_name(model)}")
        check_baseline_self_ensemble(_model_name(model), self_ensemble)
        return np.asarray(model.predict_image(image, mask=mask), dtype=np.float32)
    from tfimage import io
    from tfimage.networks.unet import required_multiple

    mask = check_mask(mask, image.shape[:2])
    network = _network(model)
    inputs = network.inputs
    if len(inputs) != 2 or inputs[1].shape[-1] != 1:
        raise ValueError(
            f"An inpainting model takes [image, mask] (mask with 1 channel). Received: model="
            f"{network.name} with inputs {[tuple(tensor.shape) for tensor in inputs]}"
        )
    channels = inputs[0].shape[-1]
    per_channel = channels == 1 and image.shape[2] == 3
    if channels is not None and image.shape[2] != channels and not per_channel:
        image = io.convert_channels(image, channels, name="the input image")
    _check_min_size(image, max(MIN_IMAGE_SIZE, required_multiple(network)))
    known = image * (1.0 - mask)

    def fill(view):  # view: the known pixels with the mask as a last channel
        view_known, view_mask = view[..., :-1], view[..., -1:]
        if per_channel:  # a gray model fills R, G and B as three gray images
            batch = np.transpose(view_known, (2, 0, 1))[..., None]
            masks = np.repeat(view_mask[None], 3, axis=0)
            output = np.asarray(graph_call(network)([batch, masks]), dtype=np.float32)
            return np.transpose(output[..., 0], (1, 2, 0))
        return np.asarray(graph_call(network)([view_known[None], view_mask[None]]), dtype=np.float32)[0]

    stacked = np.concatenate([known, mask], axis=-1)
    output = geometric_self_ensemble(fill, stacked) if self_ensemble else fill(stacked)
    if composite:
        output = known + mask * output
    return np.clip(output, 0.0, 1.0).astype(np.float32)


def model_scale(model):
    """The upscaling factor of a Keras SR model (measured on a 16x16 probe)."""
    network = _network(model)
    channels = network.inputs[0].shape[-1] or 3
    output = network(np.zeros((1, 16, 16, channels), np.float32), training=False)
    height = int(output.shape[1])
    if height % 16 or height // 16 < 1:
        raise ValueError(f"Not an integer-scale SR model. Received: model={network.name}")
    return height // 16


def upscale_image(model, image, scale, self_ensemble=False):
    """Super-resolves one low-resolution image by `scale`.

    Args:
        model: a Keras SR model (low-res in, high-res out: `build_espcn`,
            `build_unet_sr`), a `Restorer` around one, or the `Bicubic`
            baseline.
        image: float (h, w, C) in [0, 1].
        scale: 2, 3 or 4; must be the model's own factor.
        self_ensemble: Keras models: average the network's output over the
            8 flips and quarter turns (`inference.geometric_self_ensemble`,
            the "+" of EDSR+): 8x the time.

    Returns:
        The float32 (h * scale, w * scale, C_model) image, clipped to [0, 1].

    Raises:
        ValueError: a scale not in {2, 3, 4} or not the model's, or an image
            too small for the model.
    """
    scale = check_sr_scale(scale)
    image = _check_image(image)
    if not _is_keras_model(model):
        if getattr(model, "task", None) != "sr":
            raise ValueError(
                f"The baseline is not a super-resolution method. Received: model={_model_name(model)}"
            )
        check_baseline_self_ensemble(_model_name(model), self_ensemble)
        return np.asarray(model.predict_image(image, scale=scale), dtype=np.float32)
    from tfimage import io
    from tfimage.networks.unet import required_multiple

    network = _network(model)
    channels = network.inputs[0].shape[-1]
    luma_only = channels == 1 and image.shape[2] == 3
    if channels is not None and image.shape[2] != channels and not luma_only:
        image = io.convert_channels(image, channels, name="the input image")
    own = model_scale(network)
    if own != scale:
        raise ValueError(f"The model upscales by {own}, not by {scale}. Received: scale={scale}")
    _check_min_size(image, max(MIN_LOW_RES_SIZE, -(-required_multiple(network) // scale)))


    def run_network(low_res):
        output = np.asarray(graph_call(network)(low_res[None]), dtype=np.float32)[0]
        if output.shape[:2] != (low_res.shape[0] * scale, low_res.shape[1] * scale):
            raise ValueError(
                f"The model's output is not {scale}x its input. Received: {low_res.shape} -> {output.shape}"
            )
        return output

    def run(low_res):
        return geometric_self_ensemble(run_network, low_res) if self_ensemble else run_network(low_res)
    if luma_only:  # the SR papers' setting: the network on Y, bicubic on Cb and Cr
        from tfimage import color, degradations

        ycbcr = color.rgb_to_ycbcr(image)
        luma = run(np.ascontiguousarray(ycbcr[:, :, :1]))
        chroma = np.asarray(degradations.bicubic_upsample(ycbcr[:, :, 1:], scale), dtype=np.float32)
        output = color.ycbcr_to_rgb(np.concatenate([luma, chroma], axis=-1))
    else:
        output = run(image)
    return np.clip(output, 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------- degradations


def check_mask_scale(shape_scale):
    """Validates a mask shape scale: None, a size, or a range (low, high); returns None or a tuple of floats."""
    if shape_scale is None:
        return None
    scales = tuple(float(v) for v in np.atleast_1d(shape_scale))
    if len(scales) not in (1, 2) or min(scales) < 8 or scales[0] > scales[-1]:
        raise ValueError(
            "shape_scale must be a size of at least 8 pixels or a range (low, high) with "
            f"8 <= low <= high. Received: shape_scale={shape_scale}"
        )
    return scales


def inpainting_degradation(hole_ratio, kind="strokes", shape_scale=None):
    """The training degradation for `restoration_dataset`: `(patch, seed) -> (masked, mask)`.

    The mask is `tfimage.degradations.random_mask` of the patch size with the
    patch's seed pair, so runs are reproducible.

    Args:
        hole_ratio: the fraction of missing pixels per patch.
        kind: "strokes" or "boxes".
        shape_scale: the image size that sets the stroke (box) size: None
            (the patch's own size: thin strokes), a number, or a range
            `(low, high)` drawn from uniformly per patch. Patches cut from
            large photos should see the holes a whole photo gets, e.g.
            `(128, 512)`.
    """
    import tensorflow as tf

    from tfimage import degradations

    hole_ratio = float(hole_ratio)
    scales = check_mask_scale(shape_scale)
    degradations.random_mask(8, 8, hole_ratio, 0, kind=kind)  # validates the arguments

    def draw(size, seed):
        seed = [int(value) for value in seed]
        scale = None
        if scales is not None:
            scale = np.random.default_rng(seed + [1]).uniform(scales[0], scales[-1])
        return degradations.random_mask(int(size[0]), int(size[1]), hole_ratio, seed, kind=kind, shape_scale=scale)

    def degrade(patch, seed):
        size = tf.shape(patch)[:2]
        mask = tf.numpy_function(draw, [size, tf.cast(seed, tf.int64)], tf.float32, stateful=False)
        mask = tf.reshape(mask, tf.concat([size, [1]], axis=0))
        mask.set_shape(patch.shape[:2].concatenate([1]))
        return patch * (1.0 - mask), mask

    return degrade


def sr_degradation(scale):
    """The training degradation for SR: `(hr_patch, seed) -> bicubic_downsample(hr_patch, scale)`."""
    from tfimage import degradations

    scale = check_sr_scale(scale)
    return lambda patch, seed: degradations.bicubic_downsample(patch, scale)


# ----------------------------------------------------------------------------- evaluation


def _load_set(model, dataset, limit, data_dir):
    from tfimage import inference
    from tfimage.datasets import pipelines

    channels, _ = inference.model_signature(_network(model)) if _is_keras_model(model) else (None, False)
    if channels == 1:
        channels = None  # a gray model restores color images through Y (SR) or per channel (inpainting)
    return pipelines.load_source(dataset, channels=channels, limit=limit, data_dir=data_dir)


def evaluate_inpainting(
    model, dataset, hole_ratio, limit=None, seed=0, kind="strokes", data_dir=None, progress=None,
    self_ensemble=False,
):
    """Scores an inpainting model or baseline on a benchmark set.

    Image i gets the mask `random_mask(H, W, hole_ratio, seed=(seed, i),
    kind)`; the masked image and the mask go to the model, and the result
    (known pixels kept) is compared with the clean image.

    Args:
        model: a name ("telea", "ns", a `tfimage.pretrained` name), a `.keras`
            path, or a loaded model/baseline.
        dataset: a catalogue name ("cbsd68", ...), a folder or a list of paths.
        hole_ratio: fraction of missing pixels, in (0, 0.9].
        limit: score only the first `limit` images.
        seed: base mask seed.
        kind: "strokes" (free-form) or "boxes".
        data_dir: where catalogue sets and weights are looked for first.
        progress: optional callable(index, total, record) after each image.
        self_ensemble: Keras models: the x8 geometric self-ensemble
            (`inpaint_image`); the result gets "self_ensemble": 8.

    Returns:
        A dict with "model", "dataset", "hole_ratio", "kind", "images",
        "psnr" and "ssim" (whole image, means), "psnr_hole" (mean PSNR over
        the hole pixels), "psnr_input" (the masked input's PSNR, the floor),
        "seconds_per_image" (after one untimed warm-up) and "per_image".
    """
    from tfimage import degradations, metrics

    name = _model_name(model)
    model = load_model(model, data_dir=data_dir)
    paths, images = _load_set(model, dataset, limit, data_dir)
    records = []
    for index, (path, clean) in enumerate(zip(paths, images)):
        height, width = clean.shape[:2]
        mask = degradations.random_mask(height, width, hole_ratio, seed=(seed, index), kind=kind)
        masked = clean * (1.0 - mask)
        if index == 0 and _is_keras_model(model):
            inpaint_image(model, masked[:64, :64], mask[:64, :64])
        start = time.perf_counter()
        restored = inpaint_image(model, masked, mask, self_ensemble=self_ensemble)
        seconds = time.perf_counter() - start
        record = {
            "name": str(path),
            "psnr": float(metrics.psnr(clean, restored)),
            "ssim": float(metrics.ssim(clean, restored)),
            "psnr_hole": masked_psnr(clean, restored, mask),
            "psnr_input": float(metrics.psnr(clean, masked)),
            "hole_fraction": float(mask.mean()),
            "seconds": seconds,
        }
        records.append(record)
        if progress:
            progress(index, len(paths), record)
    from tfimage.evaluation import summarize

    fields = {"self_ensemble": 8} if self_ensemble else {}
    return summarize(
        records, model=name, dataset=dataset, means=("psnr_hole", "psnr_input"),
        hole_ratio=float(hole_ratio), kind=kind, **fields,
    )


def sr_pair(image, scale):
    """(hr, lr): the HR image cropped to a multiple of `scale` and its bicubic downsampling."""
    from tfimage import degradations

    scale = check_sr_scale(scale)
    image = _check_image(image)
    height, width = (image.shape[0] // scale) * scale, (image.shape[1] // scale) * scale
    hr = image[:height, :width]
    return hr, degradations.bicubic_downsample(hr, scale).numpy()


def sr_metrics(hr, sr, scale):
    """(psnr, ssim) by the SR convention: Y channel (BT.601) of RGB, `scale`-pixel border cropped."""
    from tfimage import metrics

    return (
        float(metrics.psnr(hr, sr, border=scale, y_channel=True)),
        float(metrics.ssim(hr, sr, border=scale, y_channel=True)),
    )


def evaluate_sr(model, dataset, scale, limit=None, data_dir=None, progress=None, self_ensemble=False):
    """Scores a super-resolution model or baseline on a benchmark set.

    Each HR image is cropped to a multiple of `scale`, bicubic-downsampled
    (`tfimage.degradations.bicubic_downsample`, TensorFlow's antialiased
    bicubic), super-resolved, and compared on the Y channel with `scale`
    border pixels cropped (the SRCNN/VDSR/ESPCN convention).

    Args:
        model: "bicubic", a `tfimage.pretrained` name, a `.keras` path, or a
            loaded model/baseline.
        dataset: a catalogue name ("set5", "set14", ...), a folder or a list
            of paths.
        scale: 2, 3 or 4.
        limit: score only the first `limit` images.
        data_dir: where catalogue sets and weights are looked for first.
        progress: optional callable(index, total, record) after each image.
        self_ensemble: Keras models: the x8 geometric self-ensemble
            (`upscale_image`); the result gets "self_ensemble": 8.

    Returns:
        A dict with "model", "dataset", "scale", "images", "psnr", "ssim"
        (means), "seconds_per_image" (after one untimed warm-up) and
        "per_image".
    """
    scale = check_sr_scale(scale)
    name = _model_name(model)
    model = load_model(model, data_dir=data_dir)
    paths, images = _load_set(model, dataset, limit, data_dir)
    records = []
    for index, (path, image) in enumerate(zip(paths, images)):
        hr, lr = sr_pair(image, scale)
        if index == 0 and _is_keras_model(model):
            upscale_image(model, lr[:32, :32], scale)
        start = time.perf_counter()
        sr = upscale_image(model, lr, scale, self_ensemble=self_ensemble)
        seconds = time.perf_counter() - start
        if sr.shape[2] != hr.shape[2]:
            from tfimage import io

            hr = io.convert_channels(hr, sr.shape[2], name=str(path))
        value_psnr, value_ssim = sr_metrics(hr, sr, scale)
        record = {"name": str(path), "psnr": value_psnr, "ssim": value_ssim, "seconds": seconds}
        records.append(record)
        if progress:
            progress(index, len(paths), record)
    from tfimage.evaluation import summarize

    fields = {"self_ensemble": 8} if self_ensemble else {}
    return summarize(records, model=name, dataset=dataset, scale=scale, **fields)


# ----------------------------------------------------------------------------- transfer


def init_encoder_from(network, source):
    """Copies the leading convolutions of `source` into a plain U-Net's encoder.

    The encoder convolutions (layers named "enc*") are matched in order with
    the convolutions of `source` (e.g. the VGG-style blocks of a classifier).
    When only the input channels of the first pair differ (an inpainting
    U-Net takes image + mask), the shared input channels are copied and the
    rest keep their random values. Copying stops at the first mismatch.

    Args:
        network: a U-Net from `build_unet(encoder=None)` or `build_unet_sr`.
        source: a Keras model, or a name/path `load_model` resolves.

    Returns:
        The number of convolutions copied (at least 1).
    """
    from tfimage.networks.ffdnet import conv_layers

    if isinstance(source, (str, os.PathLike)):
        source = load_model(source)
    targets = [layer for layer in conv_layers(_network(network)) if layer.name.startswith("enc")]
    sources = conv_layers(source)
    copied = 0
    for target, origin in zip(targets, sources):
        kernel, bias = target.get_weights()
        weights = origin.get_weights()
        if len(weights) != 2:
            break
        new_kernel, new_bias = weights
        if new_kernel.shape == kernel.shape and new_bias.shape == bias.shape:
            target.set_weights([new_kernel, new_bias])
        elif copied == 0 and new_kernel.shape[:2] == kernel.shape[:2] and new_kernel.shape[3] == kernel.shape[3]:
            shared = min(kernel.shape[2], new_kernel.shape[2])
            kernel = kernel.copy()
            kernel[:, :, :shared, :] = new_kernel[:, :, :shared, :]
            target.set_weights([kernel, new_bias])
        else:
            break
        copied += 1
    if not copied:
        raise ValueError(
            "No convolution of the pretrained network fits the U-Net encoder (compare its filters with "
            f"the encoder's). Received: source={getattr(source, 'name', source)}"
        )
    return copied


def _center_crop(image, size, multiple=1):
    height = min(image.shape[0], size) // multiple * multiple
    width = min(image.shape[1], size) // multiple * multiple
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return image[top : top + height, left : left + width]


def compare_encoder_init(
    data,
    pretrained,
    task="denoise",
    encoder=None,
    steps=200,
    eval_every=50,
    channels=1,
    filters=(32, 64, 128),
    patch_size=48,
    batch_size=8,
    learning_rate=1e-3,
    sigma=25,
    hole_ratio=0.25,
    scale=2,
    validation_images=4,
    validation_size=96,
    seed=0,
    data_dir=None,
    verbose=0,
):
    """Pretrained vs random encoder initialisation of the same U-Net, at equal steps.

    Both runs build the network from the same seed, train on the same
    patches with the same optimizer, and are scored on the same held-out
    images; only the encoder's starting weights differ.

    Args:
        data: training images: a catalogue name, a folder, a list of paths or
            a list of float32 (H, W, C) arrays. The last
            `validation_images` are held out.
        pretrained: with `encoder=None`, a Keras model or a name/`.keras`
            path whose leading convolutions initialise the plain encoder
            (`init_encoder_from`; e.g. saved_models/mnist-classifier.keras
            with filters (32, 64, ...)); with a backbone `encoder`, its
            weights: "imagenet" or the path of a weights file.
        task: "denoise" (Gaussian noise of `sigma`, residual U-Net),
            "inpaint" (`random_mask` holes of `hole_ratio`) or "sr" (bicubic
            x`scale`, `build_unet_sr`).
        encoder: None (plain convolution blocks) or a backbone name.
        steps: optimizer steps of each run; a multiple of `eval_every`.
        eval_every: steps between validation scores.
        channels: 1 or 3.
        filters: U-Net widths.
        patch_size, batch_size, learning_rate: training settings (Adam).
        sigma: denoising noise level (0-255 units).
        hole_ratio: inpainting hole fraction.
        scale: SR factor.
        validation_images: held-out images.
        validation_size: held-out images are center-cropped to this size.
        seed: seeds weights, patches and degradations.
        data_dir: where catalogue sets are looked for first.
        verbose: Keras fit verbosity.

    Returns:
        A dict with "task", "encoder", "steps" (0, eval_every, ..., steps),
        "pretrained" and "scratch" (mean validation PSNR in dB at each of
        those steps), "copied_layers" (plain encoder) and "seconds".
    """
    import keras

    from tfimage import degradations, metrics
    from tfimage.datasets import pipelines
    from tfimage.models.restorer import Restorer
    from tfimage.networks.unet import build_unet, build_unet_sr

    if task not in ("denoise", "inpaint", "sr"):
        raise ValueError(f"task must be 'denoise', 'inpaint' or 'sr'. Received: task={task!r}")
    if steps < 1 or eval_every < 1 or steps % eval_every:
        raise ValueError(
            f"steps must be a positive multiple of eval_every={eval_every}. Received: steps={steps}"
        )
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], np.ndarray):
        images = [np.asarray(image, np.float32) for image in data]
    else:
        _, images = pipelines.load_source(data, channels=channels, data_dir=data_dir)
    if len(images) <= validation_images:
        raise ValueError(
            f"Need more than validation_images={validation_images} images. Received: {len(images)} images"
        )
    train_images, val_images = images[:-validation_images], images[-validation_images:]
    multiple = scale if task == "sr" else 8
    val_clean = [_center_crop(image, validation_size, multiple) for image in val_images]

    if task == "denoise":
        level = degradations.sigma_to_stddev(sigma)

        def degradation(patch, seed_pair):
            return degradations.gaussian_noise(patch, level, seed_pair)

        val_inputs = [
            degradations.gaussian_noise(image, level, (seed + 1, i)).numpy() for i, image in enumerate(val_clean)
        ]
    elif task == "inpaint":
        degradation = inpainting_degradation(hole_ratio)
        val_inputs = []
        for i, image in enumerate(val_clean):
            mask = degradations.random_mask(image.shape[0], image.shape[1], hole_ratio, seed=(seed + 1, i))
            val_inputs.append((image * (1.0 - mask), mask))
    else:
        check_sr_scale(scale)
        if patch_size % scale:
            raise ValueError(f"patch_size must be a multiple of scale={scale}. Received: patch_size={patch_size}")
        degradation = sr_degradation(scale)
        val_inputs = [sr_pair(image, scale)[1] for image in val_clean]

    def build(weights):
        keras.utils.set_random_seed(seed)
        if task == "sr":
            return build_unet_sr(scale, channels, encoder=encoder, filters=filters, weights=weights)
        return build_unet(
            channels, encoder=encoder, filters=filters, extra_inputs=1 if task == "inpaint" else 0,
            weights=weights, residual=task == "denoise",
        )

    def score(network):
        values = []
        for clean, inputs in zip(val_clean, val_inputs):
            if task == "inpaint":
                restored = inpaint_image(network, inputs[0], inputs[1])
            elif task == "sr":
                restored = upscale_image(network, inputs, scale)
            else:
                restored = np.clip(np.asarray(graph_call(network)(inputs[None]))[0], 0.0, 1.0)
            values.append(float(metrics.psnr(clean, restored)))
        return float(np.mean(values))

    class Record(keras.callbacks.Callback):
        def __init__(self, history):
            super().__init__()
            self.history_values = history

        def on_epoch_end(self, epoch, logs=None):
            self.history_values.append(score(self.model.network))

    start = time.perf_counter()
    result = {"task": task, "encoder": encoder or "plain", "steps": list(range(0, steps + 1, eval_every))}
    for run in ("pretrained", "scratch"):
        if encoder is None:
            network = build(None)
            if run == "pretrained":
                result["copied_layers"] = init_encoder_from(network, pretrained)
        else:
            network = build(pretrained if run == "pretrained" else None)
        # An inpainting network's second input, the mask, passes through as it is.
        restorer = Restorer(network, noise_level_input=task == "inpaint")
        restorer.compile(optimizer=keras.optimizers.Adam(learning_rate))
        dataset = pipelines.restoration_dataset(
            train_images, degradation, patch_size=patch_size, batch_size=batch_size, channels=channels, seed=seed
        )
        history = [score(network)]
        restorer.fit(
            dataset, epochs=steps // eval_every, steps_per_epoch=eval_every, callbacks=[Record(history)],
            verbose=verbose, shuffle=False,
        )
        result[run] = history
    result["seconds"] = time.perf_counter() - start
    return result
