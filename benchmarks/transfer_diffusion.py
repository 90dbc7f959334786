"""Diffusion transfer experiment: pretrain a DDIM model on MNIST digits 0-7, fine-tune on 100 8s and 9s.

The diffusion counterpart of benchmarks/transfer_gan.py, with the same
protocol: at the same numbers of training steps on the same 100 target
images (same seeds, same batches),

- "scratch": an unconditional `DiffusionModel` from random weights,
- "fine-tune": the same model pretrained on digits 0-7 (all of them in the
  10k test split), every weight trained.

At each step count the FID (Heusel et al., NeurIPS 2017; shipped MNIST
classifier features) of `--samples` samples (`--sampler`, `--sampling-steps` steps,
Song et al., ICLR 2021) is measured against a fixed half of the real 8s and
9s of the split; the floor is the other half. Writes
benchmarks/results/transfer_diffusion_fid.csv in the format of the GAN and
VAE curves (docs/results.md shows the three in one table), its plot and a
sample grid per variant.

Usage:
    TFIMAGE_DATA_DIR=/work/shared/data python benchmarks/transfer_diffusion.py [--pretrained FILE.keras]
"""

import argparse
import json
import os
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--pretrained", help="reuse a diffusion model pretrained on digits 0-7 (.keras)")
    parser.add_argument("--target-images", type=int, default=100)
    parser.add_argument("--steps", default="0,100,200,400,600", help="training steps at which FID is measured")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--widths", default="16,32,64")
    parser.add_argument("--block-depth", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--sampling-steps", type=int, default=20)
    parser.add_argument("--sampler", default="ddim", choices=("ddim", "dpm-solver++"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)

    import keras

    from tfimage import fid
    from tfimage.datasets.mnist import mnist_float
    from tfimage.datasets.pipelines import generative_dataset
    from tfimage.models.diffusion import DiffusionModel
    from tfimage.experiments import write_fid_curves
    from tfimage.plots import save_image_grid

    start = time.time()
    images, labels = mnist_float("test")
    source = images[labels <= 7]
    target_all = images[labels >= 8]
    rng = np.random.default_rng(args.seed)
    target = target_all[np.sort(rng.choice(len(target_all), args.target_images, replace=False))]
    extractor = fid.feature_extractor("mnist-classifier")
    reference, other = fid.real_halves(len(target_all), seed=args.seed)
    ref_features = extractor(target_all[reference])
    floor = fid.frechet_distance(extractor(target_all[other]), ref_features)
    widths = [int(w) for w in args.widths.split(",")]
    os.makedirs(args.out, exist_ok=True)

    def new_model():
        return DiffusionModel(image_shape=(28, 28, 1), widths=widths, block_depth=args.block_depth, seed=args.seed)

    def optimizer():
        return keras.optimizers.AdamW(args.learning_rate, weight_decay=1e-4)

    if args.pretrained:
        pretrained_path = args.pretrained
    else:
        keras.utils.set_random_seed(args.seed)
        model = new_model()
        model.compile(optimizer=optimizer())
        model.fit(generative_dataset(source, batch_size=64, seed=args.seed), epochs=args.pretrain_epochs, verbose=2,
                  shuffle=False)
        pretrained_path = os.path.join("runs", "transfer", "pretrained-0to7-ddim.keras")
        os.makedirs(os.path.dirname(pretrained_path), exist_ok=True)
        model.save(pretrained_path)
    pretrain_seconds = time.time() - start

    steps = sorted({int(s) for s in args.steps.split(",")})
    curves = {}
    for name, init in {"scratch": None, "fine-tune": pretrained_path}.items():
        keras.utils.set_random_seed(args.seed)
        model = keras.saving.load_model(init, compile=False) if init else new_model()
        model.compile(optimizer=optimizer())
        dataset = generative_dataset(target, batch_size=args.batch_size, seed=args.seed).repeat()
        done, values = 0, []
        for step in steps:
            if step > done:
                model.fit(dataset, steps_per_epoch=step - done, epochs=1, verbose=0, shuffle=False)
                done = step
            generated = model.sample(args.samples, steps=args.sampling_steps, seed=args.seed, sampler=args.sampler)
            value = fid.frechet_distance(extractor(generated), ref_features)
            values.append(round(float(value), 4))
            print(json.dumps({"variant": name, "step": step, "fid": value}), flush=True)
        curves[name] = values
        save_image_grid(model.sample(32, steps=args.sampling_steps, seed=args.seed, sampler=args.sampler),
                        os.path.join(args.out, f"transfer_diffusion_{name}.png"), ncols=8, scale=2)

    csv_path = write_fid_curves(
        os.path.join(args.out, "transfer_diffusion_fid"), steps, curves, floor, xlabel="diffusion steps",
        title=f"Diffusion, {args.target_images} images of 8s and 9s: scratch vs transfer")["csv"]
    scratch_final = curves["scratch"][-1]
    reached = [s for s, v in zip(steps, curves["fine-tune"]) if v <= scratch_final]
    print(json.dumps({
        "csv": csv_path, "floor": round(float(floor), 4),
        "fine_tune_steps_to_scratch_final_fid": reached[0] if reached else None,
        "samples": args.samples, "sampling_steps": args.sampling_steps, "sampler": args.sampler, "pretrained": pretrained_path,
        "pretrain_seconds": round(pretrain_seconds), "total_seconds": round(time.time() - start),
        "reference_images": int(len(reference)),
    }))

if __name__ == "__main__":
    main()
