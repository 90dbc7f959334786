"""Deblurring: removing a known blur (non-blind deconvolution) with a pretrained denoiser as the prior.

Degradation (IRCNN/DPIR's protocol): the clean image, cropped to a multiple
of 8, is convolved with the kernel with circular boundaries
(`tfimage.operators.Blur`), then white Gaussian noise of the given level is
added, seeded per image, without clipping. Models: a denoiser that takes a
noise level (ffdnet-color, fdncnn-color, ...) runs inside the plug-and-play
HQS solver (`tfimage.pnp`, 8 iterations) with the kernel's closed-form
Fourier data step; no training for deblurring. Baselines: Wiener-Hunt,
unsupervised Wiener-Hunt and Richardson-Lucy (scikit-image). Metric:
PSNR/SSIM on all channels, no border removed, the result rounded to 8 bits
(the scripts' `uint8` output).

References:
    K. Zhang, W. Zuo, S. Gu, L. Zhang, "Learning Deep CNN Denoiser Prior for
    Image Restoration", CVPR 2017 (IRCNN).
    K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play
    Image Restoration with Deep Denoiser Prior", IEEE TPAMI 44(10), 2021 (DPIR).
"""

import os

import numpy as np

from tfimage import baselines, execution, pnp
from tfimage.tasks.base import Example, Task, check_image

ITERATIONS = 8
DEFAULT_NOISE_LEVEL = 2.55  # 0-255 units, DPIR's and IRCNN's usual level


def check_noise_sigma(noise_level, name="noise_level"):
    """A noise level in 0-255 units (as on the command line), >= 0; ValueError naming `name` otherwise."""
    try:
        value = float(noise_level)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or not 0.0 <= value <= 255.0:
        raise ValueError(f"{name} is a noise standard deviation in 0-255 units, from 0 to 255. Received: {name}={noise_level!r}")
    return value


def kernel_name(kernel):
    """How a kernel appears in results: its spec, or "custom HxW" for an array."""
    if isinstance(kernel, (str, os.PathLike)):
        return os.fspath(kernel)
    shape = np.shape(kernel)
    return f"custom {shape[0]}x{shape[1]}"


def kernel_files(options):
    """The kernel file of the options, if it names one (outputs never overwrite it)."""
    spec = options.get("kernel")
    if isinstance(spec, str):
        path = spec.rpartition(":")[0] if spec.lower().rpartition(":")[0].endswith(".mat") else spec
        if os.path.isfile(path):
            return (path,)
    return ()


def add_kernel_options(parser, purpose, required=True):
    """--kernel and --noise-level, shared by deblurring and SR with a known kernel."""
    from tfimage import kernels

    parser.add_argument("--kernel", required=required, help=f"the blur kernel: {kernels.SPEC_HELP}")
    if purpose == "restore":
        parser.add_argument("--noise-level", type=float,
                            help="noise standard deviation in 0-255 units (e.g. 2.55); omitted: estimated from each image")
    else:
        parser.add_argument("--noise-level", type=float, default=None,
                            help="noise standard deviation added after the blur, 0-255 units")


def noise_input(options, image):
    """The noise level input (sigma / 255) for a restore-command image, and a note to print."""
    if options.get("noise_level") is not None:
        return check_noise_sigma(options["noise_level"]) / 255.0, ""
    level = baselines.estimate_noise_stddev(image)
    return level, f" (estimated noise {level * 255:.2f})"


