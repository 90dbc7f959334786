"""Inpainting: filling holes given by a binary mask (1 = hole).

Degradation: a free-form (strokes) or box mask with a given fraction of
missing pixels (`tfimage.degradations.random_mask`, seeded per image); hole
pixels are zeroed. Models take `[masked_image, mask]` and return the image;
the known pixels are then copied back from the input. A gray (1-channel)
model fills R, G and B of a color image as three gray images. Metric:
PSNR/SSIM over the whole image, plus PSNR inside the holes (`psnr_hole`) and
the masked input's PSNR (`psnr_input`, the floor). Baselines: OpenCV's Telea
and Navier-Stokes inpainting.

References:
    J. Yu, Z. Lin, J. Yang, X. Shen, X. Lu, T. Huang, "Free-Form Image
    Inpainting with Gated Convolution", ICCV 2019 (free-form masks).
    A. Telea, "An Image Inpainting Technique Based on the Fast Marching
    Method", J. Graphics Tools 9(1), 2004.
"""

import math

import numpy as np

from tfimage import baselines, execution, pnp
from tfimage.tasks.base import Example, Task, check_image

MASK_KINDS = ("strokes", "boxes")
# The plug-and-play solver's schedule for a denoiser model (`tfimage.pnp`).
PNP_ITERATIONS = 40
PNP_SIGMA_END = 1.0 / 255.0


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
            raise ValueError(f"The mask must be black and white (white = hole), not colored. Received: {name}")
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
            f"The mask is {mask.shape[1]}x{mask.shape[0]} pixels but the image is {size[1]}x{size[0]}. Received: {name}"
        )
    return mask


def read_mask(path, size=None):
    """Reads a mask image file (white = hole) and checks it with `check_mask` (errors name the file)."""
    from tfimage import io

    return check_mask(io.read_image(path), size=size, name=f"mask={path}")


