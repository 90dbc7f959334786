"""Training generative models: `train_gan`, `train_vae` and `train_diffusion` (`tfimage train gan|vae|diffusion`).

A run trains a DCGAN (`tfimage.models.gan.GAN`), a convolutional VAE
(`tfimage.models.vae.VAE`) or a DDIM diffusion model
(`tfimage.models.diffusion.DiffusionModel`) on MNIST or a folder of same-size images, from
scratch or from a model (`init`, fine-tuning), and writes into its folder:

- model.keras after every epoch, atomically (`training.AtomicCheckpoint`; a
  model with non-finite weights is never written),
- backup/ (`keras.callbacks.BackupAndRestore`, each epoch): a killed run
  continues from its last finished epoch, optimizer states included, when
  the same call is made again,
- history.csv (appending), samples/epoch_NNN.png (one grid per epoch),
- train_config.json (the run's options, "version" 2; another config in the
  same folder is refused unless overwrite) and, once finished, train.json.

This module imports NumPy only at the top (the command line loads it lazily).
"""

import json
import os
import sys
import time

import numpy as np

from tfimage.train_config import CONFIG_FILE, CONFIG_VERSION

MODEL_FILE = "model.keras"
# The files a generation run writes in its folder (removed when another run replaces it).
GENERATION_FILES = (CONFIG_FILE, MODEL_FILE, "backup", "history.csv", "samples", "train.json")
KINDS = ("gan", "vae", "diffusion")


# ------------------------------------------------------------------ data and models
def load_generation_data(data, data_dir=None, digits=None, limit=None):
    """Training or reference images for the generation commands.

    Args:
        data: "mnist" or a folder of images that all have the same size.
        data_dir: folder holding MNIST/ (see `catalogue.locate`).
        digits: MNIST only: an iterable of classes to keep.
        limit: keep only the first `limit` images.

    Returns:
        `(images, labels)`: float32 (N, H, W, C) in [0, 1] and int labels
        (None for a folder).
    """
    from tfimage import io

    if data == "mnist":
        from tfimage.datasets.mnist import mnist_float

        images, labels = mnist_float("test", data_dir=data_dir)
        if digits is not None:
            digits = sorted({int(d) for d in digits})
            bad = [d for d in digits if not 0 <= d <= 9]
            if bad or not digits:
                raise ValueError(f"--digits must list classes 0..9. Received: --digits={digits}")
            keep = np.isin(labels, digits)
            images, labels = images[keep], labels[keep]
    else:
        if digits is not None:
            raise ValueError(f"--digits works with --data mnist only. Received: --data={data}")
        if not os.path.isdir(data):
            raise FileNotFoundError(
                f"--data must be 'mnist' or an image folder. Received: --data={data}")
        paths = io.list_images(data)
        images = [io.read_image(path) for path in paths]
        shape = images[0].shape
        for path, image in zip(paths, images):
            if image.shape != shape:
                raise ValueError(
                    f"All images of --data must have the same size as {paths[0]} {shape}. "
                    f"Received: {path} with shape {image.shape}")
        images, labels = np.stack(images).astype(np.float32), None
    if limit is not None:
        images = images[:limit]
        labels = None if labels is None else labels[:limit]
    return images, labels


def load_generative_model(model, kind=None):
    """A tfimage GAN, VAE or diffusion model from a shipped name (saved_models/NAME.keras) or a `.keras` path.

    Args:
        model: e.g. "mnist-gan", or a path; a loaded model passes through.
        kind: None, "gan", "vae" or "diffusion" (the model must be of that kind).

    Raises:
        ValueError: not a generative model, not of `kind`, or an unknown name.
        FileNotFoundError: a missing file or shipped model.
    """
    from tfimage import zoo
    from tfimage.models.diffusion import DiffusionModel  # (registers the class for loading)
    from tfimage.models.gan import GAN
    from tfimage.models.vae import VAE

    if isinstance(model, (GAN, VAE, DiffusionModel)):
        loaded = model
    else:
        loaded = zoo.load(model)
    if not isinstance(loaded, (GAN, VAE, DiffusionModel)):
        raise ValueError(
            f"The model is a {type(loaded).__name__}, not a tfimage GAN, VAE or diffusion model. "
            f"Received: --model={model}")
    expected = {"gan": GAN, "vae": VAE, "diffusion": DiffusionModel}.get(kind)
    if expected is not None and not isinstance(loaded, expected):
        raise ValueError(
            f"The model is a {type(loaded).__name__}, not a {kind if kind == 'diffusion' else kind.upper()} "
            "model. "
            f"Received: --model={model}")
    return loaded


