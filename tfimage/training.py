"""Training and fine-tuning: callbacks, resumable runs, transfer helpers.

`train_denoiser` is what `tfimage train denoise` runs: a Restorer around a
DnCNN or FFDNet network, fed by `restoration_dataset`, with

- `AtomicCheckpoint`: the best model by validation PSNR, written to a
  temporary file and renamed (a crash never leaves a broken `model.keras`),
- `keras.callbacks.BackupAndRestore`: a killed run resumes at the last
  backed-up step, with its optimizer state and epoch counter,
- `keras.callbacks.TerminateOnNaN`: a NaN loss stops the run; the best
  checkpoint on disk stays the last good one,
- `keras.callbacks.CSVLogger` (appending, so a resumed run keeps its history)
  and `keras.callbacks.TensorBoard`,
- validation PSNR/SSIM on held-out images after every epoch.

Transfer: `--init MODEL_NAME|PATH` copies weights from a pretrained network
of the same shape (layer by layer, or the matching layers with
`init_from_weights(strict=False)`), `freeze_layers=K` freezes the first K
convolutions, and the learning rate is yours to set (lower for fine-tuning).
"""

import json
import os
import warnings

import keras
import numpy as np
import tensorflow as tf

from tfimage import degradations
from tfimage.datasets import pipelines
from tfimage.models.saving import save_atomic
from tfimage.networks import TASK_ARCHS  # (re-exported: training.TASK_ARCHS)
from tfimage.networks.ffdnet import conv_layers  # (re-exported: training.conv_layers)

CONFIG_FILE = "train_config.json"


@keras.saving.register_keras_serializable(package="tfimage")
class AtomicCheckpoint(keras.callbacks.Callback):
    """Saves the model to `filepath` atomically (temp file + rename) when it improves.

    Args:
        filepath: a `.keras` path.
        monitor: the log key to watch, e.g. "val_psnr".
        mode: "max" or "min".
        save_best_only: save only when `monitor` improves; else every epoch.
        export_network: save `model.network` (the bare functional network)
            instead of the training wrapper.
    """

    def __init__(self, filepath, monitor="val_psnr", mode="max", save_best_only=True, export_network=True):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min'. Received: mode={mode!r}")
        self.filepath = filepath
        self.monitor = monitor
        self.mode = mode
        self.save_best_only = save_best_only
        self.export_network = export_network
        self.best = None

    def _improved(self, value):
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None or not np.isfinite(value):
            return
        if self.save_best_only and not self._improved(value):
            return
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


def init_from_weights(network, source, strict=True):
    """Copies the convolution weights of `source` into `network`, layer by layer.

    Args:
        network: the model being initialised.
        source: a model with the same convolution stack (e.g. a pretrained
            DnCNN or FFDNet).
        strict: require every convolution to match in shape; with False,
            mismatched layers are skipped (e.g. a widened first layer).

    Returns:
        The number of layers copied.
    """
    targets, sources = conv_layers(network), conv_layers(source)
    if strict and len(targets) != len(sources):
        raise ValueError(
            f"The pretrained network has {len(sources)} convolutions, this one "
            f"{len(targets)}. Received: source={source.name}"
        )
    copied = 0
    for target, origin in zip(targets, sources):
        shapes = [w.shape for w in target.get_weights()]
        weights = origin.get_weights()
        if [w.shape for w in weights] != shapes:
            if strict:
                raise ValueError(
                    f"Layer {target.name} has weights {shapes}, the pretrained layer "
                    f"{origin.name} {[w.shape for w in weights]}. Received: source={source.name}"
                )
            continue
        target.set_weights(weights)
        copied += 1
    return copied


def freeze_first(network, count):
    """Freezes the first `count` convolutions of a network (fine-tuning)."""
    layers = conv_layers(network)
    if not 0 <= count <= len(layers):
        raise ValueError(
            f"freeze_layers must be between 0 and {len(layers)}. Received: freeze_layers={count}"
        )
    for layer in layers[:count]:
        layer.trainable = False
    return layers[:count]


def unfreeze_all(layer):
    """Makes `layer` and every layer nested in it trainable.

    `layer.trainable = True` alone is not enough under the TensorFlow backend:
    assigning a value a layer already has is skipped (`KerasAutoTrackable`),
    so a trainable model keeps the frozen sublayers it was saved with (e.g.
    the first stage of `with_refinement_stage`).
    """
    layer.trainable = True
    for sublayer in getattr(layer, "layers", []):
        unfreeze_all(sublayer)


