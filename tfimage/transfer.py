"""Transfer learning helpers: starting a network from another one's weights.

- `load_network`: an init network by model name, `.keras` path or object;
- `init_from_weights`: copy the convolutions of a network of the same layout
  (all of them, or with `strict=False` those whose shapes match, e.g. an x4 SR
  model into an x2 one);
- `init_encoder_from`: copy the leading convolutions of any network (e.g. a
  classifier) into a U-Net's encoder;
- `freeze_first` / `unfreeze_all`: fine-tune only the last layers, or every one;
- `widen_to_color`: a color FFDNet that starts as a gray one on each channel;
- `compare_encoder_init`: the same U-Net trained from a pretrained and from a
  random encoder, at equal steps (the "does pretraining help" number).
"""

import os
import time

import keras
import numpy as np

from tfimage.networks.ffdnet import conv_layers


def load_network(init, data_dir=None):
    """A Keras network by `tfimage.zoo` name or `.keras` path (a Keras model passes through).

    Raises:
        ValueError: the name is a classical baseline, not a network.
    """
    from tfimage import zoo

    source = init if isinstance(init, keras.Model) else zoo.load(init, data_dir=data_dir)
    if not isinstance(source, keras.Model):
        raise ValueError(f"init must name a Keras network, not a baseline. Received: init={init!r}")
    return source


def copy_network(network):
    """A copy of a functional `network` with the same weights (the original is not trained)."""
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    return copy


def init_from_weights(network, source, strict=True):
    """Copies the convolution weights of `source` into `network`, layer by layer.

    Args:
        network: the model being initialised.
        source: a model with the same convolution stack (e.g. a pretrained
            DnCNN or FFDNet).
        strict: require every convolution to match in shape; with False,
            mismatched layers are skipped (e.g. a scale-specific last layer).

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
    """Freezes the first `count` convolutions of a network (fine-tuning); returns them."""
    layers = conv_layers(network)
    if isinstance(count, bool) or not 0 <= count <= len(layers):
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


def widen_to_color(gray_network):
    """A color FFDNet initialised from a gray one: transfer by widening the first and last layers.

    The gray network sees 4 pixel-unshuffled sub-images plus the noise map; the
    color one sees 4 per color channel (MatConvNet order: channel c, sub-image
    i -> c * 4 + i) plus the noise map. The first layer's weights for each
    color channel are the gray weights divided by 3, the last layer's are
    repeated for each channel, and every middle layer is copied. A gray image
    repeated into R, G and B therefore comes out exactly as the gray network
    would denoise it, in all three channels: fine-tuning starts from there
    (`train_restorer(init=widen_to_color(gray), ...)`).

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


def init_encoder_from(network, source):
    """Copies the leading convolutions of `source` into a plain U-Net's encoder.

    The encoder convolutions (layers named "enc*") are matched in order with
    the convolutions of `source` (e.g. the VGG-style blocks of a classifier).
    When only the input channels of the first pair differ (an inpainting
    U-Net takes image + mask), the shared input channels are copied and the
    rest keep their random values. Copying stops at the first mismatch.

    Args:
        network: a U-Net from `build_unet(encoder=None)` or `build_unet_sr`
            (or a `Restorer` around one).
        source: a Keras model, or a name/path `tfimage.zoo.load` resolves.

    Returns:
        The number of convolutions copied (at least 1).
    """
    from tfimage.execution import network_of

    if isinstance(source, (str, os.PathLike)):
        source = load_network(source)
    targets = [layer for layer in conv_layers(network_of(network)) if layer.name.startswith("enc")]
    sources = conv_layers(source)
    copied = 0
    for target, origin in zip(targets, sources):
        kernel, bias = target.get_weights()
        weights = origin.get_weights()
        if len(weights) != 2:
            break
        new_kernel, new_bias = weights
        if new_kernel.shape == kernel.shape and new_bias.shape == bias.shape:
            target.set_weights([new_kernel, new_bias])
        elif copied == 0 and new_kernel.shape[:2] == kernel.shape[:2] and new_kernel.shape[3] == kernel.shape[3]:
            shared = min(kernel.shape[2], new_kernel.shape[2])
            kernel = kernel.copy()
            kernel[:, :, :shared, :] = new_kernel[:, :, :shared, :]
            target.set_weights([kernel, new_bias])
        else:
            break
        copied += 1
    if not copied:
        raise ValueError(
            "No convolution of the pretrained network fits the U-Net encoder (compare its filters with "
            f"the encoder's). Received: source={getattr(source, 'name', source)}"
        )
    return copied


def _center_crop(image, size, multiple=1):
    height = min(image.shape[0], size) // multiple * multiple
    width = min(image.shape[1], size) // multiple * multiple
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    return image[top : top + height, left : left + width]