# ------------------------------------------------------------------ evaluation
def evaluate_model(model, real, n=5000, feature_extractor=None, seed=0, steps=None, sampler=None):
    """FID/KID of `n` samples of a GAN, VAE or diffusion model against real images, with the floor.

    Args:
        model: a tfimage GAN, VAE or DiffusionModel.
        real: float32 real images (N, H, W, C) in [0, 1].
        n: number of generated images.
        feature_extractor: "mnist-classifier", "inception" or a
            `tfimage.fid.FeatureExtractor` (None: the classifier for 28x28
            gray images, else InceptionV3).
        seed: sampling seed and real-split seed.
        steps: sampling steps of a diffusion model (None: 20); must be None
            for a GAN or VAE.
        sampler: "dpm-solver++" or "ddim" for a diffusion model (None:
            "dpm-solver++"); must be None for a GAN or VAE.

    Returns:
        The dict of `tfimage.fid.evaluate_samples` (plus "steps", "sampler"
        and "images_per_second" of the sampling for a diffusion model).
    """
    from tfimage import fid

    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer. Received: n={n!r}")
    if tuple(model.image_shape) != tuple(real.shape[1:]):
        raise ValueError(
            f"The model makes images of shape {tuple(model.image_shape)} but the real images "
            f"have shape {tuple(real.shape[1:])}. Received: dataset images {real.shape}")
    if feature_extractor is None:
        feature_extractor = "mnist-classifier" if real.shape[1:] == (28, 28, 1) else "inception"
    if isinstance(feature_extractor, str):
        feature_extractor = fid.feature_extractor(feature_extractor)
    from tfimage.models.diffusion import DEFAULT_SAMPLER, DiffusionModel

    if not isinstance(model, DiffusionModel):
        if steps is not None:
            raise ValueError(f"steps applies to diffusion models only. Received: steps={steps!r}")
        if sampler is not None:
            raise ValueError(f"sampler applies to diffusion models only. Received: sampler={sampler!r}")
        generated = model.sample(n, seed=seed)
        return fid.evaluate_samples(generated, real, feature_extractor, seed=seed)
    steps = 20 if steps is None else steps
    sampler = DEFAULT_SAMPLER if sampler is None else sampler
    model.sample(min(n, 500), steps=steps, seed=seed, sampler=sampler)  # (traces the sampler outside the timing)
    start = time.time()
    generated = model.sample(n, steps=steps, seed=seed, sampler=sampler)
    seconds = time.time() - start
    result = fid.evaluate_samples(generated, real, feature_extractor, seed=seed)
    result["steps"] = int(steps)
    result["sampler"] = sampler
    result["images_per_second"] = round(n / max(seconds, 1e-9), 1)
    return result


# ------------------------------------------------------------------ training
def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number. Received: {name}={value!r}")
    return float(value)


def _migrate_generation(record):
    record = dict(record)
    version = record.get("version")
    if version != CONFIG_VERSION:
        raise ValueError(
            f"The run config is not a version-{CONFIG_VERSION} generation config. Received: version={version!r}")
    return record


