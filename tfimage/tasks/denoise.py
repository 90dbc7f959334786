"""Denoising: additive white Gaussian noise of a known or unknown level.

Degradation: Gaussian noise of standard deviation sigma / 255 added to the
[0, 1] image without clipping, seeded per image (`tfimage.degradations`).
Models: DnCNN-style networks map the noisy image to the clean one; FFDNet-
style networks also take the noise level (sigma / 255, shape (batch, 1)),
which is estimated from the image (`baselines.estimate_noise_stddev`) when
not given. Metric: PSNR/SSIM on the whole image, data range 1, RGB channels
for color, restored images clipped to [0, 1] (the DnCNN/FFDNet papers'
convention). Baselines: BM3D, non-local means and the noisy input itself.

References:
    K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, "Beyond a Gaussian Denoiser:
    Residual Learning of Deep CNN for Image Denoising", IEEE TIP 26(7), 2017.
    K. Zhang, W. Zuo, L. Zhang, "FFDNet: Toward a Fast and Flexible Solution
    for CNN-Based Image Denoising", IEEE TIP 27(9), 2018.
"""

import numpy as np

from tfimage import baselines, execution
from tfimage.tasks.base import Example, Task, check_batch, check_image

# Pixels per network batch in `Denoise.restore_batch` (8 images of 350x350; Kodak24 photos go two by two).
BATCH_PIXELS = 1_000_000


def _check_same_size(output_shape, input_shape):
    if tuple(output_shape[:2]) != tuple(input_shape[:2]):
        raise ValueError(
            "The model changed the image size; denoising expects same-size restoration. Received: output "
            f"shape={tuple(output_shape)} for input shape={tuple(input_shape)}"
        )


def check_denoiser(model, name=None):
    """Refuses a model whose second input is a spatial map (an inpainting `[image, mask]` model).

    A second input is read as a noise level; a rank-4 second input is a
    per-pixel mask, which a noise level would silently corrupt.
    """
    network = execution.network_of(model)
    inputs = getattr(network, "inputs", None) or []
    if len(inputs) > 1 and len(inputs[1].shape) == 4:
        raise ValueError(
            "This model takes [image, mask] (an inpainting model), not a noise level: use "
            "`tfimage inpaint` / `inference.restore(..., task='inpaint', mask=...)`. Received: "
            f"model={name or getattr(network, 'name', network)}"
        )


def check_noise_level(noise_level):
    """A noise level in [0, 1] units (sigma / 255) as a float; ValueError otherwise."""
    try:
        level = np.asarray(noise_level, dtype=np.float64)
    except (TypeError, ValueError):
        level = np.asarray(np.nan)
    if level.size != 1 or not np.isfinite(level).all() or not 0.0 <= level.item() <= 1.0:
        raise ValueError(f"noise_level must be one number in [0, 1] (sigma / 255). Received: noise_level={noise_level!r}")
    return float(level.item())


