"""`tfimage train gan|vae`, `tfimage sample` and `tfimage evaluate gan|vae`.

Generation commands: train a DCGAN (Radford et al., ICLR 2016) or a VAE
(Kingma and Welling, ICLR 2014) on MNIST or a folder of same-size images,
draw sample grids, and score a model with FID (Heusel et al., NeurIPS 2017)
and KID (Binkowski et al., ICLR 2018) against real images.
"""

import contextlib
import json
import os
import sys
import time

MODEL_FILE = "model.keras"


def _positive_int(name):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value <= 0:
            import argparse

            raise argparse.ArgumentTypeError(
                f"{name} must be a positive integer. Received: {name}={text}")
        return value

    return parse


def register(groups):
    """Adds the generation commands to the tfimage parser."""
    for kind in ("gan", "vae"):
        title = "a DCGAN" if kind == "gan" else "a convolutional VAE"
        parser = groups["train"].add_parser(
            kind, help=f"Train {title} on MNIST or an image folder.",
            description=f"Train {title}; checkpoints OUT/model.keras after each epoch and "
                        "writes sample grids to OUT/samples/.")
        parser.add_argument("--data", required=True,
                            help="'mnist' (the 10k test split here) or a folder of "
                                 "same-size images")
        parser.add_argument("--epochs", type=_positive_int("--epochs"), default=20)
        parser.add_argument("--batch-size", type=_positive_int("--batch-size"), default=64)
        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--overwrite", action="store_true",
                            help="replace a model already in --out")
        parser.add_argument("--init", help="model name or .keras file to start from (fine-tuning)")
        parser.add_argument("--latent-dim", type=_positive_int("--latent-dim"), default=None)
        parser.add_argument("--conditional", action="store_true",
                            help="class-conditional model (needs labels: --data mnist)")
        parser.add_argument("--digits",
                            help="MNIST only: comma-separated classes to keep, e.g. 8,9")
        parser.add_argument("--limit", type=_positive_int("--limit"),
                            help="use only the first LIMIT images (after --digits)")
        parser.add_argument("--learning-rate", type=float, default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--data-dir", help="folder holding MNIST/ (else $TFIMAGE_DATA_DIR)")
        parser.add_argument("--strategy", choices=("none", "mirrored"), default="none",
                            help="tf.distribute strategy (mirrored: every local GPU, or CPU)")
        if kind == "gan":
            parser.add_argument("--loss", default="non_saturating",
                                choices=("non_saturating", "hinge", "wgan_gp"))
            parser.add_argument("--freeze-d", type=int, default=0,
                                help="freeze the first K discriminator blocks (FreezeD)")
            parser.add_argument("--ema-decay", type=float, default=0.999)
            parser.add_argument("--generator-filters", type=_positive_int("--generator-filters"),
                                default=32)
            parser.add_argument("--discriminator-filters",
                                type=_positive_int("--discriminator-filters"), default=32)
        else:
            parser.add_argument("--beta", type=float, default=1.0, help="weight of the KL term")
            parser.add_argument("--filters", type=_positive_int("--filters"), default=32)
            parser.add_argument(
                "--prior-components", type=int, default=0,
                help="after training, fit a K-component Gaussian mixture (per class) to the latent "
                     "means and sample from it instead of N(0, I) (new models only)")
        parser.set_defaults(func=train_command, kind=kind)

    parser = groups["root"].add_parser(
        "sample", help="Draw a grid of samples from a GAN or VAE.",
        description="Draw N samples from a GAN or VAE and write them as one PNG grid.")
    parser.add_argument("--model", required=True, help="mnist-gan, mnist-vae or a .keras file")
    parser.add_argument("-n", type=int, default=64, help="number of images")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--class", dest="class_label", type=int, default=None,
                        help="class to draw (conditional models only)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--ncols", type=int, default=8)
    parser.set_defaults(func=sample_command)

    for kind in ("gan", "vae"):
        parser = groups["evaluate"].add_parser(
            kind, help=f"FID and KID of a {kind.upper()} against real images.",
            description="Scores N generated images against a fixed half of the real images; "
                        "the floor is the other real half against the same half.")
        parser.add_argument("--model", required=True, help=f"mnist-{kind} or a .keras file")
        parser.add_argument("--dataset", default="mnist", help="'mnist' or a folder of images")
        parser.add_argument("-n", type=int, default=5000, help="generated images (default 5000)")
        parser.add_argument("--feature-extractor", default=None,
                            choices=("mnist-classifier", "inception"),
                            help="default: mnist-classifier for 28x28 gray, else inception")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--data-dir")
        parser.add_argument("--json", action="store_true",
                            help="print one JSON object as the last line")
        parser.set_defaults(func=evaluate_command, kind=kind)


