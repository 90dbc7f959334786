"""Writes the generation pictures under benchmarks/results/.

For the shipped models `mnist-gan`, `mnist-vae` and `mnist-ddim` (or the
files given): a 64-sample grid of each (mnist-ddim: 20 DDIM steps), a latent
interpolation strip of the GAN and the VAE (five rows of slerp between seeded
latent pairs), and a VAE reconstruction grid of 32 MNIST test digits (rows
alternate originals and reconstructions).

Usage:
    TFIMAGE_DATA_DIR=/work/shared/data python benchmarks/generation_figures.py
"""

import argparse
import os

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gan", default="mnist-gan")
    parser.add_argument("--vae", default="mnist-vae")
    parser.add_argument("--ddim", default="mnist-ddim")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from tfimage.cli.generate import load_generative_model
    from tfimage.datasets.mnist import mnist_float
    from tfimage.plots import interpolate_latents, save_image_grid
    from tfimage.plots import save_reconstruction_grid

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    written = []
    for kind, name in (("gan", args.gan), ("vae", args.vae)):
        model = load_generative_model(name, kind)
        path = os.path.join(args.out, f"mnist-{kind}-samples.png")  # classes cycle 0..9
        written.append(save_image_grid(model.sample(64, seed=args.seed), path, ncols=8, scale=2))
        decode = model.generate if kind == "gan" else model.decode
        rows = []
        for row in range(5):
            z0, z1 = rng.standard_normal((2, model.latent_dim))
            # a conditional model keeps one class per row (classes 0, 2, 4, 6, 8)
            labels = None if model.num_classes is None else (2 * row) % model.num_classes
            rows.append(decode(interpolate_latents(z0, z1, steps=10), labels=labels))
        path = os.path.join(args.out, f"mnist-{kind}-interpolation.png")
        written.append(save_image_grid(np.concatenate(rows), path, ncols=10, scale=2))
        if kind == "vae":
            images, labels = mnist_float("test")
            images, labels = images[:32], labels[:32]
            labels = None if model.num_classes is None else labels
            path = os.path.join(args.out, "mnist-vae-reconstructions.png")
            written.append(save_reconstruction_grid(images, model.reconstruct(images, labels), path,
                                                    ncols=8))
    model = load_generative_model(args.ddim, "diffusion")
    path = os.path.join(args.out, "mnist-ddim-samples.png")
    written.append(save_image_grid(model.sample(64, steps=20, seed=args.seed), path, ncols=8, scale=2))
    for path in written:
        os.chmod(path, 0o644)
        print(path)


if __name__ == "__main__":
    main()
