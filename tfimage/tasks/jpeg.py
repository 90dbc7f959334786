"""JPEG deblocking: removing the artifacts of JPEG compression at quality 1-100.

Degradation (DnCNN-3's protocol, `Demo_test_DnCNN3.m`): a color image is
reduced to its luma, MATLAB's `rgb2ycbcr` Y of the 8-bit RGB image rounded to
8 bits (`tfimage.color.luma_8bit`); a gray image is taken as Y. That gray Y
image is encoded as a JPEG at quality Q and decoded again with TensorFlow's
`tf.io.encode_jpeg` / `tf.io.decode_jpeg` (libjpeg-turbo with the standard
IJG quantisation tables scaled by Q, decoded with the accurate integer IDCT;
`tfimage.degradations.jpeg_compress`), not MATLAB's `imwrite`, which the
published numbers used (also IJG libjpeg). Decoded this way the LIVE1
images are pixel for pixel those Pillow writes and reads. There is no
randomness, so the seed is unused. The reference is the rounded Y.
Models: a gray (1-channel) network maps the decoded Y image to the restored
one; it takes no other input (the quality is not needed). A color image
(e.g. a user's JPEG file) is restored on its Y channel with Cb and Cr kept
(`tfimage.color.on_luma`). Metric: PSNR/SSIM on Y over the whole image (no
border crop), the restored image clipped and rounded to 8 bits first (the
paper's `im2uint8`). Baseline: the decoded JPEG itself (`jpeg-input`, the floor).

References:
    K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, "Beyond a Gaussian Denoiser:
    Residual Learning of Deep CNN for Image Denoising", IEEE TIP 26(7), 2017
    (DnCNN-3, the LIVE1 Y-channel protocol).
    C. Dong, Y. Deng, C. C. Loy, X. Tang, "Compression Artifacts Reduction by a
    Deep Convolutional Network", ICCV 2015 (AR-CNN, LIVE1).
"""

import numpy as np

from tfimage import baselines, execution
from tfimage.tasks.base import Example, Task, check_image


def check_quality(quality):
    """A JPEG quality as an int in 1-100; ValueError naming `quality` otherwise."""
    try:
        valid = not isinstance(quality, bool) and float(quality) == int(quality) and 1 <= int(quality) <= 100
    except (TypeError, ValueError, OverflowError):
        valid = False
    if not valid:
        raise ValueError(f"quality must be an integer from 1 to 100. Received: quality={quality!r}")
    return int(quality)


def jpeg_pair(clean, quality):
    """(reference, compressed): the 8-bit Y of `clean` and its decoded JPEG at `quality`, float32 (H, W, 1)."""
    from tfimage import color, degradations

    quality = check_quality(quality)
    reference = color.luma_8bit(check_image(clean, name="the clean image"))
    return reference, degradations.jpeg_compress(reference, quality).numpy()


class Jpeg(Task):
    name = "jpeg"
    description = "JPEG deblocking (compression artifacts removed, quality 1-100)"
    command = "dejpeg"
    default_model = "dncnn-3"
    input_name = None
    architectures = ("dncnn",)
    training_help = "Train a DnCNN JPEG deblocker for one quality."
    training_defaults = {"patch_size": 48, "batch_size": 64, "loss": "l2"}
    baselines = {
        "jpeg-input": {"factory": baselines.JpegInput, "description": baselines.JpegInput.description},
    }

    def add_options(self, parser, purpose):
        if purpose in ("evaluate", "train"):
            parser.add_argument("--quality", type=int, required=True, help="JPEG quality, 1-100 (e.g. 10)")

    def options_from_args(self, args, purpose):
        return {} if purpose == "restore" else {"quality": args.quality}

    def check_options(self, quality=None):
        if quality is None:
            raise ValueError(
                "JPEG deblocking is evaluated at one quality: pass quality (1-100). Received: quality=None"
            )
        return {"quality": check_quality(quality)}

    def describe_result(self, result):
        return f"q{result['quality']}: " + super().describe_result(result).replace(" s/image", " s/image (Y channel)")

    def dataset_channels(self, model):
        return None  # read as stored: `degrade` takes the luma of color images

    def degrade(self, clean, seed, quality):
        reference, compressed = jpeg_pair(clean, quality)
        return Example(reference, compressed, {})

    def score(self, example, restored):
        from tfimage import io, metrics

        restored = np.round(np.clip(restored, 0.0, 1.0) * 255.0) / 255.0  # im2uint8
        if restored.shape[2] != example.reference.shape[2]:
            restored = io.convert_channels(restored, example.reference.shape[2], name="the restored image")
        return {
            "psnr": float(metrics.psnr(example.reference, restored)),
            "ssim": float(metrics.ssim(example.reference, restored)),
        }

    def run_network(self, model, image, tile, overlap, self_ensemble, color_symmetries):
        from tfimage import color, io

        image = check_image(image)
        if image.shape[2] not in (1, 3):
            image = io.convert_channels(image, 3, name="the input image")
        network = execution.network_of(model)
        if len(network.inputs) > 1:
            raise ValueError(
                "JPEG deblocking runs networks that take the image alone (e.g. dncnn-3). Received: model="
                f"{execution.model_name(model)} with {len(network.inputs)} inputs"
            )
        channels = network.inputs[0].shape[-1]
        luma_only = channels == 1 and image.shape[2] == 3
        if channels is not None and image.shape[2] != channels and not luma_only:
            image = io.convert_channels(image, channels, name="the input image")
        forward = execution.graph_call(network)

        def restore_part(part):
            return np.asarray(forward(part[None]), dtype=np.float32)[0]

        def restore_view(view):
            return self.run_views(model, restore_part, view, tile, overlap, self_ensemble)

        restored = color.on_luma(restore_view, image) if luma_only else restore_view(image)
        if restored.shape[:2] != image.shape[:2]:
            raise ValueError(
                "The model changed the image size; JPEG deblocking expects same-size restoration. Received: "
                f"output shape={restored.shape} for input shape={image.shape}"
            )
        return restored

    def training_options(self, quality):
        return {"quality": check_quality(quality)}

    def training_degradation(self, quality):
        """`(patch, seed) -> the patch JPEG-compressed at quality` (the patch's own 8x8 block grid)."""
        from tfimage import degradations

        quality = check_quality(quality)
        return lambda patch, seed: degradations.jpeg_compress(patch, quality)

    def validation_degradation(self, quality):
        return self.training_degradation(quality)


TASK = Jpeg()