class Denoise(Task):
    name = "denoise"
    description = "Gaussian denoising (noise level given or estimated)"
    command = "denoise"
    default_model = "ffdnet-gray"
    input_name = "noise_level"
    architectures = ("ffdnet", "dncnn")
    training_help = "Train a DnCNN/FFDNet denoiser from scratch or from pretrained weights."
    training_defaults = {"patch_size": 40, "batch_size": 64, "loss": "l2"}
    baselines = {
        "noisy": {"factory": baselines.Noisy, "description": baselines.Noisy.description},
        "bm3d": {
            "factory": baselines.BM3D,
            "description": baselines.BM3D.description,
            # DnCNN paper (Zhang et al. 2017), Tables; CBM3D on CBSD68 from the FFDNet paper.
            "published": {
                "set12": {15: 32.37, 25: 29.97, 50: 26.72},
                "bsd68": {15: 31.07, 25: 28.57, 50: 25.62},
                "cbsd68": {25: 30.71},
            },
        },
        "nlm": {"factory": baselines.NLM, "description": baselines.NLM.description},
    }
    color_symmetries = True
    batches_images = True

    def add_options(self, parser, purpose):
        if purpose == "restore":
            parser.add_argument("--sigma", type=float,
                                help="noise level in 0-255 units (e.g. 25); omitted: estimated from each image")
        elif purpose == "evaluate":
            parser.add_argument("--sigma", type=float, required=True, help="noise level in 0-255 units")
            parser.add_argument("--blind", action="store_true", help="estimate sigma instead of giving it")
        elif purpose == "train":
            noise = parser.add_mutually_exclusive_group(required=True)
            noise.add_argument("--sigma", type=float, help="fixed noise level (0-255)")
            noise.add_argument("--sigma-range", type=float, nargs=2, metavar=("LOW", "HIGH"),
                               help="blind training: a noise level per patch, uniform in the range (0-255)")
            parser.add_argument("--validation-sigma", type=float, help="default: --sigma, or 25 when blind")
            parser.add_argument("--no-residual", dest="residual", action="store_false", help="plain FFDNet output")
            parser.add_argument("--opponent-color", action="store_true",
                                help="start a color model from a gray FFDNet --init run on each opponent color channel")

    def options_from_args(self, args, purpose):
        if purpose == "restore":
            if args.sigma is not None:
                from tfimage import degradations

                degradations.sigma_to_stddev(args.sigma)  # a bad --sigma is refused before any file is read
            return {"sigma": args.sigma}
        if purpose == "evaluate":
            return {"sigma": args.sigma, "blind": args.blind}
        return {"sigma": args.sigma, "sigma_range": args.sigma_range, "validation_sigma": args.validation_sigma}

    def restore_inputs(self, model, image, options, name):
        from tfimage import degradations

        if options["sigma"] is not None:
            return {"noise_level": degradations.sigma_to_stddev(options["sigma"])}, ""
        if not execution.model_signature(model)[1]:
            return {"noise_level": None}, ""
        level = baselines.estimate_noise_stddev(image)
        return {"noise_level": level}, f" (estimated sigma {level * 255:.1f})"

    def check_options(self, sigma=None, blind=False):
        from tfimage import degradations

        if sigma is None:
            raise ValueError("Denoising is evaluated at one noise level: pass sigma (0-255). Received: sigma=None")
        degradations.sigma_to_stddev(sigma)
        return {"sigma": sigma, "blind": bool(blind)}

    def result_fields(self, options):
        fields = {"sigma": options["sigma"]}
        if options["blind"]:
            fields["blind"] = True
        return fields

    def describe_result(self, result):
        return f"sigma {result['sigma']:g}: " + super().describe_result(result)

    def degrade(self, clean, seed, sigma, blind=False):
        from tfimage import degradations

        noise_stddev = degradations.sigma_to_stddev(sigma)
        noisy = degradations.gaussian_noise(clean, noise_stddev, seed).numpy()
        return Example(clean, noisy, {"noise_level": None if blind else noise_stddev})

    def restore_with_baseline(self, baseline, degraded, self_ensemble, color_symmetries, noise_level=None):
        if getattr(baseline, "noise_level_input", False) and noise_level is not None:
            noise_level = check_noise_level(noise_level)
        return super().restore_with_baseline(baseline, degraded, self_ensemble, color_symmetries, noise_level=noise_level)

    def _network_input(self, model, image, noise_level):
        """The checked image (in the model's channels) and noise level (None if the model takes none)."""
        from tfimage.io import convert_channels

        image = check_image(image)
        check_denoiser(model)
        channels, takes_noise_level = execution.model_signature(model)
        if not takes_noise_level:
            noise_level = None
        elif noise_level is None:
            noise_level = baselines.estimate_noise_stddev(image)
        else:
            noise_level = check_noise_level(noise_level)
        if channels is not None and image.shape[2] != channels:
            image = convert_channels(image, channels, name="the input image")
        return image, noise_level

    def restore_batch(self, model, images, inputs, tile=None, overlap=32, self_ensemble=False,
                      color_symmetries=False, max_pixels=BATCH_PIXELS):
        """Restores several images; a Keras denoiser runs same-size images as one batch.

        Whole images only: with tiles or a self-ensemble, and for baselines,
        the images are restored one by one (`Task.restore_batch`). Each
        result equals `restore` of that image alone.

        Args:
            model, images, inputs, tile, overlap, self_ensemble,
                color_symmetries: as in `Task.restore_batch`.
            max_pixels: a network batch holds at most this many pixels (but
                at least one image): on CPUs, batching pays for small images
                and not for large ones, and memory grows with the batch.

        Returns:
            The list of restored images, in order.
        """
        check_batch(images, inputs)
        if not execution.is_keras_model(model) or tile is not None or self_ensemble or color_symmetries or len(images) < 2:
            return super().restore_batch(model, images, inputs, tile, overlap, self_ensemble, color_symmetries)
        for extra in inputs:
            self.check_inputs(extra)
        prepared = [self._network_input(model, image, extra.get("noise_level")) for image, extra in zip(images, inputs)]
        forward = execution.graph_call(execution.network_of(model))
        results = [None] * len(images)
        groups = {}
        for index, (image, _) in enumerate(prepared):
            groups.setdefault(image.shape, []).append(index)
        chunks = []
        for shape, indices in groups.items():
            size = max(1, int(max_pixels) // (shape[0] * shape[1]))
            chunks += [indices[start:start + size] for start in range(0, len(indices), size)]
        for indices in chunks:
            batch = np.stack([prepared[i][0] for i in indices])
            levels = [prepared[i][1] for i in indices]
            feed = batch if levels[0] is None else [batch, np.asarray(levels, dtype=np.float32).reshape(-1, 1)]
            output = np.asarray(forward(feed), dtype=np.float32)
            _check_same_size(output.shape[1:], batch.shape[1:])
            for position, index in enumerate(indices):
                results[index] = np.clip(output[position], 0.0, 1.0).astype(np.float32)
        return results

    def run_network(self, model, image, tile, overlap, self_ensemble, color_symmetries, noise_level=None):
        image, noise_level = self._network_input(model, image, noise_level)
        if color_symmetries:
            out = execution.output_channels(model)
            if image.shape[2] != 3 or out not in (None, 3):
                raise ValueError(
                    "color_symmetries applies to color denoisers (3 channels in, 3 out). Received: model="
                    f"{execution.model_name(model)} with {image.shape[2]} input and {out} output channels"
                )
        forward = execution.graph_call(execution.network_of(model))
        level = None if noise_level is None else np.full((1, 1), noise_level, dtype=np.float32)

        def network(part):
            output = forward(part[None] if level is None else [part[None], level])
            return np.asarray(output, dtype=np.float32)[0]

        restored = self.run_views(model, network, image, tile, overlap, self_ensemble, color_symmetries)
        _check_same_size(restored.shape, image.shape)
        return restored

    def training_options(self, sigma=None, sigma_range=None, validation_sigma=None):
        """Exactly one of `sigma` and `sigma_range`; `validation_sigma` defaults to `sigma`, or 25 clipped into the range."""
        if (sigma is None) == (sigma_range is None):
            raise ValueError(
                f"Give exactly one of sigma and sigma_range. Received: sigma={sigma}, sigma_range={sigma_range}"
            )
        if sigma_range is not None:
            sigma_range = list(sigma_range)
            if len(sigma_range) != 2:
                raise ValueError(f"sigma_range must be (low, high). Received: sigma_range={sigma_range}")
        if validation_sigma is None:
            validation_sigma = sigma if sigma is not None else min(max(25, sigma_range[0]), sigma_range[1])
        return {"sigma": sigma, "sigma_range": sigma_range, "validation_sigma": validation_sigma}

    def training_degradation(self, sigma=None, sigma_range=None, noise_level_input=False):
        """Noise of a fixed `sigma`, or of a per-patch sigma uniform in `sigma_range` (0-255 units).

        Returns `(patch, seed) -> noisy` or, with `noise_level_input`,
        `(patch, seed) -> (noisy, [noise_level])`.
        """
        import tensorflow as tf

        from tfimage import degradations

        if (sigma is None) == (sigma_range is None):
            raise ValueError(
                f"Give exactly one of sigma and sigma_range. Received: sigma={sigma}, sigma_range={sigma_range}"
            )
        if sigma is not None:
            level = degradations.sigma_to_stddev(sigma)

            def fixed(patch, seed):
                noisy = degradations.gaussian_noise(patch, level, seed)
                return (noisy, tf.constant([level], tf.float32)) if noise_level_input else noisy

            return fixed
        low, high = (degradations.sigma_to_stddev(value) for value in sigma_range)

        def ranged(patch, seed):
            noisy, level = degradations.random_gaussian_noise(patch, (low, high), seed)
            return (noisy, level) if noise_level_input else noisy

        return ranged

    def validation_degradation(self, sigma=25, noise_level_input=False):
        """Noise of `sigma` (0-255) on a held-out image; with `noise_level_input`, `(noisy, level)`."""
        import tensorflow as tf

        from tfimage import degradations

        level = degradations.sigma_to_stddev(sigma)

        def noise(image, seed_pair):
            noisy = degradations.gaussian_noise(image, level, seed_pair)
            return (noisy, tf.constant(level)) if noise_level_input else noisy

        return noise


TASK = Denoise()