def mean_psnr(model, degraded, clean):
    """Mean PSNR of `model` on whole images, one at a time (outputs clipped to [0, 1]).

    Args:
        model: a Keras model or Restorer.
        degraded: per image, the degraded (H, W, C) tensor, or a pair
            (degraded, noise_level) for models with a noise-level input.
        clean: the clean (H, W, C) images.

    Returns:
        The mean PSNR in dB (NaN when the model outputs NaN).
    """
    from tfimage import metrics
    from tfimage.inference import graph_call

    forward = graph_call(model)
    values = []
    for noisy, image in zip(degraded, clean):
        if isinstance(noisy, tuple):  # (image, noise level) or (masked image, mask)
            second = tf.convert_to_tensor(noisy[1], tf.float32)
            second = second[None] if second.shape.rank == 3 else tf.reshape(second, (1, 1))
            inputs = (tf.convert_to_tensor(noisy[0], tf.float32)[None], second)
        else:
            inputs = noisy[None]
        restored = tf.clip_by_value(forward(inputs), 0.0, 1.0)
        values.append(float(metrics.psnr(image[None], restored)[0]))
    return float(np.mean(values))


class ValidationPSNR(keras.callbacks.Callback):
    """Logs the mean PSNR of held-out images after each epoch (as `val_psnr`).

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
        if not repeats >= 1:
            raise ValueError(f"repeats must be at least 1. Received: repeats={repeats}")
        draws = range(int(repeats))
        self.images = [image for _ in draws for image in images]
        self.degradation = degradation
        self.seed = seed
        self.noisy = [
            degradation(image, (seed + repeat, index)) for repeat in draws for index, image in enumerate(images)
        ]

    def on_epoch_end(self, epoch, logs=None):
        value = mean_psnr(self.model, self.noisy, self.images)
        if logs is not None:
            logs["val_psnr"] = value
        if not np.isfinite(value):
            # Non-finite weights can hide behind a finite training loss (ReLU maps NaN to 0
            # in oneDNN): stop like TerminateOnNaN; the best checkpoint stays the last good one.
            print(f"Epoch {epoch + 1}: validation PSNR is {value}; stopping (the weights are not finite).")
            self.model.stop_training = True


def noise_training_degradation(sigma=None, sigma_range=None, noise_level_input=False):
    """The training degradation: fixed sigma or a per-patch sigma from a range (0-255 units)."""
    if (sigma is None) == (sigma_range is None):
        raise ValueError(
            f"Give exactly one of sigma and sigma_range. Received: sigma={sigma}, sigma_range={sigma_range}"
        )
    if sigma is not None:
        level = degradations.sigma_to_stddev(sigma)

        def fixed(patch, seed):
            noisy = degradations.gaussian_noise(patch, level, seed)
            return (noisy, tf.constant([level], tf.float32)) if noise_level_input else noisy

        return fixed
    low, high = (degradations.sigma_to_stddev(value) for value in sigma_range)

    def ranged(patch, seed):
        noisy, level = degradations.random_gaussian_noise(patch, (low, high), seed)
        return (noisy, level) if noise_level_input else noisy

    return ranged


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
    from tfimage.networks.unet import build_unet, build_unet_sr

    widths = tuple((filters or 32) * 2**level for level in range(depth or 4))
    if task == "sr":
        return build_unet_sr(scale, channels, filters=widths)
    from tfimage.networks.inpainting import build_inpainting_unet

    # A classical fill first (normalized convolution), then a residual U-Net correction.
    return build_inpainting_unet(channels, filters=widths)


def check_out_dir(out_dir, config, overwrite=False):
    """Refuses an out_dir that holds a different run, unless overwrite; returns True to resume."""
    path = os.path.join(out_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        if os.path.isfile(os.path.join(out_dir, "model.keras")) and not overwrite:
            raise ValueError(
                f"The output folder already holds a model from another run; pass overwrite=True "
                f"(--overwrite) or choose another folder. Received: out={out_dir}"
            )
        return False
    with open(path) as stream:
        previous = json.load(stream)
    if previous == config:
        return True
    if not overwrite:
        changed = sorted(k for k in set(previous) | set(config) if previous.get(k) != config.get(k))
        raise ValueError(
            f"The output folder holds a different model (differs in {', '.join(changed)}); pass "
            f"overwrite=True (--overwrite) or choose another folder. Received: out={out_dir}"
        )
    import shutil

    for name in (CONFIG_FILE, "model.keras", "backup", "log.csv"):
        target = os.path.join(out_dir, name)
        if os.path.isdir(target):
            shutil.rmtree(target)
        elif os.path.exists(target):
            os.remove(target)
    return False


def train_restorer(
    data,
    out_dir,
    task="denoise",
    arch=None,
    init="scratch",
    sigma=None,
    sigma_range=None,
    channels=1,
    depth=None,
    filters=None,
    residual=True,
    patch_size=40,
    batch_size=64,
    steps=1000,
    steps_per_epoch=100,
    learning_rate=1e-3,
    final_learning_rate=None,
    warmup_steps=0,
    loss="l2",
    freeze_layers=0,
    unfreeze=False,
    widen=False,
    opponent_color=False,
    cross_channel=False,
    partial_init=False,
    scale=4,
    hole_ratio=0.25,
    mask_kind="strokes",
    mask_scale=None,
    composite_holes=False,
    refinement_stage=False,
    widen_refinement=None,
    validation_images=8,
    validation_repeats=1,
    validation_sigma=None,
    backup_every=50,
    seed=0,
    overwrite=False,
    strategy=None,
    tensorboard=True,
    data_dir=None,
    callbacks=None,
    verbose=2,
    dtype_policy=None,
    color_augment=False,
):
    """Trains (or fine-tunes) a restoration network; resumable, best model in out_dir/model.keras.

    One loop for the three tasks, each a Restorer around a functional network
    fed by `restoration_dataset` with the task's degradation applied on the fly:
    "denoise" (Gaussian noise, fixed `sigma` or blind `sigma_range`), "sr"
    (bicubic downsampling by `scale`; the network maps the low-resolution
    patch to the high-resolution one) and "inpaint" (`random_mask` holes of
    `hole_ratio`; the network takes `[masked, mask]`).

    Args:
        data: training images: a catalogue name ("train400"), a bundled set
            ("bundled-color"), a folder or a list of paths. The last `validation_images` images are held out
            for validation and never trained on.
        out_dir: run folder: model.keras (best by validation PSNR),
            backup/ (resume state), log.csv, tensorboard/, train_config.json.
        task: "denoise", "sr" or "inpaint".
        arch: one of `TASK_ARCHS[task]` (default: ffdnet, edsr, unet).
        init: "scratch", or a model name of `tfimage.pretrained`, a `.keras`
            path or a Keras network: its architecture, channels and weights
            are the starting point (arch, channels, depth, filters and
            residual are then ignored).
        sigma: denoise: fixed training noise level (0-255), or None with
            sigma_range.
        sigma_range: (low, high) noise levels (0-255) for blind training.
        channels: 1 or 3.
        depth, filters: network size (None: the paper's; see `build_network`).
        residual: FFDNet only: predict the noise and subtract it (faster
            training from scratch); official FFDNet weights are not residual.
        patch_size, batch_size: training patches.
        steps: total optimizer steps, rounded down to a multiple of
            steps_per_epoch (the steps between validations and checkpoints,
            at most `steps`).
        learning_rate: Adam's initial learning rate; it decays along a cosine
            to `final_learning_rate` (default learning_rate / 100).
        warmup_steps: first raise the learning rate linearly from 0 to
            `learning_rate` over this many steps (then the cosine runs over
            the rest), so a fine-tuning run's fresh Adam state does not throw
            the pretrained weights off with full-size first steps (Goyal et
            al., "Accurate, large minibatch SGD", 2017).
        loss: "l2", "l1", "charbonnier" or "psnr" (`Restorer`'s losses).
        freeze_layers: freeze the first K convolutions (fine-tuning).
        unfreeze: make every layer of the `init` network trainable first,
            e.g. to train both stages of a refined inpainting model (saved
            with its first stage frozen) end to end; with
            `refinement_stage`, the new cascade trains both stages.
        widen: turn a gray FFDNet `init` into a color one first
            (`widen_to_color`): gray-to-color transfer.
        opponent_color: turn a gray FFDNet-style `init` into a color model that
            runs it on each channel of an opponent color space
            (`tfimage.networks.opponent.build_opponent_color`; shared weights).
        cross_channel: with `opponent_color`: each channel's pass also sees
            the whole noisy image (`build_opponent_color(cross_channel=True)`:
            new first-layer inputs that start at zero).
        partial_init: build the network from arch/depth/filters and copy
            only the `init` convolutions whose shapes match (e.g. an x4 SR
            model into an x2 one: everything but the last convolution).
        scale: sr: the upscaling factor (2, 3 or 4).
        hole_ratio: inpaint: the fraction of missing pixels.
        mask_kind: inpaint: "strokes" (free-form) or "boxes".
        mask_scale: inpaint: the image size that sets the training holes'
            stroke width and length: None (the patch's: thin strokes), a
            size, or a range `(low, high)` drawn per patch
            (`restoration_tasks.inpainting_degradation`). Validation masks
            are then drawn at the middle of the range.
        composite_holes: inpaint: keep the known pixels in the network's
            output (`tfimage.networks.inpainting.with_hole_composite`, also
            around an `init` model), so the loss counts the holes only.
        refinement_stage: inpaint: add a refinement stage to the `init`
            network, a copy of its last U-Net that refines its output, and
            train only that (a third stage on a two-stage `init`;
            `tfimage.networks.inpainting.with_refinement_stage`).
        widen_refinement: inpaint: widen the last stage of a cascade `init`
            network (or of the new one `refinement_stage` adds) by this
            factor; the wider stage starts as the same function
            (`tfimage.networks.inpainting.with_wider_refinement`).
        validation_images: images held out for validation PSNR.
        validation_repeats: degradations (noise draws, hole masks) per
            held-out image in the validation PSNR; more make the choice of
            the best checkpoint less noisy.
        validation_sigma: noise level (0-255) for validation; default: `sigma`, or 25
            (clipped into `sigma_range`) for blind training.
        backup_every: steps between resume backups.
        seed: seeds the weights, crops, flips and noise.
        overwrite: replace a different run in out_dir.
        strategy: a `tf.distribute.Strategy` (e.g. MirroredStrategy) or None.
        tensorboard: write TensorBoard logs.
        data_dir: where catalogue sets and weights are looked for first.
        callbacks: extra Keras callbacks, run after tfimage's own.
        verbose: Keras fit verbosity.
        dtype_policy: None (float32), or a Keras mixed policy such as
            "mixed_bfloat16" (about 1.7x faster on CPUs with bfloat16
            instructions, 15x slower on those without: a warning says so,
            see `slow_dtype_policy_warning`) or
            "mixed_float16" (GPUs): the network computes in that type, its
            variables and the loss stay float32, and the saved model.keras is
            float32 again (Micikevicius et al., "Mixed Precision Training",
            ICLR 2018).
        color_augment: 3-channel training: each patch also gets a random
            order of R, G, B and, half the time, is inverted
            (`pipelines.random_color_symmetry`), so a few color photos show
            more color combinations than their own.

    Returns:
        The Keras History of this call (a resumed run logs only its own
        epochs); the best model is `out_dir/model.keras`.
    """
    from tfimage import inference, pretrained, restoration_tasks
    from tfimage.models.restorer import Restorer
    from tfimage.networks.unet import required_multiple

    if task not in TASK_ARCHS:
        raise ValueError(f"task must be one of {', '.join(TASK_ARCHS)}. Received: task={task!r}")
    arch = arch or {"denoise": "ffdnet", "sr": "edsr", "inpaint": "unet"}[task]
    if task == "sr":
        scale = restoration_tasks.check_sr_scale(scale)
        if patch_size % scale:
            raise ValueError(f"patch_size must be a multiple of scale={scale}. Received: patch_size={patch_size}")
    if task == "denoise" and (sigma is None) == (sigma_range is None):
        raise ValueError(
            f"Give exactly one of sigma and sigma_range. Received: sigma={sigma}, sigma_range={sigma_range}"
        )

    if steps < 1 or steps_per_epoch < 1:
        raise ValueError(
            f"steps and steps_per_epoch must be positive. Received: steps={steps}, "
            f"steps_per_epoch={steps_per_epoch}"
        )
    steps_per_epoch = min(steps_per_epoch, steps)
    epochs = steps // steps_per_epoch
    total_steps = epochs * steps_per_epoch
    source = None
    noise_level_input = arch == "ffdnet" or task == "inpaint"  # (an inpainting mask passes through like one)
    from_scratch = isinstance(init, str) and init == "scratch"
    init_name = init.name if isinstance(init, keras.Model) else str(init)
    stage_option = "refinement_stage" if refinement_stage else "widen_refinement" if widen_refinement else None
    if stage_option and (task != "inpaint" or from_scratch):
        raise ValueError(
            f"{stage_option} changes the stages of a trained inpainting network: it needs task='inpaint' and an "
            f"init. Received: task={task!r}, init={init_name!r}"
        )
    if unfreeze and (partial_init or from_scratch):
        raise ValueError(
            "unfreeze makes the layers of the init network trainable: it needs an init (without partial_init). "
            f"Received: init={init_name!r}, partial_init={partial_init}"
        )
    if (widen or opponent_color) and from_scratch:
        raise ValueError("widen and opponent_color need a gray network to start from. Received: init='scratch'")
    if widen and opponent_color:
        raise ValueError("Give one of widen and opponent_color. Received: widen=True, opponent_color=True")
    if cross_channel and not opponent_color:
        raise ValueError("cross_channel goes with opponent_color=True. Received: cross_channel=True, opponent_color=False")
    if not from_scratch:
        source = init if isinstance(init, keras.Model) else pretrained.load(init, data_dir=data_dir)
        if not isinstance(source, keras.Model):
            raise ValueError(f"init must name a Keras network, not a baseline. Received: init={init!r}")
        if widen:
            source = widen_to_color(source)
        if opponent_color:
            from tfimage.networks.opponent import build_opponent_color

            source = build_opponent_color(source, cross_channel=cross_channel)
        if not partial_init:  # the pretrained network's own channels and inputs
            channels, noise_level_input = inference.model_signature(source)
    if task == "denoise" and validation_sigma is None:
        validation_sigma = sigma if sigma is not None else min(max(25, sigma_range[0]), sigma_range[1])
    config = {
        "data": data if isinstance(data, str) else "custom",
        "arch": arch if source is None or partial_init else None,
        "init": init_name, "sigma": sigma,
        "sigma_range": list(sigma_range) if sigma_range is not None else None,
        "channels": channels, "depth": depth, "filters": filters, "residual": residual,
        "patch_size": patch_size,
        "batch_size": batch_size, "steps": total_steps, "steps_per_epoch": steps_per_epoch,
        "learning_rate": learning_rate, "final_learning_rate": final_learning_rate, "loss": loss,
        "freeze_layers": freeze_layers, "widen": widen, "validation_images": validation_images,
        "validation_sigma": validation_sigma, "seed": seed,
    }
    if opponent_color:
        config["opponent_color"] = True
    if cross_channel:  # (absent otherwise, so earlier runs still resume)
        config["cross_channel"] = True
    if color_augment:  # (same)
        if channels != 3:
            raise ValueError(
                "color_augment reorders R, G and B: it needs a color model. "
                f"Received: channels={channels}, init={init_name!r}"
            )
        config["color_augment"] = True
    if dtype_policy not in (None, "float32"):  # (absent otherwise, so earlier runs still resume)
        if dtype_policy not in MIXED_POLICIES:
            raise ValueError(
                f"dtype_policy must be None, 'float32' or one of {', '.join(MIXED_POLICIES)}. "
                f"Received: dtype_policy={dtype_policy!r}"
            )
        config["dtype_policy"] = dtype_policy
        slow = slow_dtype_policy_warning(dtype_policy)
        if slow:
            warnings.warn(slow, stacklevel=2)
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"warmup_steps must be at least 0 and fewer than the steps ({total_steps}). "
            f"Received: warmup_steps={warmup_steps}"
        )
    if warmup_steps:  # (absent otherwise, so earlier runs still resume)
        config["warmup_steps"] = int(warmup_steps)
    if not validation_repeats >= 1:
        raise ValueError(f"validation_repeats must be at least 1. Received: validation_repeats={validation_repeats}")
    if validation_repeats != 1:  # (same)
        config["validation_repeats"] = int(validation_repeats)
    mask_scale = restoration_tasks.check_mask_scale(mask_scale) if task == "inpaint" else None
    if task != "denoise":  # (denoising runs keep the keys of earlier versions, so they resume)
        config.update(task=task, partial_init=partial_init)
        config.update({"sr": {"scale": scale}, "inpaint": {"hole_ratio": hole_ratio, "mask_kind": mask_kind}}[task])
        if mask_scale is not None:  # (absent otherwise, so earlier runs still resume)
            config["mask_scale"] = list(mask_scale)
        if task == "inpaint" and composite_holes:  # (same)
            config["composite_holes"] = True
        if task == "inpaint" and refinement_stage:  # (same)
            config["refinement_stage"] = True
        if task == "inpaint" and widen_refinement is not None:  # (same)
            config["widen_refinement"] = float(widen_refinement)
    if unfreeze:  # (same)
        config["unfreeze"] = True
    if task == "denoise":
        degradation = noise_training_degradation(sigma, sigma_range, noise_level_input)
    elif task == "sr":
        degradation = restoration_tasks.sr_degradation(scale)
    else:
        degradation = restoration_tasks.inpainting_degradation(hole_ratio, kind=mask_kind, shape_scale=mask_scale)
    names, images = pipelines.load_source(data, channels=channels, data_dir=data_dir)
    if len(images) <= validation_images:
        raise ValueError(
            f"Need more than validation_images={validation_images} training images. "
            f"Received: {len(images)} images in data={data}"
        )
    split = len(images) - validation_images
    train_images, val_images = images[:split], images[split:]
    for name, image in zip(names[:split], train_images):
        if min(image.shape[:2]) < patch_size:
            raise ValueError(
                f"The image is smaller than the patch ({patch_size}x{patch_size}). Received: {name} "
                f"with shape {image.shape}"
            )
    if check_out_dir(out_dir, config, overwrite) and verbose:
        print(f"Resuming the run in {out_dir} from its last backup.")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, CONFIG_FILE), "w") as stream:
        json.dump(config, stream, indent=1)

    keras.utils.set_random_seed(seed)
    dataset = pipelines.restoration_dataset(
        train_images, degradation, patch_size=patch_size, batch_size=batch_size, channels=channels, seed=seed,
        color_augment=color_augment,
    )
    scope = strategy.scope() if strategy is not None else _null_scope()
    with scope:
        if source is None or partial_init:
            network = build_network(arch, channels, depth, filters, residual, task=task, scale=scale)
            if partial_init:
                copied = init_from_weights(network, source, strict=False)
                if not copied:
                    raise ValueError(f"No convolution of the init model fits this network. Received: init={init}")
                if verbose:
                    print(f"Copied {copied} of {len(conv_layers(network))} convolutions from {init}.")
        else:  # the pretrained network's own architecture, with its weights
            network = keras.models.clone_model(source)
            network.set_weights(source.get_weights())
            if unfreeze:
                unfreeze_all(network)
        if task == "inpaint":
            if refinement_stage:
                from tfimage.networks.inpainting import with_refinement_stage

                network = with_refinement_stage(network, freeze_first_stage=not unfreeze)
            if widen_refinement is not None:
                from tfimage.networks.inpainting import with_wider_refinement

                network = with_wider_refinement(network, widen_refinement, freeze_first_stage=not unfreeze, seed=seed)
            if composite_holes:
                from tfimage.networks.inpainting import with_hole_composite

                network = with_hole_composite(network)
            if patch_size % required_multiple(network):
                raise ValueError(
                    f"patch_size must be a multiple of the U-Net's stride {required_multiple(network)}. "
                    f"Received: patch_size={patch_size}"
                )
        if dtype_policy not in (None, "float32"):
            network = with_dtype_policy(network, dtype_policy)
        if freeze_layers:
            freeze_first(network, freeze_layers)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=total_steps - warmup_steps,  # from 0 to learning_rate, then the cosine
            alpha=(final_learning_rate or learning_rate / 100) / learning_rate,
            warmup_target=learning_rate, warmup_steps=warmup_steps,
        )
        restorer = Restorer(network=network, loss=loss, noise_level_input=noise_level_input)
        restorer.compile(optimizer=keras.optimizers.Adam(schedule, clipnorm=1.0))
        # Build the model and its optimizer state now: BackupAndRestore needs both.
        sample_inputs, _ = next(iter(dataset.take(1)))
        restorer(sample_inputs)
        restorer.optimizer.build(restorer.trainable_variables)
    validation_mask_scale = None if mask_scale is None else float(np.mean(mask_scale))
    val_degradation = validation_degradation(
        task, validation_sigma, noise_level_input, scale, hole_ratio, mask_kind, mask_scale=validation_mask_scale
    )
    # Validation runs on whole images: crop them to sizes the network takes.
    multiple = {"sr": scale, "inpaint": required_multiple(network)}.get(task, 1)
    val_images = [image[: image.shape[0] // multiple * multiple, : image.shape[1] // multiple * multiple]
                  for image in val_images]

    extra_callbacks = list(callbacks or [])
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        ValidationPSNR(val_images, val_degradation, repeats=validation_repeats),
        AtomicCheckpoint(os.path.join(out_dir, "model.keras"), monitor="val_psnr", mode="max"),
        keras.callbacks.CSVLogger(os.path.join(out_dir, "log.csv"), append=True),
        # double_checkpoint: a run killed while writing its backup restarts from the previous one.
        keras.callbacks.BackupAndRestore(
            os.path.join(out_dir, "backup"), save_freq=backup_every, double_checkpoint=True
        ),
    ]
    if tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "tensorboard"), write_graph=False))
    callbacks += extra_callbacks
    return restorer.fit(
        dataset, epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
        shuffle=False,
    )


def train_denoiser(data, out_dir, **kwargs):
    """`train_restorer(data, out_dir, task="denoise", ...)`: what `tfimage train denoise` runs."""
    return train_restorer(data, out_dir, task="denoise", **kwargs)


def validation_degradation(
    task, sigma=25, noise_level_input=False, scale=4, hole_ratio=0.25, mask_kind="strokes", mask_scale=None
):
    """The seeded degradation of held-out images: `(image, seed_pair) -> model input`.

    `mask_scale` (inpaint) is `random_mask`'s `shape_scale`: None sizes the
    holes by the validation image itself.
    """
    if task == "sr":
        return lambda image, seed_pair: degradations.bicubic_downsample(image, scale)
    if task == "inpaint":
        def holes(image, seed_pair):
            mask = degradations.random_mask(
                image.shape[0], image.shape[1], hole_ratio, seed=tuple(int(v) for v in seed_pair), kind=mask_kind,
                shape_scale=mask_scale,
            )
            return (image * (1.0 - mask), mask)

        return holes
    level = degradations.sigma_to_stddev(sigma)

    def noise(image, seed_pair):
        noisy = degradations.gaussian_noise(image, level, seed_pair)
        return (noisy, tf.constant(level)) if noise_level_input else noisy

    return noise


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


def widen_to_color(gray_network):
    """A color FFDNet initialised from a gray one: transfer by widening the first and last layers.

    The gray network sees 4 pixel-unshuffled sub-images plus the noise map; the
    color one sees 4 per color channel (MatConvNet order: channel c, sub-image
    i -> c * 4 + i) plus the noise map. The first layer's weights for each
    color channel are the gray weights divided by 3, the last layer's are
    repeated for each channel, and every middle layer is copied. A gray image
    repeated into R, G and B therefore comes out exactly as the gray network
    would denoise it, in all three channels: fine-tuning starts from there.

    Args:
        gray_network: a 1-channel network from `build_ffdnet` (residual or not).

    Returns:
        A new 3-channel network of the same depth, width and residual setting.
    """
    from tfimage.networks.ffdnet import build_ffdnet, ffdnet_layout

    channels, takes_noise_level = (gray_network.inputs[0].shape[-1], len(gray_network.inputs) == 2)
    if channels != 1 or not takes_noise_level:
        raise ValueError(
            f"widen_to_color takes a gray FFDNet-style network. Received: network={gray_network.name} "
            f"with {channels} channels"
        )
    convs, settings = ffdnet_layout(gray_network)
    color = build_ffdnet(channels=3, name=gray_network.name + "_color", **settings)
    color_convs = ffdnet_layout(color)[0]
    kernel, bias = convs[0].get_weights()
    wide = np.zeros(color_convs[0].kernel.shape, np.float32)
    for channel in range(3):
        wide[:, :, channel * 4 : channel * 4 + 4, :] = kernel[:, :, :4, :] / 3.0
    wide[:, :, 12:, :] = kernel[:, :, 4:, :]
    color_convs[0].set_weights([wide, bias])
    for target, origin in zip(color_convs[1:-1], convs[1:-1]):
        target.set_weights(origin.get_weights())
    kernel, bias = convs[-1].get_weights()
    color_convs[-1].set_weights([np.tile(kernel, (1, 1, 1, 3)), np.tile(bias, 3)])
    return color
