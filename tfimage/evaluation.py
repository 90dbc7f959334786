"""The evaluation harness: dataset x task degradation x model -> metrics and timings.

Every task, model and baseline is scored the same way: image i of the set is
read (converted to the channels the task reads for that model), degraded by
the task with the seed (seed, i) (`Task.degrade`), restored through
`tfimage.inference.restore`, and scored by the task's metric convention
(`Task.score`). Because the seeds depend only on the image index, every model
sees exactly the same degraded images. One untimed warm-up call on a small
crop comes first (graph tracing), so seconds per image measure restoration.
"""

import inspect
import time

import numpy as np

from tfimage import execution, inference, zoo
from tfimage.datasets import pipelines
from tfimage.tasks import get_task


def evaluate(model, dataset, task="denoise", limit=None, seed=0, tile=None, self_ensemble=False,
             color_symmetries=False, data_dir=None, progress=None, **options):
    """Scores a model or baseline on a benchmark set for one task.

    Args:
        model: a name or `.keras` path (resolved by `tfimage.zoo.load`,
            baselines included) or a loaded model or baseline.
        dataset: a catalogue name ("set12", "bsd68", "set5", ...), a bundled
            set, a folder or a list of paths (see `pipelines.load_source`).
        task: a name of `tfimage.tasks.TASKS`.
        limit: score only the first `limit` images.
        seed: base degradation seed (image i uses (seed, i)).
        tile: tile size for Keras models, None for whole images.
        self_ensemble: Keras models: the x8 self-ensemble; the result gets
            "self_ensemble": 8.
        color_symmetries: denoising, with `self_ensemble`: color views; the
            result gets "color_symmetries": True.
        data_dir: where catalogue sets and weights are looked for first.
        progress: optional callable(index, total, record) after each image.
        **options: the task's options: `sigma` (0-255) and `blind` for
            "denoise", `scale` for "sr", `hole_ratio` and `kind` for
            "inpaint".

    Returns:
        A dict with "model", "dataset", "task", the task fields (e.g.
        "sigma"), "images", "psnr", "ssim" (means), "seconds_per_image",
        the task's extra means (inpainting: "psnr_hole", "psnr_input") and
        "per_image" (name, metrics, seconds).
    """
    task = get_task(task)
    accepted = inspect.signature(task.check_options).parameters
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise ValueError(
            f"The {task.name} task takes the options {', '.join(accepted)}. "
            f"Received: {', '.join(f'{key}={options[key]!r}' for key in unknown)}"
        )
    options = task.check_options(**options)
    name = execution.model_name(model)
    model = zoo.load(model, data_dir=data_dir)
    paths, images = pipelines.load_source(
        dataset, channels=task.dataset_channels(model), limit=limit, data_dir=data_dir
    )
    degrade_options = {key: value for key, value in options.items()}
    records = []
    for index, (path, clean) in enumerate(zip(paths, images)):
        example = task.degrade(clean, (seed, index), **degrade_options)
        if index == 0 and execution.is_keras_model(model):
            small = task.crop(example, task.warm_up_size)
            inference.restore(model, small.degraded, task=task, **small.inputs)
        start = time.perf_counter()
        restored = inference.restore(
            model, example.degraded, task=task, tile=tile, self_ensemble=self_ensemble,
            color_symmetries=color_symmetries, **example.inputs,
        )
        seconds = time.perf_counter() - start
        record = {"name": str(path), **task.score(example, restored), "seconds": seconds}
        records.append(record)
        if progress:
            progress(index, len(paths), record)
    fields = task.result_fields(options)
    if self_ensemble:
        fields["self_ensemble"] = 8
    if color_symmetries:
        fields["color_symmetries"] = True
    return summarize(records, model=name, dataset=dataset, task=task.name, means=task.result_means, **fields)


def summarize(records, model, dataset, task, means=(), **fields):
    """The result dict of every evaluation: identity fields, then mean metrics.

    Args:
        records: per-image dicts with at least "psnr", "ssim" and "seconds".
        model: the model's name.
        dataset: the catalogue name, or anything else (reported as "custom").
        task: the task's name.
        means: extra per-image keys to average (e.g. "psnr_hole").
        **fields: task fields such as sigma, scale or hole_ratio.

    Returns:
        A dict with "model", "dataset", "task", the fields, "images", "psnr",
        "ssim", "seconds_per_image", the extra means and "per_image".
    """
    summary = {"model": model, "dataset": dataset if isinstance(dataset, str) else "custom", "task": task, **fields}
    summary["images"] = len(records)
    for key in ("psnr", "ssim", *means):
        if records and key in records[0]:  # a task's extra means may depend on its options
            summary[key] = float(np.mean([record[key] for record in records]))
    summary["seconds_per_image"] = float(np.mean([record["seconds"] for record in records]))
    summary["per_image"] = records
    return summary
