"""`tfimage experiment transfer-denoise`: scratch vs pretrained on an unseen task."""

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