# ------------------------------------------------------------------ data
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
    import numpy as np

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
    import keras

    from tfimage.models.gan import GAN
    from tfimage.models.saving import register_custom_objects, resolve_model_path
    from tfimage.models.vae import VAE

    register_custom_objects()

    path = resolve_model_path(model)
    loaded = keras.saving.load_model(path, compile=False)
    if not isinstance(loaded, (GAN, VAE)):
        raise ValueError(
            f"The model is a {type(loaded).__name__}, not a tfimage GAN or VAE. "
            f"Received: --model={model}")
    expected = {"gan": GAN, "vae": VAE}.get(kind)
    if expected is not None and not isinstance(loaded, expected):
        raise ValueError(
            f"The model is a {type(loaded).__name__}, not a {kind.upper()}. "
            f"Received: --model={model}")
    return loaded


# ------------------------------------------------------------------ train
def train_command(args):
    import keras

    from tfimage.datasets.pipelines import generative_dataset
    from tfimage.models.gan import GAN
    from tfimage.models.vae import VAE
    from tfimage.plots import SampleGridCallback

    out_model = os.path.join(args.out, MODEL_FILE)
    if os.path.exists(out_model) and not args.overwrite:
        raise ValueError(
            f"{out_model} already holds a model; pass --overwrite to replace it. "
            f"Received: --out={args.out}")
    digits = args.digits.split(",") if args.digits else None
    images, labels = load_generation_data(args.data, args.data_dir, digits, args.limit)
    if args.batch_size > len(images):
        raise ValueError(
            f"--batch-size is larger than the {len(images)} training images. "
            f"Received: --batch-size={args.batch_size}")
    keras.utils.set_random_seed(args.seed)
    if args.strategy == "mirrored":
        from tfimage.training import mirrored_strategy

        # Variables and optimizer state are created under the strategy; the train steps
        # scale their losses for the global batch (see _global_mean in tfimage.models.gan).
        scope = mirrored_strategy().scope()
    else:
        scope = contextlib.nullcontext()
    with scope:
        if args.init:
            model = load_generative_model(args.init, args.kind)
            if tuple(model.image_shape) != tuple(images.shape[1:]):
                raise ValueError(
                    f"The --init model was built for images of shape {model.image_shape}; "
                    f"--data has {images.shape[1:]}. Received: --init={args.init}")
            if args.conditional and model.num_classes is None:
                raise ValueError(f"The --init model is unconditional. Received: --init={args.init}")
            if args.kind == "vae" and args.prior_components and args.prior_components != model.prior_components:
                raise ValueError(
                    f"The --init model was built with prior_components={model.prior_components}; a latent "
                    f"mixture is set when a VAE is created. Received: --prior-components={args.prior_components}")
        else:
            num_classes = None
            if args.conditional:
                if labels is None:
                    raise ValueError(
                        f"--conditional needs labels (--data mnist). Received: --data={args.data}")
                num_classes = 10
            latent = args.latent_dim or (64 if args.kind == "gan" else 16)
            if args.kind == "gan":
                model = GAN(image_shape=images.shape[1:], latent_dim=latent,
                            num_classes=num_classes, ema_decay=args.ema_decay, seed=args.seed,
                            generator_filters=args.generator_filters,
                            discriminator_filters=args.discriminator_filters)
            else:
                model = VAE(image_shape=images.shape[1:], latent_dim=latent,
                            num_classes=num_classes, beta=args.beta, seed=args.seed,
                            filters=args.filters, prior_components=args.prior_components)
        use_labels = labels if model.num_classes is not None else None
        if args.kind == "gan":
            model.set_freeze_d(args.freeze_d)
            rate = args.learning_rate or 2e-4
            model.compile(d_optimizer=keras.optimizers.Adam(rate, beta_1=0.5),
                          g_optimizer=keras.optimizers.Adam(rate, beta_1=0.5), loss=args.loss)
        else:
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate or 1e-3))
    dataset = generative_dataset(images, use_labels, batch_size=args.batch_size, seed=args.seed)
    os.makedirs(args.out, exist_ok=True)
    callbacks = [
        keras.callbacks.ModelCheckpoint(out_model, save_weights_only=False),
        keras.callbacks.CSVLogger(os.path.join(args.out, "history.csv")),
        SampleGridCallback(folder=os.path.join(args.out, "samples"), n=64, seed=0),
    ]
    start = time.time()
    history = model.fit(dataset, epochs=args.epochs, callbacks=callbacks, verbose=2,
                        shuffle=False)  # generative_dataset shuffles
    wall = time.time() - start
    if args.kind == "vae" and model.prior_components:
        log_likelihood = model.fit_latent_prior(images, use_labels, seed=args.seed)
        print(f"Fitted the {model.prior_components}-component latent mixture "
              f"(mean log-likelihood {log_likelihood:.2f})")
    model.save(out_model)
    record = {
        "command": "tfimage " + " ".join(sys.argv[1:]) if sys.argv else "",
        "kind": args.kind, "data": args.data, "images": int(len(images)),
        "epochs": args.epochs, "batch_size": args.batch_size,
        "wall_seconds": round(wall, 1),
        "final": {k: float(v[-1]) for k, v in history.history.items()},
        "model": out_model,
    }
    with open(os.path.join(args.out, "train.json"), "w") as stream:
        json.dump(record, stream, indent=2)
    print(f"Saved {out_model} after {args.epochs} epochs in {wall:.0f} s")