def train_gan(data, out_dir, *, epochs=20, batch_size=64, init=None, latent_dim=64, conditional=False,
              digits=None, limit=None, learning_rate=2e-4, loss="non_saturating", freeze_d=0, ema_decay=0.999,
              generator_filters=32, discriminator_filters=32, seed=0, strategy=None, data_dir=None,
              overwrite=False, samples=64, callbacks=None, verbose=2):
    """Trains a DCGAN (Radford et al., ICLR 2016); resumable, model in out_dir/model.keras.

    Args:
        data: "mnist" (the 10k test split) or a folder of same-size images.
        out_dir: the run folder (see the module docstring).
        epochs: passes over the images.
        batch_size: images per step (global, under a strategy).
        init: a GAN to fine-tune: a shipped name, a `.keras` path or a GAN
            (its architecture wins over latent_dim, the filters and ema_decay).
        latent_dim: size of the latent vector of a new GAN.
        conditional: class-conditional (needs labels: data="mnist").
        digits: MNIST only: the classes to keep, e.g. (8, 9).
        limit: use only the first `limit` images (after `digits`).
        learning_rate: Adam's rate (beta_1 0.5) of both networks.
        loss: "non_saturating", "hinge" or "wgan_gp".
        freeze_d: freeze the first K discriminator blocks (FreezeD).
        ema_decay: decay of the EMA generator of a new GAN.
        generator_filters, discriminator_filters: widths of a new GAN.
        seed: seeds weights, shuffling and latents.
        strategy: a `tf.distribute.Strategy` or None.
        data_dir: the folder holding MNIST/.
        overwrite: replace a different (or finished) run in out_dir.
        samples: images per grid in out_dir/samples/.
        callbacks: extra Keras callbacks, run after tfimage's own.
        verbose: Keras fit verbosity.

    Returns:
        The Keras History of this call (a resumed run logs only its own
        epochs); `history.model` is the trained GAN.
    """
    options = dict(latent_dim=_positive("latent_dim", latent_dim), loss=loss, freeze_d=int(freeze_d),
                   ema_decay=float(ema_decay), generator_filters=_positive("generator_filters", generator_filters),
                   discriminator_filters=_positive("discriminator_filters", discriminator_filters))
    from tfimage.models.gan import LOSSES

    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}. Received: loss={loss!r}")
    return _train("gan", data, out_dir, options, epochs=epochs, batch_size=batch_size, init=init,
                  conditional=conditional, digits=digits, limit=limit, learning_rate=learning_rate, seed=seed,
                  strategy=strategy, data_dir=data_dir, overwrite=overwrite, samples=samples, callbacks=callbacks,
                  verbose=verbose)


def train_vae(data, out_dir, *, epochs=20, batch_size=64, init=None, latent_dim=16, conditional=False,
              digits=None, limit=None, learning_rate=1e-3, beta=1.0, filters=32, prior_components=0, seed=0,
              strategy=None, data_dir=None, overwrite=False, samples=64, callbacks=None, verbose=2):
    """Trains a convolutional VAE (Kingma and Welling, ICLR 2014); resumable, model in out_dir/model.keras.

    Args:
        data, out_dir, epochs, batch_size, conditional, digits, limit, seed,
            strategy, data_dir, overwrite, samples, callbacks, verbose: as
            for `train_gan`.
        init: a VAE to fine-tune (a shipped name, a `.keras` path or a VAE).
        latent_dim: size of the latent space of a new VAE.
        learning_rate: Adam's rate.
        beta: weight of the KL term of a new VAE.
        filters: width of a new VAE.
        prior_components: a new VAE's latent Gaussian mixture (0: N(0, I));
            fitted to the training images' latent means after training.

    Returns:
        The Keras History of this call; `history.model` is the trained VAE.
    """
    if isinstance(prior_components, bool) or not isinstance(prior_components, (int, np.integer)) or prior_components < 0:
        raise ValueError(f"prior_components must be >= 0. Received: prior_components={prior_components!r}")
    options = dict(latent_dim=_positive("latent_dim", latent_dim), beta=float(beta),
                   filters=_positive("filters", filters), prior_components=int(prior_components))
    return _train("vae", data, out_dir, options, epochs=epochs, batch_size=batch_size, init=init,
                  conditional=conditional, digits=digits, limit=limit, learning_rate=learning_rate, seed=seed,
                  strategy=strategy, data_dir=data_dir, overwrite=overwrite, samples=samples, callbacks=callbacks,
                  verbose=verbose)


