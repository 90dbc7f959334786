"""Scratch vs pretrained: the same training from random and from pretrained weights.

`transfer_denoise` trains one network twice on a task the pretrained model
has not seen (stronger noise, Poisson noise or JPEG plus noise) with only a
few training images: (i) from random weights, (ii) from the pretrained
weights; same architecture, steps, batches, noise and seeds. It measures the
validation PSNR along the way and how many steps each run needs to reach the
scratch run's final PSNR: the claim "pretraining helps" as a number.
`benchmarks/transfer_denoise.py` runs it at full size and writes the curves
under benchmarks/results/.

Reference for the setting: J. Yosinski, J. Clune, Y. Bengio, H. Lipson, "How
transferable are features in deep neural networks?", NeurIPS 2014.
"""

import csv
import os

import keras

from tfimage import degradations
from tfimage.datasets import pipelines
from tfimage.training import mean_psnr

# Plain-dict presets of the unseen tasks: name -> degradation builder and description.
TRANSFER_TASKS = {
    "sigma75": {
        "description": "Gaussian noise sigma 75 (unseen by DnCNN-S25)",
        "degradation": lambda: (lambda image, seed: degradations.gaussian_noise(image, 75 / 255, seed)),
    },
    "poisson": {
        "description": "Poisson noise, peak 10 photons",
        "degradation": lambda: (lambda image, seed: degradations.poisson_noise(image, 10.0, seed)),
    },
}


class _ValidationCurve(keras.callbacks.Callback):
    """Records the validation PSNR at given optimizer steps."""

    def __init__(self, noisy, clean, at_steps):
        super().__init__()
        self.noisy, self.clean, self.at_steps = noisy, clean, set(at_steps)
        self.curve = {}

    def measure(self):
        return mean_psnr(self.model, self.noisy, self.clean)

    def on_train_begin(self, logs=None):
        if 0 in self.at_steps:
            self.curve[0] = self.measure()

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step in self.at_steps:
            self.curve[step] = self.measure()


def steps_to_reach(curve, target):
    """The first measured step whose PSNR is at least `target` (None if never)."""
    for step in sorted(curve):
        if curve[step] >= target:
            return step
    return None


def transfer_denoise(
    pretrained_name="dncnn-s25",
    task="sigma75",
    train_images=10,
    validation_images=4,
    steps=300,
    eval_steps=None,
    patch_size=40,
    batch_size=16,
    learning_rate=3e-4,
    seed=0,
    train_data="train400",
    validation_data="set12",
    out_dir=None,
    data_dir=None,
    network=None,
    verbose=0,
):
    """Scratch vs pretrained on an unseen denoising task, same steps and seeds.

    Args:
        pretrained_name: the pretrained model (its architecture is copied for
            the scratch run, with fresh random weights).
        task: a key of `TRANSFER_TASKS`.
        train_images: how many images of `train_data` to train on (the first N).
        validation_images: how many images of `validation_data` to measure on
            (the first N).
        steps: optimizer steps for each run.
        eval_steps: the steps at which validation PSNR is measured (default:
            every 5 steps up to 50, then every 25, and the last step).
        patch_size, batch_size, learning_rate, seed: training settings, the
            same for both runs (Adam with gradient clipping; 3e-4 keeps the
            first fine-tuning steps from wiping out the pretrained features).
        train_data, validation_data: catalogue names, folders or path lists.
        out_dir: where `transfer_denoise_<task>.csv` and `.png` go (None:
            write nothing).
        data_dir: where sets and weights are looked for first.
        network: use this Keras network as "pretrained" instead of loading
            `pretrained_name` (tests use a tiny one).
        verbose: Keras fit verbosity.

    Returns:
        A dict with "steps", "scratch" and "pretrained" ({step: PSNR}),
        "target" (the scratch run's final PSNR), "steps_to_target" for both
        runs, "ratio" (pretrained steps / scratch steps) and the paths written.
    """
    from tfimage.models.restorer import Restorer

    if task not in TRANSFER_TASKS:
        raise ValueError(f"Unknown task. Expected one of {sorted(TRANSFER_TASKS)}. Received: task={task!r}")
    degradation = TRANSFER_TASKS[task]["degradation"]()
    if eval_steps is None:
        eval_steps = list(range(0, 50, 5)) + list(range(50, steps + 1, 25))
    eval_steps = sorted({int(step) for step in eval_steps if 0 <= step <= steps} | {steps})
    if network is None:
        from tfimage import zoo

        source = zoo.load(pretrained_name, data_dir=data_dir)
    else:
        source = network
    channels = source.inputs[0].shape[-1]
    if len(source.inputs) != 1:
        raise ValueError(
            f"transfer_denoise needs a single-input network (DnCNN style). Received: "
            f"pretrained_name={pretrained_name!r}"
        )
    _, train = pipelines.load_source(train_data, channels=channels, limit=train_images, data_dir=data_dir)
    _, validation = pipelines.load_source(
        validation_data, channels=channels, limit=validation_images, data_dir=data_dir
    )
    val_noisy = [degradation(image, (seed + 1, index)) for index, image in enumerate(validation)]
    curves = {}
    for run in ("scratch", "pretrained"):
        keras.utils.set_random_seed(seed)
        model = keras.models.clone_model(source)  # fresh random weights, same architecture
        if run == "pretrained":
            model.set_weights(source.get_weights())
        dataset = pipelines.restoration_dataset(
            train, degradation, patch_size=patch_size, batch_size=batch_size, channels=channels, seed=seed
        )
        restorer = Restorer(network=model, loss="l2")
        restorer.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0))
        curve = _ValidationCurve(val_noisy, validation, eval_steps)
        restorer.fit(dataset, epochs=1, steps_per_epoch=steps, callbacks=[curve], verbose=verbose, shuffle=False)
        curves[run] = curve.curve
    target = curves["scratch"][steps]
    reach = {run: steps_to_reach(curves[run], target) for run in curves}
    result = {
        "pretrained_name": pretrained_name if network is None else network.name,
        "task": task,
        "steps": eval_steps,
        "scratch": curves["scratch"],
        "pretrained": curves["pretrained"],
        "target": target,
        "steps_to_target": reach,
        "ratio": (reach["pretrained"] / reach["scratch"]) if reach["pretrained"] is not None and reach["scratch"] else None,
    }
    if out_dir:
        result.update(_write_outputs(result, out_dir))
    return result


