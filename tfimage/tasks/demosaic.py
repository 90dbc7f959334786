"""Demosaicing: the RGB image of a Bayer (RGGB) sensor mosaic, with a pretrained denoiser as the prior.

Degradation: each pixel of the clean RGB image keeps one color, R at even
rows and columns, B at odd rows and columns, G elsewhere
(`tfimage.operators.mosaic`); the model input is that single-channel
(H, W, 1) mosaic. Images are cropped to an even size. No noise, no
randomness. Models: a denoiser that takes a noise level (ffdnet-color, ...)
runs inside the plug-and-play HQS solver (`tfimage.pnp`, DPIR's 40
iterations, noise 49 -> 0.6 / 255, started from OpenCV's edge-aware
result); the observed samples are put back at the end. Baselines: OpenCV's
bilinear and edge-aware demosaicing. Metric: PSNR/SSIM on RGB with a
10-pixel border removed (DPIR's `border`), the result rounded to 8 bits.

References:
    K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play
    Image Restoration with Deep Denoiser Prior", IEEE TPAMI 44(10), 2021 (DPIR).
    B. E. Bayer, "Color imaging array", US Patent 3,971,065, 1976.
"""

import numpy as np

from tfimage import baselines, execution, pnp
from tfimage.tasks.base import Example, Task, check_image

ITERATIONS = 40
SIGMA_END = 0.6 / 255.0
BORDER = 10


def check_mosaic(image, name="image"):
    """A float32 (H, W, 1) Bayer mosaic of even size (a gray image saved as RGB is taken as gray)."""
    image = check_image(image, name=name)
    if image.shape[2] in (3, 4):
        if not all(np.array_equal(image[:, :, 0], image[:, :, c]) for c in (1, 2)):
            raise ValueError(
                "Demosaicing takes the single-channel sensor mosaic (RGGB), not a color image. "
                f"Received: {name} with shape={image.shape}"
            )
        image = image[:, :, :1]
    if image.shape[2] != 1:
        raise ValueError(f"A Bayer mosaic has one channel. Received: {name} with shape={image.shape}")
    if image.shape[0] % 2 or image.shape[1] % 2:
        raise ValueError(
            f"A Bayer (RGGB) mosaic has an even height and width. Received: {name} of "
            f"{image.shape[0]}x{image.shape[1]}"
        )
    return image


class Demosaic(Task):
    name = "demosaic"
    description = "demosaicing of an RGGB Bayer mosaic (a plug-and-play denoiser, or OpenCV)"
    command = "demosaic"
    default_model = "ffdnet-color"
    input_name = None
    architectures = ()
    baselines = {
        "bilinear-demosaic": {
            "factory": baselines.BilinearDemosaicing, "description": baselines.BilinearDemosaicing.description,
        },
        "edge-aware-demosaic": {
            "factory": baselines.EdgeAwareDemosaicing, "description": baselines.EdgeAwareDemosaicing.description,
        },
    }

    def dataset_channels(self, model):
        return 3

    def describe_result(self, result):
        return "RGGB: " + super().describe_result(result).replace(" s/image", f" s/image ({BORDER}-pixel border cropped)")

    def degrade(self, clean, seed):
        from tfimage import operators

        clean = check_image(clean)
        if clean.shape[2] != 3:
            raise ValueError(f"Demosaicing is measured on RGB images. Received: an image with shape={clean.shape}")
        clean = clean[: clean.shape[0] // 2 * 2, : clean.shape[1] // 2 * 2]
        return Example(clean, operators.mosaic(clean), {})

    def crop(self, example, size):
        size = size // 2 * 2
        return Example(example.reference[:size, :size], example.degraded[:size, :size], {})

    def score(self, example, restored):
        from tfimage import metrics

        restored = np.round(np.clip(restored, 0.0, 1.0) * 255.0) / 255.0
        return {
            "psnr": float(metrics.psnr(example.reference, restored, border=BORDER)),
            "ssim": float(metrics.ssim(example.reference, restored, border=BORDER)),
        }

    def restore_with_baseline(self, baseline, degraded, self_ensemble, color_symmetries):
        return super().restore_with_baseline(baseline, check_mosaic(degraded), self_ensemble, color_symmetries)

    def run_network(self, model, image, tile, overlap, self_ensemble, color_symmetries):
        from tfimage import operators

        if tile:
            raise ValueError(f"The plug-and-play solver works on the whole image: leave tile unset. Received: tile={tile}")
        mosaic = check_mosaic(image)
        if not pnp.is_denoiser(model):
            raise ValueError(
                "Demosaicing runs a denoiser (e.g. ffdnet-color) inside the plug-and-play solver, or a baseline "
                f"({', '.join(self.baselines)}). Received: model={execution.model_name(model)}"
            )
        mask = operators.bayer_mask(mosaic.shape[0], mosaic.shape[1])
        observation = mosaic * mask
        initial = baselines.EdgeAwareDemosaicing().predict_image(mosaic)
        restored = pnp.solve(
            operators.Mask(mask), observation, pnp.denoiser_of(model), 0.0, ITERATIONS, sigma_end=SIGMA_END,
            self_ensemble=self_ensemble, initial=initial, clip=False,
        )
        return np.where(mask > 0, observation, restored)


TASK = Demosaic()
