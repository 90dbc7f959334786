"""`tfimage train gan|vae|diffusion`, `tfimage sample` and `tfimage evaluate gan|vae|diffusion`.

Generation commands: train a DCGAN (Radford et al., ICLR 2016), a VAE
(Kingma and Welling, ICLR 2014) or a DDIM diffusion model (Song et al.,
ICLR 2021) on MNIST or a folder of same-size images,
draw sample grids, and score a model with FID (Heusel et al., NeurIPS 2017)
and KID (Binkowski et al., ICLR 2018) against real images. The work is done
by `tfimage.generation` (`train_gan`, `train_vae`, `train_diffusion`,
`evaluate_model`); this
module parses the flags and calls it.
"""

import json
import time

# (Also importable from here, their earlier home.)
from tfimage.generation import MODEL_FILE, evaluate_model, load_generation_data, load_generative_model  # noqa: F401

# The samplers of tfimage.models.diffusion.SAMPLERS (spelled out: the CLI parses without TensorFlow).
SAMPLERS = ("ddim", "dpm-solver++")


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


def _widths(text):
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        widths = []
    if not widths or min(widths) <= 0:
        import argparse

        raise argparse.ArgumentTypeError(
            f"--widths must be comma-separated positive integers. Received: --widths={text}")
    return widths


TITLES = {"gan": "a DCGAN", "vae": "a convolutional VAE", "diffusion": "a DDIM diffusion model"}


def register(groups):
    """Adds the generation commands to the tfimage parser."""
    for kind in ("gan", "vae", "diffusion"):
        title = TITLES[kind]
        parser = groups["train"].add_parser(
            kind, help=f"Train {title} on MNIST or an image folder.",
            description=f"Train {title}; checkpoints OUT/model.keras after each epoch and "
                        "writes sample grids to OUT/samples/. Runs are resumable: run the same command "
                        "again after a stop and it continues from OUT/backup.")
        parser.add_argument("--data", required=True,
                            help="'mnist' (the 10k test split here) or a folder of "
                                 "same-size images")
        parser.add_argument("--epochs", type=_positive_int("--epochs"), default=20)
        parser.add_argument("--batch-size", type=_positive_int("--batch-size"), default=64)
        parser.add_argument("--out", required=True, help="output folder")
        parser.add_argument("--overwrite", action="store_true",
                            help="replace a different (or finished) run in --out")
        parser.add_argument("--init", help="model name or .keras file to start from (fine-tuning)")
        if kind != "diffusion":
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
        elif kind == "diffusion":
            parser.add_argument("--widths", type=_widths, default=[16, 32, 64],
                                help="U-Net channels per resolution, e.g. 16,32,64 (new models)")
            parser.add_argument("--block-depth", type=_positive_int("--block-depth"), default=2,
                                help="residual blocks per resolution (new models)")
            parser.add_argument("--ema-decay", type=float, default=0.999)
            parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay")
            parser.add_argument("--loss", default="mae", choices=("mae", "mse"),
                                help="error on the predicted noise (new models)")
        else:
            parser.add_argument("--beta", type=float, default=1.0, help="weight of the KL term")
            parser.add_argument("--filters", type=_positive_int("--filters"), default=32)
            parser.add_argument(
                "--prior-components", type=int, default=0,
                help="after training, fit a K-component Gaussian mixture (per class) to the latent "
                     "means and sample from it instead of N(0, I) (new models only)")
        parser.set_defaults(func=train_command, kind=kind)

    parser = groups["root"].add_parser(
        "sample", help="Draw a grid of samples from a GAN, VAE or diffusion model.",
        description="Draw N samples from a GAN, VAE or diffusion model and write them as one PNG grid.")
    parser.add_argument("--model", required=True, help="mnist-gan, mnist-vae, mnist-ddim or a .keras file")
    parser.add_argument("-n", type=int, default=64, help="number of images")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--class", dest="class_label", type=int, default=None,
                        help="class to draw (conditional models only)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--ncols", type=int, default=8)
    parser.add_argument("--steps", type=_positive_int("--steps"), default=None,
                        help="sampling steps (diffusion models only; default 20)")
    parser.add_argument("--sampler", choices=SAMPLERS, default=None,
                        help="diffusion models only: dpm-solver++ (default, second order) or ddim (first order); "
                             "the same cost per step")
    parser.set_defaults(func=sample_command)

    for kind in ("gan", "vae", "diffusion"):
        label = "diffusion model" if kind == "diffusion" else kind.upper()
        default_model = "mnist-ddim" if kind == "diffusion" else f"mnist-{kind}"
        parser = groups["evaluate"].add_parser(
            kind, help=f"FID and KID of a {label} against real images.",
            description="Scores N generated images against a fixed half of the real images; "
                        "the floor is the other real half against the same half.")
        parser.add_argument("--model", required=True, help=f"{default_model} or a .keras file")
        parser.add_argument("--dataset", default="mnist", help="'mnist' or a folder of images")
        parser.add_argument("-n", type=int, default=5000, help="generated images (default 5000)")
        parser.add_argument("--feature-extractor", default=None,
                            choices=("mnist-classifier", "inception"),
                            help="default: mnist-classifier for 28x28 gray, else inception")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--data-dir")
        parser.add_argument("--json", action="store_true",
                            help="print one JSON object as the last line")
        if kind == "diffusion":
            parser.add_argument("--steps", type=_positive_int("--steps"), default=20,
                                help="sampling steps")
            parser.add_argument("--sampler", choices=SAMPLERS, default=None,
                                help="dpm-solver++ (default, second order) or ddim (first order); the same cost "
                                     "per step")
        parser.set_defaults(func=evaluate_command, kind=kind)