def train_diffusion(data, out_dir, *, epochs=50, batch_size=64, init=None, conditional=False, digits=None,
                    limit=None, learning_rate=1e-3, weight_decay=1e-4, widths=(16, 32, 64), block_depth=2,
                    embedding_dims=32, ema_decay=0.999, loss="mae", seed=0, strategy=None, data_dir=None,
                    overwrite=False, samples=64, callbacks=None, verbose=2):
    """Trains a DDIM diffusion model (Song et al., ICLR 2021); resumable, model in out_dir/model.keras.

    The model is `tfimage.models.diffusion.DiffusionModel` (noise prediction,
    continuous cosine schedule, EMA network), optimised with AdamW.

    Args:
        data, out_dir, epochs, batch_size, conditional, digits, limit, seed,
            strategy, data_dir, overwrite, samples, callbacks, verbose: as
            for `train_gan`.
        init: a diffusion model to fine-tune (a shipped name, a `.keras`
            path or a DiffusionModel; its architecture wins over widths,
            block_depth, embedding_dims, ema_decay and loss).
        learning_rate: AdamW's rate.
        weight_decay: AdamW's decoupled weight decay.
        widths: U-Net channels per resolution of a new model.
        block_depth: residual blocks per resolution of a new model.
        embedding_dims: noise/label embedding size of a new model.
        ema_decay: decay of the EMA network of a new model.
        loss: "mae" or "mse" on the predicted noise (new models).

    Returns:
        The Keras History of this call; `history.model` is the trained model.
    """
    from tfimage.models.diffusion import LOSSES

    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}. Received: loss={loss!r}")
    if isinstance(widths, str):
        widths = [w for w in widths.split(",") if w.strip()]
    try:
        widths = [int(w) for w in widths]
    except (TypeError, ValueError):
        raise ValueError(f"widths must be a list of positive integers. Received: widths={widths!r}") from None
    if not widths or min(widths) <= 0:
        raise ValueError(f"widths must be a list of positive integers. Received: widths={widths!r}")
    if not 0.0 <= float(ema_decay) < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1). Received: ema_decay={ema_decay!r}")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a number >= 0. Received: weight_decay={weight_decay!r}")
    options = dict(widths=widths, block_depth=_positive("block_depth", block_depth),
                   embedding_dims=_positive("embedding_dims", embedding_dims), ema_decay=float(ema_decay),
                   loss=loss, weight_decay=float(weight_decay))
    return _train("diffusion", data, out_dir, options, epochs=epochs, batch_size=batch_size, init=init,
                  conditional=conditional, digits=digits, limit=limit, learning_rate=learning_rate, seed=seed,
                  strategy=strategy, data_dir=data_dir, overwrite=overwrite, samples=samples, callbacks=callbacks,
                  verbose=verbose)


def _build_model(kind, options, init, image_shape, labels, conditional, seed, data):
    from tfimage.models.gan import GAN
    from tfimage.models.vae import VAE

    if init is not None:
        model = load_generative_model(init, kind)
        if tuple(model.image_shape) != tuple(image_shape):
            raise ValueError(
                f"The init model was built for images of shape {tuple(model.image_shape)}; the data have "
                f"{tuple(image_shape)}. Received: init={_name(init)}")
        if conditional and model.num_classes is None:
            raise ValueError(f"The init model is unconditional. Received: init={_name(init)}")
        if kind == "vae" and options["prior_components"] and options["prior_components"] != model.prior_components:
            raise ValueError(
                f"The init model was built with prior_components={model.prior_components}; a latent mixture is "
                f"set when a VAE is created. Received: prior_components={options['prior_components']}")
        return model
    num_classes = None
    if conditional:
        if labels is None:
            raise ValueError(f"conditional needs labels (data='mnist'). Received: data={data}")
        num_classes = 10
    if kind == "diffusion":
        from tfimage.models.diffusion import DiffusionModel

        return DiffusionModel(image_shape=image_shape, num_classes=num_classes, widths=options["widths"],
                              block_depth=options["block_depth"], embedding_dims=options["embedding_dims"],
                              ema_decay=options["ema_decay"], loss=options["loss"], seed=seed)
    if kind == "gan":
        return GAN(image_shape=image_shape, latent_dim=options["latent_dim"], num_classes=num_classes,
                   ema_decay=options["ema_decay"], seed=seed, generator_filters=options["generator_filters"],
                   discriminator_filters=options["discriminator_filters"])
    return VAE(image_shape=image_shape, latent_dim=options["latent_dim"], num_classes=num_classes,
               beta=options["beta"], seed=seed, filters=options["filters"],
               prior_components=options["prior_components"])


def _name(model):
    return model if isinstance(model, (str, os.PathLike)) else getattr(model, "name", str(model))


