"""Super-resolution by 2, 3 or 4 from bicubic-downsampled images.

Degradation: the HR image is cropped to a multiple of the scale and
downsampled with TensorFlow's antialiased bicubic kernel
(`tfimage.degradations.bicubic_downsample`). Models map the low-resolution
image (h, w, C) to (h * scale, w * scale, C); a gray (1-channel) model
upscales the BT.601 luma of a color image while Cb and Cr are upsampled
bicubically (SRCNN/VDSR/ESPCN's setting). Metric: PSNR/SSIM on the Y channel
with `scale` pixels cropped from each border (the SR papers' convention).
Baseline: bicubic upsampling.

References:
    C. Dong, C. C. Loy, K. He, X. Tang, "Image Super-Resolution Using Deep
    Convolutional Networks", IEEE TPAMI 38(2), 2016 (the Y-channel protocol).
    B. Lim, S. Son, H. Kim, S. Nah, K. M. Lee, "Enhanced Deep Residual Networks
    for Single Image Super-Resolution", CVPR-W 2017.
"""

import numpy as np

from tfimage import baselines, execution
from tfimage.tasks.base import Example, Task, check_image

MIN_LOW_RES_SIZE = 4


def check_scale(scale):
    """Validates a super-resolution scale: 2, 3 or 4 (ValueError naming `scale` otherwise)."""
    if isinstance(scale, bool) or scale not in (2, 3, 4):
        raise ValueError(f"scale must be 2, 3 or 4. Received: scale={scale!r}")
    return int(scale)


def sr_pair(image, scale):
    """(hr, lr): the HR image cropped to a multiple of `scale` and its bicubic downsampling."""
    from tfimage import degradations

    scale = check_scale(scale)
    image = check_image(image, min_size=scale)
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


def model_scale(model):
    """The upscaling factor of a Keras SR model (measured on a 16x16 probe)."""
    network = execution.network_of(model)
    channels = network.inputs[0].shape[-1] or 3
    output = network(np.zeros((1, 16, 16, channels), np.float32), training=False)
    height = int(output.shape[1])
    if height % 16 or height // 16 < 1:
        raise ValueError(f"Not an integer-scale SR model. Received: model={network.name}")
    return height // 16


def upsampled_input(model):
    """Whether an official model upscales by restoring the bicubic-upsampled image (DnCNN-3's "sr_input")."""
    from tfimage import pretrained

    name = str(execution.model_name(model)).replace("_", "-")  # Keras names the network dncnn_3
    return pretrained.MODELS.get(name, {}).get("sr_input") == "bicubic"