# ------------------------------------------------------------------ sample
def sample_command(args):
    from tfimage.plots import save_image_grid

    if args.n <= 0:
        raise ValueError(f"-n must be a positive integer. Received: -n={args.n}")
    if args.ncols <= 0:
        raise ValueError(f"--ncols must be a positive integer. Received: --ncols={args.ncols}")
    if not args.output.lower().endswith(".png"):
        raise ValueError(f"-o must name a .png file. Received: -o={args.output}")
    model = load_generative_model(args.model)
    if args.class_label is not None:
        if model.num_classes is None:
            raise ValueError(
                "The model is unconditional: it takes no --class. "
                f"Received: --class={args.class_label}")
        if not 0 <= args.class_label < model.num_classes:
            raise ValueError(
                f"Unknown class: --class must be in 0..{model.num_classes - 1}. "
                f"Received: --class={args.class_label}")
    images = model.sample(args.n, labels=args.class_label, seed=args.seed)
    save_image_grid(images, args.output, ncols=args.ncols)
    print(f"Wrote {args.n} samples to {args.output}")


# ------------------------------------------------------------------ evaluate
def evaluate_model(model, real, n=5000, feature_extractor=None, seed=0):
    """FID/KID of `n` samples of a GAN or VAE against real images, with the floor.

    Args:
        model: a tfimage GAN or VAE.
        real: float32 real images (N, H, W, C) in [0, 1].
        n: number of generated images.
        feature_extractor: "mnist-classifier", "inception" or a
            `tfimage.fid.FeatureExtractor` (None: the classifier for 28x28
            gray images, else InceptionV3).
        seed: sampling seed and real-split seed.

    Returns:
        The dict of `tfimage.fid.evaluate_samples`.
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
    generated = model.sample(n, seed=seed)
    return fid.evaluate_samples(generated, real, feature_extractor, seed=seed)


def evaluate_command(args):
    model = load_generative_model(args.model, args.kind)
    real, _ = load_generation_data(args.dataset, args.data_dir)
    start = time.time()
    result = evaluate_model(model, real, n=args.n, feature_extractor=args.feature_extractor,
                            seed=args.seed)
    result["model"] = args.model
    result["dataset"] = args.dataset
    result["seconds"] = round(time.time() - start, 1)
    print(f"{args.kind.upper()} {args.model} on {args.dataset} "
          f"({result['feature_extractor']} features, {result['images']} generated vs "
          f"{result['reference_images']} real):")
    print(f"  FID {result['fid']:.4f}   floor {result['fid_floor']:.4f}")
    print(f"  KID {result['kid']:.5f}   floor {result['kid_floor']:.5f}")
    if args.json:
        print(json.dumps(result))
