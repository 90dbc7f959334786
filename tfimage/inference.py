"""Restoring images: one `restore` for every task, model and baseline.

`restore(model, degraded, task=...)` runs a Keras model (as a cached graph,
optionally tile by tile and over the x8 self-ensemble) or a classical
baseline on one float32 (H, W, C) image in [0, 1]. What differs between
tasks (the extra model input, how the network is called, the output size)
lives in the task modules of `tfimage.tasks`; the shared machinery (graphs,
tiles, views) in `tfimage.execution`.
"""

from tfimage.tasks import get_task


def restore(model, degraded, task="denoise", tile=None, overlap=32, self_ensemble=False, color_symmetries=False,
            **inputs):
    """Restores one image with a Keras model or a classical baseline.

    Examples:
        restore(zoo.load("ffdnet-gray"), noisy, noise_level=25 / 255)
        restore(zoo.load("tfimage-sr-x4"), low_res, task="sr", scale=4)
        restore(zoo.load("tfimage-inpaint"), masked, task="inpaint", mask=mask)

    Args:
        model: a Keras model, a `Restorer` (its network is run), or a
            baseline object of `tfimage.baselines` (from `tfimage.zoo.load`).
        degraded: float array (H, W, C) or (H, W) in [0, 1]. When C differs
            from the model's input channels it is converted
            (`tfimage.io.convert_channels`, which warns), except where the
            task restores color through a gray model (super-resolution on Y,
            inpainting per channel).
        task: a name of `tfimage.tasks.TASKS` ("denoise", "sr", "inpaint").
        tile: Keras models: None to run the whole image at once, or the tile
            size in pixels (at least 2 * overlap + 8) to bound memory.
        overlap: pixels shared by neighbouring tiles; use at least twice the
            network's receptive-field radius for seamless results.
        self_ensemble: Keras models: average the 8 flips and quarter turns
            (`execution.geometric_self_ensemble`): 8x the time.
        color_symmetries: with `self_ensemble`, color denoisers: the 8 views
            also reorder R, G, B and invert every other view
            (`execution.color_symmetry_self_ensemble`), the same 8 passes.
        **inputs: the task's model input: `noise_level` (denoise: sigma in
            [0, 1] units; None: estimated for models that take one, dropped
            for those that do not), `scale` (sr: 2, 3 or 4) or `mask`
            (inpaint: (H, W[, 1]), 1 = hole).

    Returns:
        The restored float32 image, clipped to [0, 1]: (H, W, C_model), or
        (scale * H, scale * W, C) for super-resolution.

    Raises:
        ValueError: an unknown task or input, a bad image (NaN, too small,
            wrong rank), bad tile settings, a model that does not fit the
            task, or self_ensemble/color_symmetries for a baseline.
    """
    return get_task(task).restore(
        model, degraded, tile=tile, overlap=overlap, self_ensemble=self_ensemble, color_symmetries=color_symmetries,
        **inputs,
    )