# ------------------------------------------------------------------ train
def train_command(args):
    from tfimage import generation

    strategy = None
    if args.strategy == "mirrored":
        from tfimage.training import mirrored_strategy

        strategy = mirrored_strategy()
    common = dict(
        epochs=args.epochs, batch_size=args.batch_size, init=args.init, conditional=args.conditional,
        digits=args.digits.split(",") if args.digits else None, limit=args.limit, seed=args.seed,
        strategy=strategy, data_dir=args.data_dir, overwrite=args.overwrite,
    )
    if getattr(args, "latent_dim", None) is not None:
        common["latent_dim"] = args.latent_dim
    if args.learning_rate is not None:
        common["learning_rate"] = args.learning_rate
    if args.kind == "gan":
        generation.train_gan(
            args.data, args.out, loss=args.loss, freeze_d=args.freeze_d, ema_decay=args.ema_decay,
            generator_filters=args.generator_filters, discriminator_filters=args.discriminator_filters, **common,
        )
    elif args.kind == "diffusion":
        generation.train_diffusion(
            args.data, args.out, widths=args.widths, block_depth=args.block_depth, ema_decay=args.ema_decay,
            weight_decay=args.weight_decay, loss=args.loss, **common,
        )
    else:
        generation.train_vae(
            args.data, args.out, beta=args.beta, filters=args.filters, prior_components=args.prior_components,
            **common,
        )


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
    from tfimage.models.diffusion import DEFAULT_SAMPLER, DiffusionModel

    if isinstance(model, DiffusionModel):
        images = model.sample(args.n, steps=args.steps or 20, labels=args.class_label, seed=args.seed,
                              sampler=args.sampler or DEFAULT_SAMPLER)
    else:
        if args.steps is not None:
            raise ValueError(f"--steps applies to diffusion models only. Received: --steps={args.steps}")
        if args.sampler is not None:
            raise ValueError(f"--sampler applies to diffusion models only. Received: --sampler={args.sampler}")
        images = model.sample(args.n, labels=args.class_label, seed=args.seed)
    save_image_grid(images, args.output, ncols=args.ncols)
    print(f"Wrote {args.n} samples to {args.output}")


# ------------------------------------------------------------------ evaluate
def evaluate_command(args):
    model = load_generative_model(args.model, args.kind)
    real, _ = load_generation_data(args.dataset, args.data_dir)
    start = time.time()
    result = evaluate_model(model, real, n=args.n, feature_extractor=args.feature_extractor,
                            seed=args.seed, steps=getattr(args, "steps", None),
                            sampler=getattr(args, "sampler", None))
    result["model"] = args.model
    result["dataset"] = args.dataset
    result["seconds"] = round(time.time() - start, 1)
    label = "Diffusion model" if args.kind == "diffusion" else args.kind.upper()
    print(f"{label} {args.model} on {args.dataset} "
          f"({result['feature_extractor']} features, {result['images']} generated vs "
          f"{result['reference_images']} real):")
    print(f"  FID {result['fid']:.4f}   floor {result['fid_floor']:.4f}")
    print(f"  KID {result['kid']:.5f}   floor {result['kid_floor']:.5f}")
    if "images_per_second" in result:
        print(f"  sampling: {result['steps']} {result['sampler']} steps, {result['images_per_second']:.1f} images/s")
    if args.json:
        print(json.dumps(result))
