"""The restoration training loop: `train_restorer` and its callbacks.

`train_restorer(data, out_dir, config)` trains (or fine-tunes) one network
for any task of `tfimage.tasks`: a `Restorer` around a functional network, fed
by `restoration_dataset` with the task's `training_degradation`, with

- `AtomicCheckpoint`: the best model by validation PSNR, written to a
  temporary file and renamed (a crash never leaves a broken `model.keras`),
- `keras.callbacks.BackupAndRestore`: a killed run resumes at the last
  backed-up step, with its optimizer state and epoch counter,
- `keras.callbacks.TerminateOnNaN` and `ValidationPSNR`'s weight check: a
  NaN loss or non-finite weights stop the run; the best checkpoint on disk
  stays the last good one,
- `keras.callbacks.CSVLogger` (appending, so a resumed run keeps its history)
  and `keras.callbacks.TensorBoard`,
- validation PSNR on held-out images after every epoch (the task's
  `validation_degradation`).

What a run trains is a `tfimage.train_config.TrainConfig`, saved as
OUT/train_config.json; transfer (weights from a pretrained network, frozen
layers) is in `tfimage.transfer`.
"""

import csv
import math
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfimage import execution, transfer
from tfimage.datasets import pipelines
from tfimage.models.saving import save_atomic
from tfimage.networks.ffdnet import conv_layers  # (also `training.conv_layers`)
from tfimage.tasks import get_task
from tfimage.train_config import CONFIG_FILE, DEFAULT_ARCH, TASK_ARCHS, TrainConfig, check_out_dir, prepare_out_dir

__all__ = [
    "AtomicCheckpoint", "CONFIG_FILE", "DEFAULT_ARCH", "TASK_ARCHS", "TrainConfig", "ValidationPSNR",
    "build_network", "conv_layers", "mean_psnr", "mirrored_strategy", "slow_dtype_policy_warning",
    "train_denoiser", "train_restorer", "uses_mixed_precision", "weights_are_finite", "with_dtype_policy",
]


def weights_are_finite(model):
    """Whether every weight of `model` is finite (no NaN or infinity)."""
    return all(np.isfinite(weight).all() for weight in model.get_weights())