def write_curves(stem, steps, scratch, pretrained, pretrained_label, title):
    """Writes `stem`.csv (step, scratch_psnr, pretrained_psnr; atomically) and `stem`.png."""
    from tfimage import plots

    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    temp = stem + ".csv.tmp"
    with open(temp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["step", "scratch_psnr", "pretrained_psnr"])
        for step, first, second in zip(steps, scratch, pretrained):
            writer.writerow([step, f"{first:.4f}", f"{second:.4f}"])
    os.replace(temp, stem + ".csv")
    plots.save_curves(
        steps, {"from scratch": list(scratch), pretrained_label: list(pretrained)}, stem + ".png",
        xlabel="training step", ylabel="validation PSNR (dB)", title=title,
    )
    return {"csv": stem + ".csv", "png": stem + ".png"}


def write_fid_curves(stem, steps, curves, floor, xlabel, title):
    """Writes `stem`.csv (step, one FID column per variant, floor; atomically) and `stem`.png (log scale).

    The format of the few-shot generation curves that `benchmarks/write_results.py`
    renders in one table (GAN, VAE, diffusion model).

    Args:
        stem: the output path without extension.
        steps: the training steps of the measurements.
        curves: variant name -> FID at each step.
        floor: the real-vs-real FID.
        xlabel, title: the plot's labels.

    Returns:
        {"csv": path, "png": path}.
    """
    from tfimage import plots

    os.makedirs(os.path.dirname(stem) or ".", exist_ok=True)
    temp = stem + ".csv.tmp"
    with open(temp, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["step", *curves, "floor"])
        for i, step in enumerate(steps):
            writer.writerow([step, *(f"{float(values[i]):.4f}" for values in curves.values()), f"{float(floor):.4f}"])
    os.replace(temp, stem + ".csv")
    plots.save_curves(steps, dict(curves, floor=[float(floor)] * len(steps)), stem + ".png", xlabel=xlabel,
                      ylabel="FID (MNIST classifier features)", title=title, logy=True)
    return {"csv": stem + ".csv", "png": stem + ".png"}


def _write_outputs(result, out_dir):
    steps = result["steps"]
    return write_curves(
        os.path.join(out_dir, f"transfer_denoise_{result['task']}"), steps,
        [result["scratch"][s] for s in steps], [result["pretrained"][s] for s in steps],
        f"from {result['pretrained_name']}", TRANSFER_TASKS[result["task"]]["description"],
    )