def compare_encoder_init(
    data,
    pretrained,
    task="denoise",
    encoder=None,
    steps=200,
    eval_every=50,
    channels=1,
    filters=(32, 64, 128),
    patch_size=48,
    batch_size=8,
    learning_rate=1e-3,
    sigma=25,
    hole_ratio=0.25,
    scale=2,
    validation_images=4,
    validation_size=96,
    seed=0,
    data_dir=None,
    verbose=0,
):
    """Pretrained vs random encoder initialisation of the same U-Net, at equal steps.

    Both runs build the network from the same seed, train on the same
    patches with the same optimizer, and are scored on the same held-out
    images; only the encoder's starting weights differ.

    Args:
        data: training images: a catalogue name, a folder, a list of paths or
            a list of float32 (H, W, C) arrays. The last
            `validation_images` are held out.
        pretrained: with `encoder=None`, a Keras model or a name/`.keras`
            path whose leading convolutions initialise the plain encoder
            (`init_encoder_from`; e.g. saved_models/mnist-classifier.keras
            with filters (32, 64, ...)); with a backbone `encoder`, its
            weights: "imagenet" or the path of a weights file.
        task: "denoise" (Gaussian noise of `sigma`, residual U-Net),
            "inpaint" (`random_mask` holes of `hole_ratio`) or "sr" (bicubic
            x`scale`, `build_unet_sr`).
        encoder: None (plain convolution blocks) or a backbone name.
        steps: optimizer steps of each run; a multiple of `eval_every`.
        eval_every: steps between validation scores.
        channels: 1 or 3.
        filters: U-Net widths.
        patch_size, batch_size, learning_rate: training settings (Adam).
        sigma: denoising noise level (0-255 units).
        hole_ratio: inpainting hole fraction.
        scale: SR factor.
        validation_images: held-out images.
        validation_size: held-out images are center-cropped to this size.
        seed: seeds weights, patches and degradations.
        data_dir: where catalogue sets are looked for first.
        verbose: Keras fit verbosity.

    Returns:
        A dict with "task", "encoder", "steps" (0, eval_every, ..., steps),
        "pretrained" and "scratch" (mean validation PSNR in dB at each of
        those steps, on the whole image), "copied_layers" (plain encoder) and
        "seconds".
    """
    from tfimage import execution, inference, metrics
    from tfimage.datasets import pipelines
    from tfimage.models.restorer import Restorer
    from tfimage.networks.unet import build_unet, build_unet_sr
    from tfimage.tasks import get_task
    from tfimage.tasks.super_resolution import check_scale, sr_pair

    if task not in ("denoise", "inpaint", "sr"):
        raise ValueError(f"task must be 'denoise', 'inpaint' or 'sr'. Received: task={task!r}")
    if steps < 1 or eval_every < 1 or steps % eval_every:
        raise ValueError(
            f"steps must be a positive multiple of eval_every={eval_every}. Received: steps={steps}"
        )
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], np.ndarray):
        images = [np.asarray(image, np.float32) for image in data]
    else:
        _, images = pipelines.load_source(data, channels=channels, data_dir=data_dir)
    if len(images) <= validation_images:
        raise ValueError(
            f"Need more than validation_images={validation_images} images. Received: {len(images)} images"
        )
    train_images, val_images = images[:-validation_images], images[-validation_images:]
    multiple = scale if task == "sr" else 8
    val_clean = [_center_crop(image, validation_size, multiple) for image in val_images]

    restoration = get_task(task)
    if task == "denoise":
        degradation = restoration.training_degradation(sigma=sigma)
        noise = restoration.validation_degradation(sigma=sigma)
        val_inputs = [np.asarray(noise(image, (seed + 1, i))) for i, image in enumerate(val_clean)]
    elif task == "inpaint":
        degradation = restoration.training_degradation(hole_ratio)
        holes = restoration.validation_degradation(hole_ratio)
        val_inputs = [holes(image, (seed + 1, i)) for i, image in enumerate(val_clean)]
    else:
        check_scale(scale)
        if patch_size % scale:
            raise ValueError(f"patch_size must be a multiple of scale={scale}. Received: patch_size={patch_size}")
        degradation = restoration.training_degradation(scale)
        val_inputs = [sr_pair(image, scale)[1] for image in val_clean]

    def build(weights):
        keras.utils.set_random_seed(seed)
        if task == "sr":
            return build_unet_sr(scale, channels, encoder=encoder, filters=filters, weights=weights)
        return build_unet(
            channels, encoder=encoder, filters=filters, extra_inputs=1 if task == "inpaint" else 0,
            weights=weights, residual=task == "denoise",
        )

    def score(network):
        values = []
        for clean, inputs in zip(val_clean, val_inputs):
            if task == "inpaint":
                restored = inference.restore(network, inputs[0], task="inpaint", mask=inputs[1])
            elif task == "sr":
                restored = inference.restore(network, inputs, task="sr", scale=scale)
            else:
                restored = np.clip(np.asarray(execution.graph_call(network)(inputs[None]))[0], 0.0, 1.0)
            values.append(float(metrics.psnr(clean, restored)))
        return float(np.mean(values))

    class Record(keras.callbacks.Callback):
        def __init__(self, history):
            super().__init__()
            self.history_values = history

        def on_epoch_end(self, epoch, logs=None):
            self.history_values.append(score(self.model.network))

    start = time.perf_counter()
    result = {"task": task, "encoder": encoder or "plain", "steps": list(range(0, steps + 1, eval_every))}
    for run in ("pretrained", "scratch"):
        if encoder is None:
            network = build(None)
            if run == "pretrained":
                result["copied_layers"] = init_encoder_from(network, pretrained)
        else:
            network = build(pretrained if run == "pretrained" else None)
        # An inpainting network's second input, the mask, passes through as it is.
        restorer = Restorer(network, noise_level_input=task == "inpaint")
        restorer.compile(optimizer=keras.optimizers.Adam(learning_rate))
        dataset = pipelines.restoration_dataset(
            train_images, degradation, patch_size=patch_size, batch_size=batch_size, channels=channels, seed=seed
        )
        history = [score(network)]
        restorer.fit(
            dataset, epochs=steps // eval_every, steps_per_epoch=eval_every, callbacks=[Record(history)],
            verbose=verbose, shuffle=False,
        )
        result[run] = history
    result["seconds"] = time.perf_counter() - start
    return result
