"""Scratch vs pretrained on an unseen denoising task: PSNR against training steps (CSV, PNG).

Trains the pretrained model's architecture twice on a few Train400 images,
from random weights and from the pretrained ones, with the same steps,
batches, noise and seeds (`tfimage.experiments.transfer_denoise`), measures
the PSNR on the first Set12 images along the way and writes
benchmarks/results/transfer_denoise_<task>.csv and .png. The last line
printed is one JSON object: the scratch run's final PSNR and the step at
which each run first reaches it.

Usage (the table in docs/results.md):
    TFIMAGE_DATA_DIR=../shared/data python benchmarks/transfer_denoise.py --steps 400 --batch 8
"""

import argparse
import json
import os


def main(argv=None):
    from tfimage.experiments import TRANSFER_TASKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", default="dncnn-s25", help="the pretrained model")
    parser.add_argument("--task", default="sigma75", choices=sorted(TRANSFER_TASKS))
    parser.add_argument("--train-images", type=int, default=10)
    parser.add_argument("--validation-images", type=int, default=4)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=40)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)

    from tfimage import experiments

    result = experiments.transfer_denoise(
        pretrained_name=args.pretrained, task=args.task, train_images=args.train_images,
        validation_images=args.validation_images, steps=args.steps, batch_size=args.batch,
        patch_size=args.patch, learning_rate=args.lr, seed=args.seed, out_dir=args.out_dir,
        data_dir=args.data_dir, verbose=2,
    )
    print(f"{'step':>6} {'scratch':>8} {'pretrained':>10}")
    for step in result["steps"]:
        print(f"{step:>6} {result['scratch'][step]:>8.2f} {result['pretrained'][step]:>10.2f}")
    print(json.dumps({k: result[k] for k in ("task", "target", "steps_to_target", "ratio", "csv", "png")}))
    return result


if __name__ == "__main__":
    main()