class SuperResolution(Task):
    name = "sr"
    description = "super-resolution by 2, 3 or 4"
    command = "upscale"
    default_model = "bicubic"
    input_name = "scale"
    extra_inputs = ("kernel", "noise_level")
    pnp_iterations = 24
    architectures = ("edsr", "espcn", "unet")
    training_help = "Train a super-resolution network (EDSR-style, ESPCN or U-Net) for one scale."
    baselines = {
        "bicubic": {
            "factory": baselines.Bicubic,
            "description": baselines.Bicubic.description,
            # bicubic PSNR (Y channel, MATLAB imresize) as in the SRCNN/VDSR tables
            "published": {"set5": {2: 33.66, 3: 30.39, 4: 28.42}, "set14": {2: 30.24, 3: 27.55, 4: 26.00}},
        },
    }
    warm_up_size = 32
    result_means = ("psnr_y",)  # with a known kernel

    def add_options(self, parser, purpose):
        from tfimage.tasks.deblur import add_kernel_options

        parser.add_argument("--scale", type=int, choices=(2, 3, 4), required=True, help="upscaling factor")
        if purpose in ("restore", "evaluate"):
            add_kernel_options(parser, purpose, required=False)

    def options_from_args(self, args, purpose):
        options = {"scale": args.scale}
        if purpose in ("restore", "evaluate") and args.kernel is not None:
            options.update(kernel=args.kernel, noise_level=args.noise_level)
        return options

    def restore_inputs(self, model, image, options, name):
        from tfimage import kernels
        from tfimage.tasks.deblur import noise_input

        height, width = image.shape[:2]
        scale = check_scale(options["scale"])
        note = f" ({width}x{height} -> {width * scale}x{height * scale})"
        if options.get("kernel") is None:
            return {"scale": scale}, note
        level, noise_note = noise_input(options, image)
        kernel = kernels.from_spec(options["kernel"], scale=scale)
        return {"scale": scale, "kernel": kernel, "noise_level": level}, note + noise_note

    def protected_files(self, options):
        from tfimage.tasks.deblur import kernel_files

        return kernel_files(options)

    def check_options(self, scale=None, kernel=None, noise_level=None):
        from tfimage import kernels
        from tfimage.tasks.deblur import check_noise_sigma

        scale = check_scale(scale)
        if kernel is None:
            if noise_level is not None:
                raise ValueError(
                    "The noise level belongs to SR with a known kernel: pass kernel too. "
                    f"Received: kernel=None, noise_level={noise_level}"
                )
            return {"scale": scale}
        kernels.from_spec(kernel, scale=scale)
        return {"scale": scale, "kernel": kernel, "noise_level": 0.0 if noise_level is None else check_noise_sigma(noise_level)}

    def result_fields(self, options):
        from tfimage.tasks.deblur import kernel_name

        fields = dict(options)
        if "kernel" in fields:
            fields["kernel"] = kernel_name(fields["kernel"])
        return fields

    def describe_result(self, result):
        scale = result["scale"]
        if "kernel" in result:
            return f"x{scale}, kernel {result['kernel']}, noise {result['noise_level']:g}: " + super().describe_result(
                result
            ).replace(" s/image", f" s/image (RGB, {scale}-pixel border cropped; Y {result['psnr_y']:.2f} dB)")
        return f"x{scale}: " + super().describe_result(result).replace(
            " s/image", f" s/image (Y channel, {scale}-pixel border cropped)"
        )

    def dataset_channels(self, model):
        channels = super().dataset_channels(model)
        return None if channels == 1 else channels  # a gray model upscales color images through Y

    def degrade(self, clean, seed, scale, kernel=None, noise_level=None):
        if kernel is None:
            hr, lr = sr_pair(clean, scale)
            return Example(hr, lr, {"scale": scale})
        from tfimage import degradations, kernels, operators

        hr, _ = sr_pair(clean, scale)
        kernel = kernels.from_spec(kernel, scale=scale)
        stddev = (noise_level or 0.0) / 255.0
        lr = operators.BlurDownsample(kernel, scale, hr.shape[0], hr.shape[1]).forward(hr)
        lr = degradations.gaussian_noise(lr, stddev, seed).numpy() if stddev else lr.numpy()
        return Example(hr, lr, {"scale": scale, "kernel": kernel, "noise_level": stddev})

    def crop(self, example, size):
        inputs = example.inputs
        scale = inputs["scale"]
        if inputs.get("kernel") is not None:
            size = max(size, 2 * max(inputs["kernel"].shape) // scale + 1)
        return Example(example.reference[: size * scale, : size * scale], example.degraded[:size, :size], inputs)

    def score(self, example, restored):
        from tfimage import io, metrics

        if example.inputs.get("kernel") is not None:  # DPIR's convention: RGB (and Y), 8-bit, border cropped
            scale = example.inputs["scale"]
            restored = np.round(np.clip(restored, 0.0, 1.0) * 255.0) / 255.0
            hr = example.reference
            return {
                "psnr": float(metrics.psnr(hr, restored, border=scale)),
                "ssim": float(metrics.ssim(hr, restored, border=scale)),
                "psnr_y": float(metrics.psnr(hr, restored, border=scale, y_channel=hr.shape[2] == 3)),
            }
        hr = example.reference
        if restored.shape[2] != hr.shape[2]:
            hr = io.convert_channels(hr, restored.shape[2], name="the reference image")
        value_psnr, value_ssim = sr_metrics(hr, restored, example.inputs["scale"])
        return {"psnr": value_psnr, "ssim": value_ssim}

    def check_inputs(self, inputs):
        from tfimage import kernels
        from tfimage.tasks.denoise import check_noise_level

        super().check_inputs(inputs)
        if inputs.get("scale") is None:
            raise ValueError("Super-resolution needs the factor: pass scale (2, 3 or 4). Received: scale=None")
        inputs["scale"] = check_scale(inputs["scale"])
        if inputs.get("kernel") is not None:
            inputs["kernel"] = kernels.from_spec(inputs["kernel"], scale=inputs["scale"])
        if inputs.get("noise_level") is not None:
            inputs["noise_level"] = check_noise_level(inputs["noise_level"])

    def restore_with_baseline(self, baseline, degraded, self_ensemble, color_symmetries, scale=None, kernel=None,
                              noise_level=None):
        return super().restore_with_baseline(
            baseline, check_image(degraded, min_size=1), self_ensemble, color_symmetries, scale=scale
        )

    def solve_with_denoiser(self, model, image, tile, self_ensemble, scale, kernel, noise_level):
        """SR with a known kernel: a denoiser inside the plug-and-play solver (`tfimage.pnp`, 24 iterations).

        Without a kernel, the bicubic one (`tfimage.kernels.bicubic`) stands
        for the bicubic degradation. The denoiser's last noise level is
        max(scale, noise) / 255, DPIR's.
        """
        from tfimage import kernels, operators, pnp

        if tile:
            raise ValueError(f"The plug-and-play solver works on the whole image: leave tile unset. Received: tile={tile}")
        kernel = kernels.bicubic(scale) if kernel is None else kernel
        if noise_level is None:
            noise_level = 0.0
        operator = operators.BlurDownsample(kernel, scale, image.shape[0] * scale, image.shape[1] * scale)
        return pnp.solve(
            operator, image, pnp.denoiser_of(model), noise_level, self.pnp_iterations,
            sigma_end=max(scale / 255.0, noise_level), self_ensemble=self_ensemble,
        )

    def run_network(self, model, image, tile, overlap, self_ensemble, color_symmetries, scale=None, kernel=None,
                    noise_level=None):
        from tfimage import color, degradations, io, pnp
        from tfimage.networks.unet import required_multiple

        image = check_image(image, min_size=1)
        if upsampled_input(model):  # DnCNN-3: the network restores the bicubic-upsampled image
            from tfimage.tasks import denoise

            def restore_upsampled(low_res):
                upsampled = degradations.bicubic_upsample(low_res, scale).numpy()
                return denoise.TASK.run_network(model, upsampled, tile, overlap, self_ensemble, False)

            if image.shape[2] == 3:  # on Y, Cb and Cr bicubic (DnCNN-3's protocol)
                return color.on_luma(
                    restore_upsampled, image, chroma=lambda cbcr: degradations.bicubic_upsample(cbcr, scale).numpy()
                )
            return restore_upsampled(image)
        if pnp.is_denoiser(model):
            return self.solve_with_denoiser(model, image, tile, self_ensemble, scale, kernel, noise_level)
        if image.shape[2] not in (1, 3):
            image = io.convert_channels(image, 3, name="the input image")
        network = execution.network_of(model)
        channels = network.inputs[0].shape[-1]
        luma_only = channels == 1 and image.shape[2] == 3
        if channels is not None and image.shape[2] != channels and not luma_only:
            image = io.convert_channels(image, channels, name="the input image")
        own = model_scale(network)
        if own != scale:
            raise ValueError(f"The model upscales by {own}, not by {scale}. Received: scale={scale}")
        minimum = max(MIN_LOW_RES_SIZE, -(-required_multiple(network) // scale))
        if min(image.shape[:2]) < minimum:
            raise ValueError(
                f"The image is too small for this model (it needs at least {minimum}x{minimum} pixels). "
                f"Received: image with shape={image.shape}"
            )
        forward = execution.graph_call(network)

        def upscale(low_res):
            output = np.asarray(forward(low_res[None]), dtype=np.float32)[0]
            if output.shape[:2] != (low_res.shape[0] * scale, low_res.shape[1] * scale):
                raise ValueError(
                    f"The model's output is not {scale}x its input. Received: {low_res.shape} -> {output.shape}"
                )
            return output

        def restore_view(view):
            return self.run_views(model, upscale, view, tile, overlap, self_ensemble, scale=scale)

        if luma_only:  # the SR papers' setting: the network on Y, bicubic on Cb and Cr
            return color.on_luma(
                restore_view, image, chroma=lambda cbcr: degradations.bicubic_upsample(cbcr, scale).numpy()
            )
        return restore_view(image)

    def training_options(self, scale):
        return {"scale": check_scale(scale)}

    def training_degradation(self, scale):
        """`(hr_patch, seed) -> bicubic_downsample(hr_patch, scale)`."""
        from tfimage import degradations

        scale = check_scale(scale)
        return lambda patch, seed: degradations.bicubic_downsample(patch, scale)

    def validation_degradation(self, scale):
        return self.training_degradation(scale)


TASK = SuperResolution()