class Deblur(Task):
    name = "deblur"
    description = "deblurring with a known kernel (a plug-and-play denoiser, or Wiener / Richardson-Lucy)"
    command = "deblur"
    default_model = "ffdnet-color"
    input_name = "kernel"
    extra_inputs = ("noise_level",)
    architectures = ()
    baselines = {
        "wiener": {"factory": baselines.Wiener, "description": baselines.Wiener.description},
        "unsupervised-wiener": {
            "factory": baselines.UnsupervisedWiener, "description": baselines.UnsupervisedWiener.description,
        },
        "richardson-lucy": {"factory": baselines.RichardsonLucy, "description": baselines.RichardsonLucy.description},
    }

    def add_options(self, parser, purpose):
        if purpose in ("restore", "evaluate"):
            add_kernel_options(parser, purpose)

    def options_from_args(self, args, purpose):
        return {"kernel": args.kernel, "noise_level": args.noise_level}

    def restore_inputs(self, model, image, options, name):
        from tfimage import kernels

        kernel = kernels.from_spec(options["kernel"])
        level, note = noise_input(options, image)
        return {"kernel": kernel, "noise_level": level}, note

    def protected_files(self, options):
        return kernel_files(options)

    def check_options(self, kernel=None, noise_level=None):
        from tfimage import kernels

        if kernel is None:
            raise ValueError(f"Deblurring needs the blur kernel: {kernels.SPEC_HELP}. Received: kernel=None")
        kernels.from_spec(kernel)  # fails early on a bad spec
        noise_level = DEFAULT_NOISE_LEVEL if noise_level is None else check_noise_sigma(noise_level)
        return {"kernel": kernel, "noise_level": noise_level}

    def result_fields(self, options):
        return {"kernel": kernel_name(options["kernel"]), "noise_level": options["noise_level"]}

    def describe_result(self, result):
        return f"{result['kernel']}, noise {result['noise_level']:g}: " + super().describe_result(result)

    def degrade(self, clean, seed, kernel, noise_level):
        from tfimage import degradations, kernels, operators

        clean = check_image(clean)
        height, width = clean.shape[0] // 8 * 8, clean.shape[1] // 8 * 8
        clean = clean[:height, :width]
        kernel = kernels.from_spec(kernel)
        stddev = check_noise_sigma(noise_level) / 255.0
        blurred = operators.Blur(kernel, height, width).forward(clean)
        noisy = degradations.gaussian_noise(blurred, stddev, seed).numpy()
        return Example(clean, noisy, {"kernel": kernel, "noise_level": stddev})

    def crop(self, example, size):
        size = max(size, 2 * max(example.inputs["kernel"].shape))
        return Example(example.reference[:size, :size], example.degraded[:size, :size], example.inputs)

    def score(self, example, restored):
        return super().score(example, np.round(np.clip(restored, 0.0, 1.0) * 255.0) / 255.0)

    def check_inputs(self, inputs):
        from tfimage import kernels
        from tfimage.tasks.denoise import check_noise_level

        super().check_inputs(inputs)
        if inputs.get("kernel") is None:
            raise ValueError(f"Deblurring needs the blur kernel: {kernels.SPEC_HELP}. Received: kernel=None")
        inputs["kernel"] = kernels.from_spec(inputs["kernel"])
        if inputs.get("noise_level") is not None:
            inputs["noise_level"] = check_noise_level(inputs["noise_level"])

    def run_network(self, model, image, tile, overlap, self_ensemble, color_symmetries, kernel=None, noise_level=None):
        from tfimage import operators

        if tile:
            raise ValueError(
                "The plug-and-play solver works on the whole image (its data step is one FFT): leave tile unset. "
                f"Received: tile={tile}"
            )
        image = check_image(image, min_size=max(kernel.shape))
        if not pnp.is_denoiser(model):
            raise ValueError(
                "Deblurring runs a denoiser (e.g. ffdnet-color) inside the plug-and-play solver, or a baseline "
                f"({', '.join(self.baselines)}). Received: model={execution.model_name(model)}"
            )
        if noise_level is None:
            noise_level = baselines.estimate_noise_stddev(image)
        operator = operators.Blur(kernel, image.shape[0], image.shape[1])
        return pnp.solve(operator, image, pnp.denoiser_of(model), noise_level, ITERATIONS, self_ensemble=self_ensemble)


TASK = Deblur()