def masked_psnr(reference, estimate, mask, data_range=1.0):
    """PSNR (dB) over the pixels where mask == 1 (the holes), all channels.

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


class Inpainting(Task):
    name = "inpaint"
    description = "inpainting of free-form or box holes (mask: 1 = hole)"
    command = "inpaint"
    default_model = "telea"
    input_name = "mask"
    architectures = ("unet",)
    training_help = "Train a U-Net inpainting network on free-form (or box) holes."
    baselines = {
        "telea": {"factory": baselines.Telea, "description": baselines.Telea.description},
        "ns": {"factory": baselines.NavierStokes, "description": baselines.NavierStokes.description},
    }
    result_means = ("psnr_hole", "psnr_input")

    def add_options(self, parser, purpose):
        if purpose == "restore":
            parser.add_argument("--mask", required=True, metavar="MASK", help="binary mask image, white = hole")
            return
        parser.add_argument("--hole-ratio", type=float, default=0.25, help="fraction of missing pixels (0.25)")
        parser.add_argument("--mask-kind", "--kind", dest="mask_kind", choices=MASK_KINDS, default="strokes",
                            help="mask shapes")
        if purpose == "train":
            parser.add_argument("--mask-scale", type=float, nargs="+", metavar="SIZE",
                                help="image size (or LOW HIGH range) that sets the strokes' width and length; "
                                     "default: the patch's (thin strokes)")
            parser.add_argument("--composite-holes", action="store_true",
                                help="keep the known pixels in the network's output (also around --init), "
                                     "so the loss counts the holes only")
            parser.add_argument("--refinement-stage", action="store_true",
                                help="add a refinement stage (a copy of the --init network's last U-Net) that "
                                     "refines its output, and train only that (on a two-stage --init: a third)")

    def options_from_args(self, args, purpose):
        if purpose == "restore":
            return {"mask": args.mask}
        options = {"hole_ratio": args.hole_ratio, "kind": args.mask_kind}
        if purpose == "train":
            options["shape_scale"] = args.mask_scale
        return options

    def restore_inputs(self, model, image, options, name):
        mask = read_mask(options["mask"], size=image.shape[:2])
        return {"mask": mask}, f" ({int(mask.sum())} hole pixels, {100 * mask.mean():.1f}%)"

    def protected_files(self, options):
        return (options["mask"],)

    def check_options(self, hole_ratio=0.25, kind="strokes"):
        from tfimage import degradations

        degradations.random_mask(8, 8, hole_ratio, 0, kind=kind)  # validates both
        return {"hole_ratio": float(hole_ratio), "kind": kind}

    def describe_result(self, result):
        return (
            f"holes {100 * result['hole_ratio']:g}% ({result['kind']}): {result['images']} images, "
            f"PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.4f}, PSNR in holes {result['psnr_hole']:.2f} dB "
            f"(masked input {result['psnr_input']:.2f} dB), {result['seconds_per_image']:.3f} s/image"
        )

    def dataset_channels(self, model):
        channels = super().dataset_channels(model)
        return None if channels == 1 else channels  # a gray model fills color images per channel

    def solve_with_denoiser(self, model, image, mask, tile, self_ensemble):
        """Plug-and-play inpainting: a denoiser inside the HQS solver (`tfimage.pnp`), started from Telea's fill."""
        from tfimage import operators

        if tile:
            raise ValueError(f"The plug-and-play solver works on the whole image: leave tile unset. Received: tile={tile}")
        known = image * (1.0 - mask)
        initial = baselines.Telea().predict_image(known, mask=mask)
        restored = pnp.solve(
            operators.Mask(np.repeat(1.0 - mask, image.shape[2], axis=2)), known, pnp.denoiser_of(model), 0.0,
            PNP_ITERATIONS, sigma_end=PNP_SIGMA_END, self_ensemble=self_ensemble, initial=initial, clip=False,
        )
        return known + mask * restored

    def degrade(self, clean, seed, hole_ratio, kind="strokes"):
        from tfimage import degradations

        height, width = clean.shape[:2]
        mask = degradations.random_mask(height, width, hole_ratio, seed=seed, kind=kind)
        return Example(clean, clean * (1.0 - mask), {"mask": mask})

    def score(self, example, restored):
        from tfimage import metrics

        clean, mask = example.reference, example.inputs["mask"]
        scores = super().score(example, restored)
        scores.update(
            psnr_hole=masked_psnr(clean, restored, mask),
            psnr_input=float(metrics.psnr(clean, example.degraded)),
            hole_fraction=float(mask.mean()),
        )
        return scores

    def restore_with_baseline(self, baseline, degraded, self_ensemble, color_symmetries, mask=None):
        image = check_image(degraded)
        mask = check_mask(mask, image.shape[:2])
        return super().restore_with_baseline(baseline, image, self_ensemble, color_symmetries, mask=mask)

    def run_network(self, model, image, tile, overlap, self_ensemble, color_symmetries, mask=None):
        from tfimage import io
        from tfimage.networks.unet import required_multiple

        image = check_image(image)
        mask = check_mask(mask, image.shape[:2])
        network = execution.network_of(model)
        inputs = network.inputs
        if pnp.is_denoiser(model):
            return self.solve_with_denoiser(model, image, mask, tile, self_ensemble)
        if len(inputs) != 2 or inputs[1].shape[-1] != 1:
            raise ValueError(
                f"An inpainting model takes [image, mask] (mask with 1 channel). Received: model="
                f"{network.name} with inputs {[tuple(tensor.shape) for tensor in inputs]}"
            )
        channels = inputs[0].shape[-1]
        per_channel = channels == 1 and image.shape[2] == 3
        if channels is not None and image.shape[2] != channels and not per_channel:
            image = io.convert_channels(image, channels, name="the input image")
        minimum = max(8, required_multiple(network))
        if min(image.shape[:2]) < minimum:
            raise ValueError(
                f"The image is too small for this model (its encoder needs at least {minimum}x{minimum} "
                f"pixels). Received: image with shape={image.shape}"
            )
        known = image * (1.0 - mask)
        forward = execution.graph_call(network)

        def fill(view):  # view: the known pixels with the mask as a last channel
            view_known, view_mask = view[..., :-1], view[..., -1:]
            if per_channel:  # a gray model fills R, G and B as three gray images
                batch = np.transpose(view_known, (2, 0, 1))[..., None]
                masks = np.repeat(view_mask[None], 3, axis=0)
                output = np.asarray(forward([batch, masks]), dtype=np.float32)
                return np.transpose(output[..., 0], (1, 2, 0))
            return np.asarray(forward([view_known[None], view_mask[None]]), dtype=np.float32)[0]

        output = self.run_views(model, fill, np.concatenate([known, mask], axis=-1), tile, overlap, self_ensemble)
        return known + mask * output  # the known pixels stay as they are

    def training_options(self, hole_ratio=0.25, kind="strokes", shape_scale=None):
        """The hole ratio (0.25), the mask kind ("strokes") and the shape scale as a list (or None)."""
        scales = check_mask_scale(shape_scale)
        return {"hole_ratio": hole_ratio, "kind": kind, "shape_scale": None if scales is None else list(scales)}

    def training_degradation(self, hole_ratio, kind="strokes", shape_scale=None):
        """`(patch, seed) -> (masked, mask)` with `random_mask` of the patch size and the patch's seed.

        Args:
            hole_ratio: the fraction of missing pixels per patch.
            kind: "strokes" or "boxes".
            shape_scale: the image size that sets the stroke (box) size: None
                (the patch's own size: thin strokes), a number, or a range
                `(low, high)` drawn from uniformly per patch (patches cut from
                large photos should see the holes a whole photo gets).
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

    def validation_degradation(self, hole_ratio, kind="strokes", shape_scale=None):
        """`(image, seed_pair) -> (masked, mask)`; `shape_scale` None sizes the holes by the image itself."""
        from tfimage import degradations

        if shape_scale is not None:
            shape_scale = float(np.mean(check_mask_scale(shape_scale)))

        def holes(image, seed_pair):
            mask = degradations.random_mask(
                image.shape[0], image.shape[1], hole_ratio, seed=tuple(int(v) for v in seed_pair), kind=kind,
                shape_scale=shape_scale,
            )
            return (image * (1.0 - mask), mask)

        return holes


TASK = Inpainting()