@keras.saving.register_keras_serializable(package="tfimage")
class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `filepath` atomically (temp file + rename) when it improves.

    A model with non-finite weights is never saved (training stops instead),
    so the file on disk stays the last good one.

    Args:
        filepath: a `.keras` path.
        monitor: the log key to watch, e.g. "val_psnr" (None with
            `save_best_only=False`: save after every epoch).
        mode: "max" or "min".
        save_best_only: save only when `monitor` improves; else every epoch.
        export_network: save `model.network` (the bare functional network)
            instead of the training wrapper.
        best: the best value so far (a resumed run's), or None.
    """

    def __init__(self, filepath, monitor="val_psnr", mode="max", save_best_only=True, export_network=True,
                 best=None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min'. Received: mode={mode!r}")
        if monitor is None and save_best_only:
            raise ValueError("save_best_only needs a monitor. Received: monitor=None")
        self.filepath = filepath
        self.monitor = monitor
        self.mode = mode
        self.save_best_only = save_best_only
        self.export_network = export_network
        self.best = best

    def _improved(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = None
        if self.monitor is not None:
            value = logs.get(self.monitor)
            if value is None or not np.isfinite(value):
                return
            if self.save_best_only and not self._improved(value):
                return
        if not weights_are_finite(self.model):
            print(f"Epoch {epoch + 1}: the weights are not finite; stopping ({self.filepath} keeps the last good "
                  "model).")
            self.model.stop_training = True
            return
        if value is not None and self._improved(value):
            self.best = value
        target = self.model.network if self.export_network and hasattr(self.model, "network") else self.model
        if target is not self.model and uses_mixed_precision(target):  # ship float32 networks
            target = with_dtype_policy(target, "float32")
        save_atomic(target, self.filepath)

    def get_config(self):
        return {
            "filepath": self.filepath,
            "monitor": self.monitor,
            "mode": self.mode,
            "save_best_only": self.save_best_only,
            "export_network": self.export_network,
        }


MIXED_POLICIES = ("mixed_bfloat16", "mixed_float16")

# CPU flags (Linux /proc/cpuinfo) of the instructions that compute in bfloat16.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def slow_dtype_policy_warning(dtype_policy, cpuinfo_path="/proc/cpuinfo", has_gpu=None):
    """A warning text when `dtype_policy` would run emulated, hence slowly, on this machine.

    Keras computes a "mixed_bfloat16" network in bfloat16 on the CPU too. A CPU
    with bfloat16 instructions (Intel AVX512_BF16 or AMX) runs it faster than
    float32, but on one without them TensorFlow emulates the type: a
    2-core AMD EPYC (Zen 3) took 18 s per step of 32 64x64 patches for
    `tfimage-gray-blind` in bfloat16 against 1.2 s in float32 (oneDNN on for
    both, `TF_ENABLE_ONEDNN_OPTS=1`).

    Args:
        dtype_policy: the training policy (None, "float32", "mixed_bfloat16"...).
        cpuinfo_path: where the CPU flags are read (Linux); when it cannot be
            read, nothing is known and no warning is given.
        has_gpu: whether a GPU will run the network; None asks TensorFlow.

    Returns:
        The warning text, or None when there is nothing to warn about.
    """
    if dtype_policy != "mixed_bfloat16":
        return None
    if has_gpu is None:
        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    if has_gpu:
        return None
    try:
        with open(cpuinfo_path) as stream:
            text = stream.read()
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    if not flags or flags.intersection(BFLOAT16_CPU_FLAGS):
        return None
    return (
        "dtype_policy='mixed_bfloat16' on a CPU without bfloat16 instructions "
        f"(none of {', '.join(BFLOAT16_CPU_FLAGS)} in {cpuinfo_path}): TensorFlow emulates bfloat16 there, "
        "which was measured 15x slower than float32 (18 s against 1.2 s per step on a 2-core AMD EPYC, Zen 3). "
        "Use dtype_policy='float32' (--dtype-policy float32) on this machine. "
        f"Received: dtype_policy={dtype_policy!r}"
    )


def uses_mixed_precision(network):
    """Whether any layer of `network` computes in a type other than its variables'."""
    for layer in network.layers:
        if isinstance(layer, keras.Model) and uses_mixed_precision(layer):
            return True
        if layer.dtype_policy.compute_dtype != layer.dtype_policy.variable_dtype:
            return True
    return False


def with_dtype_policy(network, dtype_policy):
    """A copy of a functional `network` whose layers use `dtype_policy`, same weights.

    Args:
        network: a functional Keras model (nested functional models are
            converted too).
        dtype_policy: e.g. "float32" or "mixed_bfloat16".

    Returns:
        The new network; `network` is unchanged.
    """

    def clone_layer(layer):
        if isinstance(layer, keras.Model):
            return with_dtype_policy(layer, dtype_policy)
        config = layer.get_config()
        config["dtype"] = dtype_policy
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(network, clone_function=clone_layer)
    copy.set_weights(network.get_weights())
    return copy


def mean_psnr(model, degraded, clean):
    """Mean PSNR of `model` on whole images, one at a time (outputs clipped to [0, 1]).

    Args:
        model: a Keras model or Restorer (run as a graph, `execution.graph_call`).
        degraded: per image, the degraded (H, W, C) tensor, or a pair
            (degraded, noise_level) for models with a noise-level input (or
            (masked, mask) for inpainting models).
        clean: the clean (H, W, C) images.

    Returns:
        The mean PSNR in dB (NaN when the model outputs NaN). A graph can map
        NaN weights to finite outputs (oneDNN's ReLU turns NaN into 0): check
        the weights with `weights_are_finite`.
    """
    from tfimage import metrics

    forward = execution.graph_call(model)
    values = []
    for noisy, image in zip(degraded, clean):
        if isinstance(noisy, tuple):  # (image, noise level) or (masked image, mask)
            second = tf.convert_to_tensor(noisy[1], tf.float32)
            second = second[None] if second.shape.rank == 3 else tf.reshape(second, (1, 1))
            inputs = (tf.convert_to_tensor(noisy[0], tf.float32)[None], second)
        else:
            inputs = tf.convert_to_tensor(noisy, tf.float32)[None]
        restored = tf.clip_by_value(forward(inputs), 0.0, 1.0)
        values.append(float(metrics.psnr(image[None], restored)[0]))
    return float(np.mean(values))


class ValidationPSNR(keras.callbacks.Callback):
    """Logs the mean PSNR of held-out images after each epoch (as `val_psnr`), and checks the weights.

    When a weight is not finite the epoch logs NaN and training stops (like
    `TerminateOnNaN`; `AtomicCheckpoint` then keeps the last good model): the
    validation graph alone would not tell, since oneDNN's ReLU maps NaN to 0
    and a network whose first layer is NaN returns finite images.

    Args:
        images: the clean held-out images.
        degradation: `(image, seed_pair) -> model input`.
        seed: image i's first degradation has the seed pair `(seed, i)`.
        repeats: degradations per image (seed pairs `(seed + r, i)`), e.g.
            several hole masks, so that one lucky or unlucky mask weighs less
            in the choice of the best checkpoint.
    """

    def __init__(self, images, degradation, seed=1234, repeats=1):
        super().__init__()
        if isinstance(repeats, bool) or not repeats >= 1:
            raise ValueError(f"repeats must be at least 1. Received: repeats={repeats}")
        draws = range(int(repeats))
        self.images = [image for _ in draws for image in images]
        self.degradation = degradation
        self.seed = seed
        self.noisy = [
            degradation(image, (seed + repeat, index)) for repeat in draws for index, image in enumerate(images)
        ]

    def on_epoch_end(self, epoch, logs=None):
        if not weights_are_finite(self.model):
            value = float("nan")
            print(f"Epoch {epoch + 1}: the weights are not finite; stopping (the best checkpoint stays the last good one).")
            self.model.stop_training = True
        else:
            value = mean_psnr(self.model, self.noisy, self.images)
            if not np.isfinite(value):
                print(f"Epoch {epoch + 1}: validation PSNR is {value}; stopping.")
                self.model.stop_training = True
        if logs is not None:
            logs["val_psnr"] = value


def build_network(arch, channels, depth=None, filters=None, residual=None, task="denoise", scale=4):
    """A fresh network for training (defaults: the papers' sizes, smaller for the U-Nets).

    Args:
        arch: one of `TASK_ARCHS[task]`.
        channels: 1 or 3.
        depth: convolutions (DnCNN/FFDNet), residual blocks (EDSR) or
            U-Net levels (inpainting: `build_inpainting_unet`, a fill then a U-Net).
        filters: width (DnCNN/FFDNet/EDSR) or the first U-Net level's width
            (doubled at each level).
        residual: FFDNet only: predict the noise.
        task: "denoise", "sr" or "inpaint".
        scale: SR factor.
    """
    if task not in TASK_ARCHS:
        raise ValueError(f"task must be one of {', '.join(TASK_ARCHS)}. Received: task={task!r}")
    if arch not in TASK_ARCHS[task]:
        raise ValueError(f"arch must be one of {', '.join(TASK_ARCHS[task])} for task={task}. Received: arch={arch!r}")
    if arch == "dncnn":
        from tfimage.networks.dncnn import build_dncnn

        return build_dncnn(depth=depth or 17, filters=filters or 64, channels=channels, batch_norm=False)
    if arch == "ffdnet":
        from tfimage.networks.ffdnet import build_ffdnet

        default_depth, default_filters = (15, 64) if channels == 1 else (12, 96)
        return build_ffdnet(
            channels=channels, depth=depth or default_depth, filters=filters or default_filters,
            residual=bool(residual),
        )
    if arch == "edsr":
        from tfimage.networks.edsr import build_edsr

        return build_edsr(scale, channels, filters=filters or 48, blocks=8 if depth is None else depth)
    if arch == "espcn":
        from tfimage.networks.espcn import build_espcn

        return build_espcn(scale, channels)
    from tfimage.networks.unet import build_unet_sr

    widths = tuple((filters or 32) * 2**level for level in range(depth or 4))
    if task == "sr":
        return build_unet_sr(scale, channels, filters=widths)
    from tfimage.networks.inpainting import build_inpainting_unet

    # A classical fill first (normalized convolution), then a residual U-Net correction.
    return build_inpainting_unet(channels, filters=widths)


def _call_with(function, options, **extra):
    """`function(**the options it takes, **the extra ones it takes)`."""
    import inspect

    names = inspect.signature(function).parameters
    given = {key: value for key, value in {**options, **extra}.items() if key in names}
    return function(**given)


def _validation_options(options):
    """The task options for validation: `validation_NAME` (when not None) replaces NAME."""
    chosen = {key: value for key, value in options.items() if not key.startswith("validation_")}
    for key, value in options.items():
        if key.startswith("validation_") and value is not None:
            chosen[key[len("validation_"):]] = value
    return chosen


def _best_logged(out_dir, monitor="val_psnr"):
    """The best finite `monitor` value in a run's log.csv (a resumed run's best checkpoint), or None."""
    path = os.path.join(out_dir, "log.csv")
    if not os.path.isfile(path):
        return None
    values = []
    with open(path) as stream:
        for row in csv.DictReader(stream):
            try:
                value = float(row.get(monitor, "nan"))
            except ValueError:
                continue
            if math.isfinite(value):
                values.append(value)
    return max(values) if values else None


def _build(config, source, verbose):
    """The network of a run: new, partly copied from `source`, or `source`'s own, then the task's changes."""
    from tfimage.networks.unet import required_multiple

    task_options = config.task_options
    if source is None or config.partial_init:
        arch = config.arch or DEFAULT_ARCH[config.task]
        network = build_network(arch, config.channels, config.depth, config.filters, config.residual,
                                task=config.task, scale=task_options.get("scale", 4))
        if config.partial_init:
            copied = transfer.init_from_weights(network, source, strict=False)
            if not copied:
                raise ValueError(
                    f"No convolution of the init model fits this network. Received: init={config.init_name}"
                )
            if verbose:
                print(f"Copied {copied} of {len(conv_layers(network))} convolutions from {config.init_name}.")
    else:  # the pretrained network's own architecture, with its weights
        network = transfer.copy_network(source)
        if config.unfreeze:
            transfer.unfreeze_all(network)
    if config.refinement_stage:
        from tfimage.networks.inpainting import with_refinement_stage

        network = with_refinement_stage(network, freeze_first_stage=not config.unfreeze)
    if config.composite_holes:
        from tfimage.networks.inpainting import with_hole_composite

        network = with_hole_composite(network)
    if config.dtype_policy != "float32":
        network = with_dtype_policy(network, config.dtype_policy)
    if config.freeze_layers:
        transfer.freeze_first(network, config.freeze_layers)
    return network, required_multiple(network)


def train_restorer(data, out_dir, config=None, *, strategy=None, callbacks=None, verbose=2, data_dir=None,
                   overwrite=False, tensorboard=True, backup_every=50, **options):
    """Trains (or fine-tunes) a restoration network; resumable, best model in out_dir/model.keras.

    Examples:
        train_restorer("train400", "train/blind", task="denoise", sigma_range=(0, 55), patch_size=48)
        train_restorer("train400", "train/x2", TrainConfig(task="sr", data="train400", task_options={"scale": 2},
                       init="tfimage-sr-x4", partial_init=True))

    Args:
        data: the training images: a catalogue name ("train400"), a bundled
            set ("bundled-color"), a folder or a list of paths. The last
            `config.validation_images` are held out for validation and never
            trained on.
        out_dir: the run folder: model.keras (best by validation PSNR),
            backup/ (resume state), log.csv, tensorboard/, train_config.json.
            Running the same config again after a stop resumes from backup/.
        config: a `TrainConfig`, or None to build one from `options`.
        strategy: a `tf.distribute.Strategy` (e.g. `mirrored_strategy()`) or None.
        callbacks: extra Keras callbacks, run after tfimage's own.
        verbose: Keras fit verbosity.
        data_dir: where catalogue sets and weights are looked for first.
        overwrite: replace a different (or finished) run in out_dir.
        tensorboard: write TensorBoard logs.
        backup_every: optimizer steps between resume backups.
        **options: `TrainConfig` fields (task=, arch=, init=, steps=, ...;
            over `config`'s when both are given) and the task's options
            (denoise: sigma= or sigma_range=, validation_sigma=; sr: scale=;
            inpaint: hole_ratio=, mask_kind=, mask_scale=).

    Returns:
        The Keras History of this call (a resumed run logs only its own
        epochs); the best model is `out_dir/model.keras`.

    Raises:
        ValueError: a bad option (the message names it), data that do not
            fit, or an out_dir holding another run (`check_out_dir`).
    """
    from tfimage.models.restorer import Restorer

    config = TrainConfig.from_options(config, data=data, **options)
    task = get_task(config.task)
    source = None
    if not config.from_scratch:
        source = transfer.load_network(config.init, data_dir=data_dir)
        if config.opponent_color:
            from tfimage.networks.opponent import build_opponent_color

            source = build_opponent_color(source)
    supplied = source is not None and not config.partial_init  # the init network is the architecture
    config = config.resolved(execution.model_signature(source)[0] if supplied else None)
    action = check_out_dir(out_dir, config, overwrite)

    names, images = pipelines.load_source(data, channels=config.channels, data_dir=data_dir)
    if len(images) <= config.validation_images:
        raise ValueError(
            f"Need more than validation_images={config.validation_images} training images. "
            f"Received: {len(images)} images in data={config.to_dict()['data']}"
        )
    split = len(images) - config.validation_images
    train_images, val_images = images[:split], images[split:]
    for name, image in zip(names[:split], train_images):
        if min(image.shape[:2]) < config.patch_size:
            raise ValueError(
                f"The image is smaller than the patch ({config.patch_size}x{config.patch_size}). Received: {name} "
                f"with shape {image.shape}"
            )
    if config.dtype_policy != "float32":
        slow = slow_dtype_policy_warning(config.dtype_policy)
        if slow:
            warnings.warn(slow, stacklevel=2)

    keras.utils.set_random_seed(config.seed)
    def scope():  # (a strategy's scope is entered once per object)
        return strategy.scope() if strategy is not None else _null_scope()

    with scope():
        network, multiple = _build(config, source, verbose)
    second_input = execution.model_signature(network)[1]  # a noise level or a mask
    degradation = _call_with(task.training_degradation, config.task_options, noise_level_input=second_input)
    val_degradation = _call_with(task.validation_degradation, _validation_options(config.task_options),
                                 noise_level_input=second_input)
    dataset = pipelines.restoration_dataset(
        train_images, degradation, patch_size=config.patch_size, batch_size=config.batch_size,
        channels=config.channels, seed=config.seed,
    )
    sample_inputs, sample_clean = next(iter(dataset.take(1)))
    image_input = sample_inputs[0] if isinstance(sample_inputs, (tuple, list)) else sample_inputs
    if image_input.shape[1] % multiple:
        raise ValueError(
            f"The network takes images whose sides are multiples of {multiple}; these patches give it "
            f"{image_input.shape[1]}x{image_input.shape[2]} inputs. Received: patch_size={config.patch_size}"
        )
    with scope():
        rate, steps = config.learning_rate, config.steps
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=steps - config.warmup_steps,  # from 0 to learning_rate, then the cosine
            alpha=(config.final_learning_rate or rate / 100) / rate,
            warmup_target=rate, warmup_steps=config.warmup_steps,
        )
        restorer = Restorer(network=network, loss=config.loss, noise_level_input=second_input)
        restorer.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0))
        # Build the model and its optimizer state now: BackupAndRestore needs both.
        output = restorer(sample_inputs)
        restorer.optimizer.build(restorer.trainable_variables)
    if tuple(output.shape) != tuple(sample_clean.shape):
        raise ValueError(
            f"The network turns these patches into {tuple(output.shape[1:])} images, not the "
            f"{tuple(sample_clean.shape[1:])} of the clean patch (e.g. patch_size is not a multiple of the SR "
            f"scale). Received: patch_size={config.patch_size}"
        )
    # Validation runs on whole images: crop them to sizes the network takes.
    multiple *= max(1, int(sample_clean.shape[1]) // int(image_input.shape[1]))  # (x the SR scale)
    val_images = [image[: image.shape[0] // multiple * multiple, : image.shape[1] // multiple * multiple]
                  for image in val_images]

    prepare_out_dir(out_dir, config, action)
    if action == "resume" and verbose:
        print(f"Resuming the run in {out_dir} from its last backup.")
    checkpoint = AtomicCheckpoint(os.path.join(out_dir, "model.keras"), monitor="val_psnr", mode="max",
                                  best=_best_logged(out_dir) if action == "resume" else None)
    run_callbacks = [
        keras.callbacks.TerminateOnNaN(),
        ValidationPSNR(val_images, val_degradation, repeats=config.validation_repeats),
        checkpoint,
        keras.callbacks.CSVLogger(os.path.join(out_dir, "log.csv"), append=True),
        # double_checkpoint: a run killed while writing its backup restarts from the previous one.
        keras.callbacks.BackupAndRestore(
            os.path.join(out_dir, "backup"), save_freq=backup_every, double_checkpoint=True
        ),
    ]
    if tensorboard:
        run_callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "tensorboard"), write_graph=False))
    run_callbacks += list(callbacks or [])
    return restorer.fit(
        dataset, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch, callbacks=run_callbacks,
        verbose=verbose, shuffle=False,
    )


def train_denoiser(data, out_dir, config=None, **options):
    """`train_restorer(data, out_dir, task="denoise", ...)`."""
    return train_restorer(data, out_dir, config, **dict(options, task="denoise"))


def mirrored_strategy():
    """A MirroredStrategy over every GPU, else over every logical CPU device (prints the replica count).

    With no GPU, `tf.distribute.MirroredStrategy()` would use one CPU device; the logical
    CPU devices of `tf.config.set_logical_device_configuration` are taken instead, which
    is how the multi-replica code path is exercised on a CPU machine.
    """
    devices = [device.name for device in tf.config.list_logical_devices("GPU")]
    devices = devices or [device.name for device in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    print(f"MirroredStrategy: {strategy.num_replicas_in_sync} replicas ({', '.join(devices)})")
    return strategy


class _null_scope:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
