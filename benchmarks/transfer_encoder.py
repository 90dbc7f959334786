"""One U-Net trained twice, its encoder from a pretrained network or random: PSNR against steps (CSV, PNG).

With `--encoder plain` (default) the U-Net's encoder convolutions are copied
from `--pretrained` (a model name or `.keras` file, e.g.
saved_models/tfimage-inpaint.keras); with a Keras Applications `--encoder`
(vgg16, resnet50, ...), `--pretrained` is "imagenet" or a weights file. The
first `--train-images` images of `--data` train, its last 4 are held out;
both runs use the same seeds and batches. Writes
benchmarks/results/transfer_encoder_<task>.csv and .png; the last line
printed is one JSON summary.

Usage (the table in docs/results.md):
    TFIMAGE_DATA_DIR=../shared/data python benchmarks/transfer_encoder.py \
        --pretrained saved_models/tfimage-inpaint.keras --task denoise
"""

import argparse
import json
import os


def transfer_encoder(pretrained_from, data="train400", task="denoise", encoder=None, train_images=50,
                     out_dir=None, channels=1, data_dir=None, **options):
    """Pretrained vs random U-Net encoder at equal steps (`compare_encoder_init`), with CSV and PNG.

    Args:
        pretrained_from: a model name/`.keras` path whose leading convolutions
            initialise the plain encoder, or with a backbone `encoder`,
            "imagenet" or a weights file.
        data: training images; the first `train_images` train, the last 4
            are held out.
        task: "denoise", "inpaint" or "sr".
        encoder: None (plain) or a backbone name.
        train_images: how many training images.
        out_dir: where `transfer_encoder_<task>.csv/.png` go (None: nowhere).
        channels: 1 or 3.
        data_dir: where catalogue sets and weights are looked for first.
        **options: further `compare_encoder_init` arguments (steps,
            eval_every, filters, patch_size, batch_size, learning_rate,
            sigma, hole_ratio, scale, seed).

    Returns:
        The `compare_encoder_init` dict, plus "csv" and "png" when written.
    """
    from tfimage.transfer import compare_encoder_init
    from tfimage.datasets import pipelines
    from tfimage.experiments import write_curves

    if isinstance(train_images, bool) or int(train_images) < 1:
        raise ValueError(f"train_images must be positive. Received: train_images={train_images}")
    _, images = pipelines.load_source(data, channels=channels, data_dir=data_dir)
    images = images[: int(train_images)] + images[-4:]
    result = compare_encoder_init(
        images, pretrained_from, task=task, encoder=encoder, channels=channels, validation_images=4,
        data_dir=data_dir, **options,
    )
    if out_dir:
        result.update(write_curves(
            os.path.join(out_dir, f"transfer_encoder_{task}"), result["steps"], result["scratch"],
            result["pretrained"], f"encoder from {os.path.basename(str(pretrained_from))}",
            f"U-Net {task}: pretrained vs random encoder ({len(images) - 4} images)",
        ))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", required=True, help="model name/.keras path, or imagenet/weights file")
    parser.add_argument("--task", choices=("denoise", "inpaint", "sr"), default="denoise")
    parser.add_argument("--encoder", default="plain", help="plain or a backbone name")
    parser.add_argument("--data", default="train400", help="training images (the last 4 are held out)")
    parser.add_argument("--filters", type=int, nargs="+", default=[24, 48, 96, 192], help="U-Net widths")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=1)
    parser.add_argument("--train-images", type=int, default=50, help="use the first N images (plus 4 held out)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--sigma", type=float, default=25, help="denoise: noise level")
    parser.add_argument("--hole-ratio", type=float, default=0.25, help="inpaint: hole fraction")
    parser.add_argument("--scale", type=int, default=2, help="sr: factor")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)

    result = transfer_encoder(
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
    summary.update(copied_layers=result.get("copied_layers"), csv=result.get("csv"), png=result.get("png"),
                   pretrained_from=str(args.pretrained))
    print(json.dumps(summary))
    return result


if __name__ == "__main__":
    main()
