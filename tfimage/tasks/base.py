"""What every restoration task has: the `Task` base class.

A task (denoising, super-resolution, inpainting, ...) is one module of
`tfimage.tasks` holding one `Task` subclass instance, `TASK`. It owns, in one
place, everything that differs between tasks:

- its seeded degradation for evaluation (`degrade`) and for training
  (`training_degradation`, `validation_degradation`), built from
  `tfimage.degradations`;
- the input its models take beside the image (`input_name`: a noise level,
  a scale, a mask) and how a network is run on an image (`run_network`);
- its classical baselines (`baselines`, classes of `tfimage.baselines`);
- its metric convention (`score`);
- its command-line options (`add_options`, `options_from_args`).

`tfimage.inference.restore`, `tfimage.evaluation.evaluate`, the training
loop and the CLI call these methods and nothing task-specific, so a new task
is a new module plus one line in `tfimage/tasks/__init__.py`
(docs/architecture.md walks through one).

Task modules import NumPy only at the top: the command line reads their
options before TensorFlow loads.
"""

import numpy as np

from tfimage import execution

MIN_IMAGE_SIZE = 8


class Example:
    """One evaluation sample: the reference, the degraded image and the model inputs.

    Args:
        reference: the clean image scores are measured against.
        degraded: the model's image input.
        inputs: the task's other model inputs by name (e.g. {"mask": mask}).
    """

    def __init__(self, reference, degraded, inputs):
        self.reference = reference
        self.degraded = degraded
        self.inputs = dict(inputs)


def check_batch(images, inputs):
    """Refuses a `restore_batch` call without exactly one inputs dict per image."""
    if len(images) != len(inputs):
        raise ValueError(f"Give one inputs dict per image. Received: {len(images)} images, {len(inputs)} inputs")


def check_image(image, name="image", min_size=MIN_IMAGE_SIZE):
    """A float32 (H, W, C) copy of `image`; ValueError for a bad shape, NaN/inf or a too small image."""
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3:
        raise ValueError(f"Expected an image of shape (height, width, channels). Received: {name} with shape={image.shape}")
    if not np.all(np.isfinite(image)):
        raise ValueError(
            f"The image holds NaN or infinite values. Received: {name} with "
            f"{int(np.sum(~np.isfinite(image)))} non-finite values"
        )
    if min(image.shape[:2]) < min_size:
        raise ValueError(
            f"The image must be at least {min_size}x{min_size} pixels. Received: {name} with shape={image.shape}"
        )
    return image