def _train(kind, data, out_dir, options, epochs, batch_size, init, conditional, digits, limit, learning_rate,
           seed, strategy, data_dir, overwrite, samples, callbacks, verbose):
    import contextlib

    import keras

    from tfimage.datasets.pipelines import generative_dataset
    from tfimage.plots import SampleGridCallback
    from tfimage.train_config import check_out_dir, prepare_out_dir
    from tfimage.training import AtomicCheckpoint, weights_are_finite

    epochs, batch_size = _positive("epochs", epochs), _positive("batch_size", batch_size)
    learning_rate = _rate("learning_rate", learning_rate)
    samples = _positive("samples", samples)
    if limit is not None:
        limit = _positive("limit", limit)
    digits = None if digits is None else sorted({int(d) for d in digits})
    record = {
        "version": CONFIG_VERSION, "kind": kind, "data": data if isinstance(data, str) else "custom",
        "init": None if init is None else _name(init), "epochs": epochs, "batch_size": batch_size,
        "conditional": bool(conditional), "digits": digits, "limit": limit, "learning_rate": learning_rate,
        "seed": int(seed), **options,
    }
    record = json.loads(json.dumps(record))
    action = check_out_dir(out_dir, record, overwrite, migrate_record=_migrate_generation)
    images, labels = load_generation_data(data, data_dir, digits, limit)
    if batch_size > len(images):
        raise ValueError(
            f"batch_size is larger than the {len(images)} training images. Received: batch_size={batch_size}")
    keras.utils.set_random_seed(seed)
    # Variables and optimizer states are created under the strategy; the train steps scale
    # their losses for the global batch (`_global_mean` in tfimage.models.gan).
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = _build_model(kind, options, init, images.shape[1:], labels, conditional, seed, data)
        if kind == "gan":
            model.set_freeze_d(options["freeze_d"])
            model.compile(d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5),
                          g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=0.5), loss=options["loss"])
        elif kind == "diffusion":
            model.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=options["weight_decay"]))
        else:
            model.compile(optimizer=keras.optimizers.Adam(learning_rate))
            if not model.optimizer.built:  # (BackupAndRestore restores into a built optimizer)
                model.optimizer.build(model.trainable_variables)
    use_labels = labels if model.num_classes is not None else None
    dataset = generative_dataset(images, use_labels, batch_size=batch_size, seed=seed)
    prepare_out_dir(out_dir, record, action, run_files=GENERATION_FILES)
    if action == "resume" and verbose:
        print(f"Resuming the run in {out_dir} from its last backup.")
    out_model = os.path.join(out_dir, MODEL_FILE)
    run_callbacks = [
        keras.callbacks.TerminateOnNaN(),
        AtomicCheckpoint(out_model, monitor=None, save_best_only=False, export_network=False),
        keras.callbacks.CSVLogger(os.path.join(out_dir, "history.csv"), append=True),
        SampleGridCallback(folder=os.path.join(out_dir, "samples"), n=samples, seed=0),
        keras.callbacks.BackupAndRestore(os.path.join(out_dir, "backup"), double_checkpoint=True),
    ] + list(callbacks or [])
    start = time.time()
    history = model.fit(dataset, epochs=epochs, callbacks=run_callbacks, verbose=verbose,
                        shuffle=False)  # generative_dataset shuffles
    wall = time.time() - start
    if kind == "vae" and model.prior_components:
        log_likelihood = model.fit_latent_prior(images, use_labels, seed=seed)
        if verbose:
            print(f"Fitted the {model.prior_components}-component latent mixture "
                  f"(mean log-likelihood {log_likelihood:.2f})")
    if weights_are_finite(model):
        model.save(out_model)  # (atomic: SaveWithoutOptimizer)
    elif verbose:
        print(f"The weights are not finite: {out_model} keeps the last good epoch.")
    summary = {
        "command": ("tfimage " + " ".join(sys.argv[1:])) if sys.argv else "",
        "kind": kind, "data": record["data"], "images": int(len(images)),
        "epochs": epochs, "epochs_this_call": len(history.epoch), "batch_size": batch_size,
        "wall_seconds": round(wall, 1),
        "final": {key: float(values[-1]) for key, values in history.history.items() if values},
        "model": out_model,
    }
    with open(os.path.join(out_dir, "train.json"), "w") as stream:
        json.dump(summary, stream, indent=2)
    if verbose:
        print(f"Saved {out_model} after {epochs} epochs ({len(history.epoch)} in this call, {wall:.0f} s)")
    return history
