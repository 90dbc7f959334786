"""`tfimage train denoise`: train or fine-tune a denoiser (resumable)."""


def register(groups):
    parser = groups["train"].add_parser(
        "denoise",
        help="Train a DnCNN/FFDNet denoiser from scratch or from pretrained weights.",
        description=(
            "Runs are resumable: run the same command again after a stop and it continues from "
            "OUT/backup. The best model by validation PSNR is OUT/model.keras."
        ),
    )
    parser.add_argument("--data", required=True, help="catalogue set (train400) or image folder")
    parser.add_argument("--arch", choices=("dncnn", "ffdnet"), default="ffdnet", help="(taken from --init when given)")
    parser.add_argument("--init", default="scratch", help="scratch, a model name, or a .keras path")
    noise = parser.add_mutually_exclusive_group(required=True)
    noise.add_argument("--sigma", type=float, help="fixed noise level (0-255)")
    noise.add_argument("--sigma-range", type=float, nargs=2, metavar=("LOW", "HIGH"), help="blind range (0-255)")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=1, help="(taken from --init when given)")
    parser.add_argument("--depth", type=int)
    parser.add_argument("--filters", type=int)
    parser.add_argument("--no-residual", dest="residual", action="store_false", help="plain FFDNet output")
    parser.add_argument("--patch", type=int, default=40, help="patch size")
    parser.add_argument("--batch", type=int, default=64, help="batch size (global)")
    parser.add_argument("--steps", type=int, default=1000, help="total optimizer steps")
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3, help="initial learning rate (cosine decay)")
    parser.add_argument("--loss", choices=("l2", "l1", "charbonnier"), default="l2")
    parser.add_argument("--freeze", type=int, default=0, help="freeze the first K convolutions")
    parser.add_argument(
        "--widen-to-color", action="store_true",
        help="start a color model from a gray FFDNet --init (first/last layers widened)",
    )
    parser.add_argument("--validation-images", type=int, default=8, help="held-out images")
    parser.add_argument("--validation-sigma", type=float, help="default: --sigma, or 25 when blind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", choices=("none", "mirrored"), default="none")
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--overwrite", action="store_true", help="replace a different run in --out")
    parser.add_argument("--data-dir", help="where sets and weights are looked for first")
    parser.set_defaults(func=run)


def run(args):
    from tfimage import training

    strategy = None
    if args.strategy == "mirrored":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
    history = training.train_denoiser(
        args.data, args.out, arch=args.arch, init=args.init, sigma=args.sigma,
        sigma_range=args.sigma_range, channels=args.channels, depth=args.depth, filters=args.filters,
        residual=args.residual, patch_size=args.patch, batch_size=args.batch, steps=args.steps,
        steps_per_epoch=args.steps_per_epoch, learning_rate=args.lr, loss=args.loss,
        freeze_layers=args.freeze, widen=args.widen_to_color, validation_images=args.validation_images,
        validation_sigma=args.validation_sigma, seed=args.seed,
        overwrite=args.overwrite, strategy=strategy, data_dir=args.data_dir,
    )
    best = max(history.history.get("val_psnr", [float("nan")]))
    print(f"best validation PSNR this run: {best:.2f} dB; model: {args.out}/model.keras")
