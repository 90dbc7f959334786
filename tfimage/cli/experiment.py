"""`tfimage experiment transfer-denoise|transfer-encoder`: scratch vs pretrained at equal steps."""

import json


def register(groups):
    parser = groups["experiment"].add_parser(
        "transfer-denoise",
        help="Train from scratch and from pretrained weights on 10 images; PSNR vs steps (CSV, PNG).",
    )
    parser.add_argument("--pretrained", default="dncnn-s25", help="the pretrained model")
    parser.add_argument("--task", default="sigma75", help="sigma75 or poisson")
    parser.add_argument("--train-images", type=int, default=10)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=40)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default="benchmarks/results")
    parser.add_argument("--data-dir")
    parser.set_defaults(func=run)

    encoder = groups["experiment"].add_parser(
        "transfer-encoder",
        help="One U-Net trained twice: encoder from a pretrained network vs random; PSNR vs steps (CSV, PNG).",
        description=(
            "With --encoder plain (default), the U-Net's encoder convolutions are copied from --pretrained "
            "(a .keras model or name, e.g. saved_models/tfimage-inpaint.keras); with a Keras Applications "
            "--encoder (vgg16, resnet50, ...), --pretrained is 'imagenet' or a weights file."
        ),
    )
    encoder.add_argument("--pretrained", required=True, help="model name/.keras path, or imagenet/weights file")
    encoder.add_argument("--task", choices=("denoise", "inpaint", "sr"), default="denoise")
    encoder.add_argument("--encoder", default="plain", help="plain or a backbone name")
    encoder.add_argument("--data", default="train400", help="training images (the last 4 are held out)")
    encoder.add_argument("--filters", type=int, nargs="+", default=[24, 48, 96, 192], help="U-Net widths")
    encoder.add_argument("--channels", type=int, choices=(1, 3), default=1)
    encoder.add_argument("--train-images", type=int, default=50, help="use the first N images (plus 4 held out)")
    encoder.add_argument("--steps", type=int, default=300)
    encoder.add_argument("--eval-every", type=int, default=50)
    encoder.add_argument("--batch", type=int, default=8)
    encoder.add_argument("--patch", type=int, default=48)
    encoder.add_argument("--lr", type=float, default=1e-3)
    encoder.add_argument("--sigma", type=float, default=25, help="denoise: noise level")
    encoder.add_argument("--hole-ratio", type=float, default=0.25, help="inpaint: hole fraction")
    encoder.add_argument("--scale", type=int, default=2, help="sr: factor")
    encoder.add_argument("--seed", type=int, default=0)
    encoder.add_argument("--out-dir", default="benchmarks/results")
    encoder.add_argument("--data-dir")
    encoder.set_defaults(func=run_encoder)


def run_encoder(args):
    from tfimage import experiments

    result = experiments.transfer_encoder(
        args.pretrained, data=args.data, task=args.task, encoder=None if args.encoder == "plain" else args.encoder,
        train_images=args.train_images, out_dir=args.out_dir, channels=args.channels, data_dir=args.data_dir,
        steps=args.steps, eval_every=args.eval_every, filters=tuple(args.filters), patch_size=args.patch,
        batch_size=args.batch, learning_rate=args.lr, sigma=args.sigma, hole_ratio=args.hole_ratio,
        scale=args.scale, seed=args.seed, verbose=0,
    )
    print(f"{'step':>6} {'random':>8} {'pretrained':>10}")
    for step, scratch, pretrained in zip(result["steps"], result["scratch"], result["pretrained"]):
        print(f"{step:>6} {scratch:>8.2f} {pretrained:>10.2f}")
    summary = {key: result[key] for key in ("task", "encoder", "steps", "scratch", "pretrained", "seconds")}
    summary.update(copied_layers=result.get("copied_layers"), csv=result["csv"], png=result["png"],
                   pretrained_from=str(args.pretrained))
    print(json.dumps(summary))


def run(args):
    from tfimage import experiments

    result = experiments.transfer_denoise(
        pretrained_name=args.pretrained, task=args.task, train_images=args.train_images, steps=args.steps,
        batch_size=args.batch, patch_size=args.patch, learning_rate=args.lr, seed=args.seed,
        out_dir=args.out_dir, data_dir=args.data_dir, verbose=2,
    )
    print(f"{'step':>6} {'scratch':>8} {'pretrained':>10}")
    for step in result["steps"]:
        print(f"{step:>6} {result['scratch'][step]:>8.2f} {result['pretrained'][step]:>10.2f}")
    reach = result["steps_to_target"]
    print(
        f"scratch final PSNR {result['target']:.2f} dB: scratch reaches it at step {reach['scratch']}, "
        f"pretrained at step {reach['pretrained']} (ratio {result['ratio']})"
    )
    print(json.dumps({k: result[k] for k in ("task", "target", "steps_to_target", "ratio", "csv", "png")}))
