"""GAN/VAE transfer experiment: pretrain on MNIST digits 0-7, fine-tune on 100 8s and 9s.

Compares, at the same numbers of training steps on the same 100 images
(`--kind gan`, the default; `--kind vae` runs scratch and fine-tune for the
VAE, whose samples come from a latent Gaussian mixture refitted to the 100
target images at each measurement, `VAE.fit_latent_prior`):

- "scratch": a GAN trained from random weights,
- "fine-tune": the GAN pretrained on digits 0-7 (all of them in the 10k
  test split), every weight trained,
- "freezed-K": the pretrained GAN with its first K discriminator blocks frozen
  (FreezeD: Mo, Cho and Shin, 2020).

The FID (Heusel et al., NeurIPS 2017; shipped MNIST classifier features) of
`--samples` generated images is measured against a fixed half of the real 8s
and 9s of the split; the floor is the other half. Writes
`benchmarks/results/transfer_gan_fid.csv` and `.png`.

Usage:
    TFIMAGE_DATA_DIR=/work/shared/data python benchmarks/transfer_gan.py [--kind vae]
"""

import argparse
import json
import os
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=("gan", "vae"), default="gan")
    parser.add_argument("--prior-components", type=int, default=1,
                        help="VAE: latent mixture components fitted to the target images")
    parser.add_argument("--pretrain-epochs", type=int, default=10)
    parser.add_argument("--pretrained", help="reuse a pretrained .keras GAN instead")
    parser.add_argument("--target-images", type=int, default=100)
    parser.add_argument("--steps", default="0,100,200,400,600",
                        help="generator steps at which FID is measured")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--freeze-d", type=int, default=1)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args(argv)

    import keras

    from tfimage import fid
    from tfimage.datasets.mnist import mnist_float
    from tfimage.datasets.pipelines import generative_dataset
    from tfimage.models.gan import GAN
    from tfimage.models.vae import VAE
    from tfimage.experiments import write_fid_curves
    from tfimage.plots import save_image_grid

    start = time.time()
    images, labels = mnist_float("test")
    source = images[labels <= 7]
    target_all = images[labels >= 8]
    rng = np.random.default_rng(args.seed)
    chosen = np.sort(rng.choice(len(target_all), args.target_images, replace=False))
    target = target_all[chosen]
    extractor = fid.feature_extractor("mnist-classifier")
    reference, other = fid.real_halves(len(target_all), seed=args.seed)
    ref_features = extractor(target_all[reference])
    floor = fid.frechet_distance(extractor(target_all[other]), ref_features)

    os.makedirs(args.out, exist_ok=True)

    def new_model():
        if args.kind == "gan":
            return GAN(image_shape=(28, 28, 1), seed=args.seed)
        return VAE(image_shape=(28, 28, 1), seed=args.seed, prior_components=args.prior_components)

    def samples(model, n):
        if args.kind == "vae":
            model.fit_latent_prior(target, seed=args.seed)
        return model.sample(n, seed=args.seed)

    if args.pretrained:
        pretrained_path = args.pretrained
    else:
        keras.utils.set_random_seed(args.seed)
        model = new_model()
        model.compile()
        model.fit(generative_dataset(source, batch_size=64, seed=args.seed),
                epochs=args.pretrain_epochs, verbose=2, shuffle=False)
        suffix = "" if args.kind == "gan" else "-vae"
        pretrained_path = os.path.join("runs", "transfer", f"pretrained-0to7{suffix}.keras")
        os.makedirs(os.path.dirname(pretrained_path), exist_ok=True)
        model.save(pretrained_path)
    pretrain_seconds = time.time() - start

    steps = sorted({int(s) for s in args.steps.split(",")})
    variants = {"scratch": (None, 0), "fine-tune": (pretrained_path, 0)}
    if args.kind == "gan":
        variants[f"freezed-{args.freeze_d}"] = (pretrained_path, args.freeze_d)
    curves = {}
    for name, (init, freeze) in variants.items():
        keras.utils.set_random_seed(args.seed)
        if init:
            model = keras.saving.load_model(init, compile=False)
        else:
            model = new_model()
        if args.kind == "gan":
            model.set_freeze_d(freeze)
        model.compile()
        dataset = generative_dataset(target, batch_size=args.batch_size, seed=args.seed).repeat()
        done, values = 0, []
        for step in steps:
            if step > done:
                model.fit(dataset, steps_per_epoch=step - done, epochs=1, verbose=0, shuffle=False)
                done = step
            value = fid.frechet_distance(extractor(samples(model, args.samples)), ref_features)
            values.append(value)
            print(json.dumps({"variant": name, "step": step, "fid": value}), flush=True)
        curves[name] = values
        save_image_grid(samples(model, 32),
                        os.path.join(args.out, f"transfer_{args.kind}_{name}.png"), ncols=8, scale=2)

    csv_path = write_fid_curves(
        os.path.join(args.out, f"transfer_{args.kind}_fid"), steps, curves, floor,
        xlabel="generator steps" if args.kind == "gan" else "VAE steps",
        title=f"{args.kind.upper()}, {args.target_images} images of 8s and 9s: scratch vs transfer")["csv"]
    print(json.dumps({"csv": csv_path, "floor": floor, "pretrain_seconds": round(pretrain_seconds),
                      "total_seconds": round(time.time() - start), "samples": args.samples,
                      "reference_images": int(len(reference))}))


if __name__ == "__main__":
    main()