class Task:
    """The interface of a restoration task (subclasses fill in the task-specific parts).

    Class attributes:
        name: the registry key and CLI word ("denoise", "sr", "inpaint").
        description: one line for help texts.
        input_name: the model input beside the image (`restore(..., **{input_name: value})`),
            or None.
        extra_inputs: further keyword inputs of `restore` (e.g. a blur kernel).
        architectures: the `--arch` choices of `tfimage train TASK` (the
            first is the default; `tfimage.training.build_network` builds them).
        training_help: the help line of `tfimage train TASK`.
        training_defaults: that command's patch_size, batch_size and loss.
        baselines: name -> {"factory", "description"[, "published"]}, the
            classical methods of `tfimage.baselines` for this task.
        result_means: per-image keys averaged into the result besides psnr/ssim.
        warm_up_size: the crop an untimed first call runs on (evaluation).
        color_symmetries: whether the color-symmetry self-ensemble applies.
        batches_images: whether `restore_batch` runs same-size images as one
            network batch (else it restores them one by one).
        command: the `tfimage COMMAND IN... -o OUT` that restores files.
        default_model: that command's --model default.
    """

    name = None
    description = ""
    command = None
    default_model = None
    input_name = None
    extra_inputs = ()
    architectures = ()
    training_help = None
    training_defaults = {"patch_size": 64, "batch_size": 16, "loss": "l1"}
    baselines = {}
    result_means = ()
    warm_up_size = 64
    color_symmetries = False
    batches_images = False

    # ------------------------------------------------------------------ options

    def add_options(self, parser, purpose):
        """Adds the task's options to an argparse parser.

        Args:
            parser: the command's parser.
            purpose: "restore" (`tfimage denoise|upscale|inpaint`),
                "evaluate" (`tfimage evaluate TASK`) or "train"
                (`tfimage train TASK`).
        """

    def options_from_args(self, args, purpose):
        """The keyword options of `add_options`' flags, as a dict."""
        return {}

    def restore_inputs(self, model, image, options, name):
        """The `restore` inputs for one image file of the restore command, and a note to print.

        Args:
            model: the loaded model or baseline.
            image: the image read from the file.
            options: `options_from_args(args, "restore")`.
            name: the file's path (for errors and notes).

        Returns:
            A pair (inputs dict, note string).
        """
        return {}, ""

    def protected_files(self, options):
        """Files of the restore command's options that an output must never overwrite."""
        return ()

    def check_options(self, **options):
        """Evaluation options with defaults filled in and values checked (ValueError names the option)."""
        return options

    def result_fields(self, options):
        """The task fields of an evaluation result (e.g. {"sigma": 25})."""
        return dict(options)

    def describe_result(self, result):
        """One line for the CLI after an evaluation."""
        return (
            f"{result['images']} images, PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.4f}, "
            f"{result['seconds_per_image']:.3f} s/image"
        )

    # ------------------------------------------------------------------ models

    def dataset_channels(self, model):
        """The channels benchmark images are read with for `model` (None: as stored)."""
        channels, _ = execution.model_signature(model) if execution.is_keras_model(model) else (None, False)
        return channels

    def load_baseline(self, name):
        """A baseline object by name, or None when `name` is not one of this task's baselines."""
        entry = self.baselines.get(name)
        return None if entry is None else entry["factory"]()

    # ------------------------------------------------------------------ evaluation

    def degrade(self, clean, seed, **options):
        """The seeded evaluation sample of one clean image (an `Example`)."""
        raise NotImplementedError

    def crop(self, example, size):
        """A small `Example` cut from the top-left corner (the untimed warm-up call)."""
        inputs = {
            key: value[:size, :size] if isinstance(value, np.ndarray) and value.ndim >= 2 else value
            for key, value in example.inputs.items()
        }
        return Example(example.reference[:size, :size], example.degraded[:size, :size], inputs)

    def score(self, example, restored):
        """Per-image metrics of `restored` against `example.reference` (a dict with psnr and ssim)."""
        from tfimage import metrics

        return {
            "psnr": float(metrics.psnr(example.reference, restored)),
            "ssim": float(metrics.ssim(example.reference, restored)),
        }

    # ------------------------------------------------------------------ restoration

    def check_inputs(self, inputs):
        """Checks the keyword inputs of `restore` (`input_name` and `extra_inputs` are accepted)."""
        accepted = ((self.input_name,) if self.input_name else ()) + tuple(self.extra_inputs)
        unknown = sorted(set(inputs) - set(accepted))
        if unknown:
            expected = f"only {', '.join(f'{key}=' for key in accepted)}" if accepted else "no input besides the image"
            raise ValueError(
                f"The {self.name} task takes {expected}. Received: {', '.join(f'{key}=' for key in unknown)}"
            )

    def restore(self, model, degraded, tile=None, overlap=32, self_ensemble=False, color_symmetries=False, **inputs):
        """Restores one degraded image with a Keras model or a baseline (see `tfimage.inference.restore`)."""
        self.check_inputs(inputs)
        if not execution.is_keras_model(model):
            return self.restore_with_baseline(model, degraded, self_ensemble, color_symmetries, **inputs)
        tile, overlap = execution.check_tiling(tile, overlap, self.tile_alignment(model))
        if color_symmetries and not self_ensemble:
            raise ValueError(
                "color_symmetries chooses the views of the self-ensemble: pass self_ensemble=True too. "
                "Received: self_ensemble=False, color_symmetries=True"
            )
        if color_symmetries and not self.color_symmetries:
            raise ValueError(
                f"color_symmetries applies to denoising, not to the {self.name} task. Received: color_symmetries=True"
            )
        restored = self.run_network(model, degraded, tile, overlap, self_ensemble, color_symmetries, **inputs)
        return np.clip(restored, 0.0, 1.0).astype(np.float32)

    def restore_batch(self, model, images, inputs, tile=None, overlap=32, self_ensemble=False,
                      color_symmetries=False):
        """Restores several images; each result equals `restore` of that image alone.

        Tasks whose network can take a batch override this to run images of
        one size in one network call (`Denoise` does); this default restores
        them one by one.

        Args:
            model: a Keras model or a baseline (as in `restore`).
            images: a sequence of degraded images.
            inputs: one dict of the task's model inputs per image (as the
                `**inputs` of `restore`).
            tile, overlap, self_ensemble, color_symmetries: as in `restore`.

        Returns:
            The list of restored images, in order.
        """
        check_batch(images, inputs)
        return [self.restore(model, image, tile=tile, overlap=overlap, self_ensemble=self_ensemble,
                             color_symmetries=color_symmetries, **extra) for image, extra in zip(images, inputs)]

    def restore_with_baseline(self, baseline, degraded, self_ensemble, color_symmetries, **inputs):
        """A classical baseline's `predict_image` (baselines take neither tiles nor self-ensembles)."""
        name = execution.model_name(baseline)
        if self_ensemble or color_symmetries:
            raise ValueError(
                "self_ensemble and color_symmetries apply to Keras models, not to classical baselines. "
                f"Received: model={name}, self_ensemble={bool(self_ensemble)}, color_symmetries={bool(color_symmetries)}"
            )
        if not callable(getattr(baseline, "predict_image", None)):
            raise ValueError(f"Expected a Keras model or a baseline with predict_image. Received: model={name}")
        if getattr(baseline, "task", None) != self.name:
            raise ValueError(
                f"The baseline solves the {getattr(baseline, 'task', None)!r} task, not {self.name!r}. "
                f"Received: model={name}"
            )
        return np.asarray(baseline.predict_image(degraded, **inputs), dtype=np.float32)

    def tile_alignment(self, model):
        """Tile origins fall on multiples of this (the network's downsampling factor, at least 8)."""
        from tfimage.networks.unet import required_multiple

        return max(execution.TILE_ALIGNMENT, required_multiple(execution.network_of(model)))

    def run_network(self, model, image, tile, overlap, self_ensemble, color_symmetries, **inputs):
        """The network's output for one image (before clipping)."""
        raise NotImplementedError

    def run_views(self, model, network, image, tile, overlap, self_ensemble, color_symmetries=False, scale=1):
        """`network` (the model on one (h, w, C) array) over the tiles of `image`, or of each x8 view.

        Args:
            model: the Keras model (its downsampling factor aligns the tiles).
            network: maps an (h, w, C) array to the (scale * h, scale * w, C') output.
            image: the (H, W, C) array.
            tile, overlap: `execution.run_tiled`'s settings.
            self_ensemble, color_symmetries: average over the x8 (color-)symmetry views.
            scale: the output's size over the input's.
        """
        alignment = self.tile_alignment(model)

        def run(view):
            return execution.run_tiled(network, view, tile, overlap, scale, alignment)

        if self_ensemble and color_symmetries:
            return execution.color_symmetry_self_ensemble(run, image)
        if self_ensemble:
            return execution.geometric_self_ensemble(run, image)
        return run(image)

    # ------------------------------------------------------------------ training

    def training_options(self, **options):
        """The options of `tfimage train TASK` (`options_from_args(args, "train")`), checked, defaults filled in.

        The training loop (`tfimage.training.train_restorer`) records the result in the
        run's train_config.json and passes `training_degradation` and
        `validation_degradation` the options each takes (`validation_NAME`, when
        not None, replaces NAME for validation). Its signature lists the
        options (those without a default are required); it fills in defaults
        that depend on other options, so that the record says what was used.
        """
        raise NotImplementedError

    def training_degradation(self, **options):
        """`(patch, seed) -> model input` for `tfimage.datasets.pipelines.restoration_dataset`."""
        raise NotImplementedError

    def validation_degradation(self, **options):
        """`(image, seed_pair) -> model input` for held-out whole images (`training.ValidationPSNR`)."""
        raise NotImplementedError
