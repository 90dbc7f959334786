"""The evaluation harness: dataset x degradation x model -> metrics and timings.

Every model and baseline is scored the same way: image i of the set is read
(converted to the model's channels when it has fixed ones), degraded with the
seed (seed, i) by the same function from `tfimage.degradations`, restored
through `tfimage.inference.restore`, and compared with the clean image by
`tfimage.metrics`. Because the seeds depend only on the image index, every
model sees exactly the same degraded images.

Denoising follows the papers' convention: noise added to the [0, 1] image
without clipping, PSNR/SSIM on the whole image with data range 1 (RGB
channels for color), the restored image clipped to [0, 1].
"""

import time

import numpy as np

from tfimage import degradations, inference, metrics, pretrained
from tfimage.datasets import pipelines


def noise_degradation(sigma):
    """The seeded additive Gaussian noise of `sigma` (0-255 units) used for evaluation."""
    noise_stddev = degradations.sigma_to_stddev(sigma)
    return lambda image, seed: degradations.gaussian_noise(image, noise_stddev, seed)


def evaluate_denoiser(
    model,
    dataset,
    sigma,
    limit=None,
    seed=0,
    tile=None,
    blind=False,
    data_dir=None,
    progress=None,
    self_ensemble=False,
    color_symmetries=False,
):
    """Scores a denoiser on a benchmark set at one noise level.

    Args:
        model: a model name or `.keras` path (resolved by
            `tfimage.pretrained.load`, baselines included), or a loaded model.
        dataset: a catalogue name ("set12", "bsd68", ...), a bundled set, a
            folder or a list of paths (see `pipelines.load_source`).
        sigma: noise level in 0-255 units.
        limit: score only the first `limit` images.
        seed: base noise seed (image i uses (seed, i)).
        tile: tile size for `inference.restore`, None for whole images.
        blind: do not tell models that take a noise level the true sigma:
            they get an estimate from the noisy image instead.
        data_dir: where catalogue sets and weights are looked for first.
        progress: optional callable(index, total, record) after each image.
        self_ensemble: Keras models: average the 8 flips and quarter turns
            (`inference.predict_image`); the result gets "self_ensemble": 8
            and 8x the seconds.
        color_symmetries: with `self_ensemble`, color denoisers: the 8 views
            also reorder and invert the channels
            (`inference.color_symmetry_self_ensemble`); the result gets
            "color_symmetries": True.

    Returns:
        A dict with "model", "dataset", "sigma", "images", "psnr", "ssim"
        (means), "seconds_per_image" (restoration only, after one untimed
        warm-up call) and "per_image" (name, psnr, ssim, seconds).
    """
    name = model if isinstance(model, str) else getattr(model, "name", type(model).__name__)
    if isinstance(model, str):
        model = pretrained.load(model, data_dir=data_dir)
    channels, _ = inference.model_signature(model)
    paths, images = pipelines.load_source(dataset, channels=channels, limit=limit, data_dir=data_dir)
    noise_stddev = degradations.sigma_to_stddev(sigma)
    degrade = noise_degradation(sigma)
    records = []
    for index, (path, clean) in enumerate(zip(paths, images)):
        noisy = degrade(clean, (seed, index)).numpy()
        noise_level = None if blind else noise_stddev
        if index == 0:
            inference.restore(model, noisy[:64, :64], noise_level=noise_level, tile=None)
        start = time.perf_counter()
        restored = inference.restore(
            model, noisy, noise_level=noise_level, tile=tile, self_ensemble=self_ensemble,
            color_symmetries=color_symmetries,
        )
        seconds = time.perf_counter() - start
        record = {
            "name": str(path),
            "psnr": float(metrics.psnr(clean, restored)),
            "ssim": float(metrics.ssim(clean, restored)),
            "seconds": seconds,
        }
        records.append(record)
        if progress:
            progress(index, len(paths), record)
    fields = {"self_ensemble": 8} if self_ensemble else {}
    if color_symmetries:
        fields["color_symmetries"] = True
    return summarize(records, model=name, dataset=dataset, sigma=sigma, **fields)


def summarize(records, model, dataset, means=(), **fields):
    """The result dict every harness returns: identity fields, then mean metrics.

    Args:
        records: per-image dicts with at least "psnr", "ssim" and "seconds".
        model: the model's name.
        dataset: the catalogue name, or anything else (reported as "custom").
        means: extra per-image keys to average (e.g. "psnr_hole").
        **fields: task fields such as sigma, scale or hole_ratio.

    Returns:
        A dict with "model", "dataset", the fields, "images", "psnr",
        "ssim", "seconds_per_image", the extra means and "per_image".
    """
    summary = {"model": model, "dataset": dataset if isinstance(dataset, str) else "custom", **fields}
    summary["images"] = len(records)
    for key in ("psnr", "ssim", *means):
        summary[key] = float(np.mean([record[key] for record in records]))
    summary["seconds_per_image"] = float(np.mean([record["seconds"] for record in records]))
    summary["per_image"] = records
    return summary
