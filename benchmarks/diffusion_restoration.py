"""Restoration of MNIST digits with a diffusion prior (DiffPIR) vs plug-and-play with a Gaussian denoiser.

Three noise-free degradations of MNIST test digits:

- "inpaint-50", "inpaint-80": 50% / 80% of the pixels missing (one random
  pixel mask per digit, `tfimage.diffusion_restoration.inpainting_mask`);
- "sr-x4": bicubic blur and x4 subsampling (28x28 -> 7x7,
  `tfimage.operators.BlurDownsample` with the bicubic kernel).

Methods, on the same observations:

- "input": the masked digit (zeros in the holes) or its bicubic upsampling;
- "pnp": plug-and-play HQS (Zhang et al., TPAMI 2021; `tfimage.pnp`) with the
  blind Gaussian denoiser `tfimage-gray-blind` as the prior (inpainting:
  40 iterations from Telea's fill, as `tfimage inpaint`; SR: 24 iterations,
  as `tfimage sr`);
- "diffpir": the diffusion model (`mnist-ddim`) in DiffPIR-style sampling
  (Zhu et al., CVPR-W 2023; `tfimage.diffusion_restoration.diffpir`), its
  class found by the best data fit among the 10 classes.

Scores: mean PSNR against the clean digits, and FID/KID (shipped MNIST
classifier features, `tfimage.fid.evaluate_samples`) of the restorations
against the reference half of the real split; the floor is the other half.
The digits come from the 10k test split, the only MNIST split here, on which
the diffusion model was trained: the FID shows how digit-like the
restorations are, the PSNR is optimistic for the diffusion prior.

Writes benchmarks/results/diffusion_restoration.json and prints a table.

Usage:
    TFIMAGE_DATA_DIR=/work/shared/data python benchmarks/diffusion_restoration.py [--images 200]
"""

import argparse
import json
import os
import time

import numpy as np

TASKS = ("inpaint-50", "inpaint-80", "sr-x4")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mnist-ddim", help="a diffusion model name or .keras file")
    parser.add_argument("--denoiser", default="tfimage-gray-blind", help="the plug-and-play denoiser")
    parser.add_argument("--images", type=int, default=200, help="test digits restored per task")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--steps", type=int, default=20, help="DiffPIR sampling steps")
    parser.add_argument("--zeta", type=float, default=None, help="DiffPIR fresh-noise fraction (default per task)")
    parser.add_argument("--weight", type=float, default=None, help="DiffPIR lambda (default per task)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "diffusion_restoration.json"))
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise SystemExit(f"--tasks must list {', '.join(TASKS)}. Received: --tasks={args.tasks}")

    from tfimage import baselines, diffusion_restoration, fid, generation, kernels, metrics, operators, pnp, zoo

    model = generation.load_generative_model(args.model, "diffusion")
    denoiser = pnp.denoiser_of(zoo.load(args.denoiser))
    real, _ = generation.load_generation_data("mnist", args.data_dir)
    rng = np.random.default_rng(args.seed)
    chosen = np.sort(rng.choice(len(real), args.images, replace=False))
    clean = real[chosen]
    extractor = fid.feature_extractor("mnist-classifier")
    subset = min(1000, args.images)

    def score(images):
        result = fid.evaluate_samples(images, real, extractor, kid_subset_size=subset, seed=args.seed)
        psnr = float(np.mean([metrics.psnr(c, np.clip(r, 0, 1)) for c, r in zip(clean, images)]))
        return {"psnr": round(psnr, 2), "fid": round(result["fid"], 3), "kid": round(result["kid"], 5),
                "fid_floor": round(result["fid_floor"], 3), "kid_floor": round(result["kid_floor"], 5)}

    report = {"model": args.model, "denoiser": args.denoiser, "images": int(args.images), "steps": args.steps,
              "seed": args.seed, "tasks": {}}
    for task in tasks:
        if task.startswith("inpaint"):
            missing = int(task.split("-")[1]) / 100.0
            masks = [diffusion_restoration.inpainting_mask((28, 28), missing, seed=args.seed + i)
                     for i in range(len(clean))]
            observations = np.stack([c * m for c, m in zip(clean, masks)])
            inputs = observations
            start = time.time()
            pnp_out = np.stack([
                np.asarray(m * o + (1 - m) * pnp.solve(
                    operators.Mask(m), o, denoiser, 0.0, 40, sigma_end=1.0 / 255.0,
                    initial=baselines.Telea().predict_image(o, mask=1.0 - m), clip=True))
                for o, m in zip(observations, masks)])
            pnp_seconds = time.time() - start
            zeta = 1.0 if args.zeta is None else args.zeta
            weight = 7.0 if args.weight is None else args.weight
            start = time.time()
            diff_out = diffusion_restoration.diffpir(
                model, diffusion_restoration.PixelMasks(np.stack(masks)), observations, steps=args.steps,
                weight=weight, zeta=zeta, seed=args.seed)["images"]
            diff_seconds = time.time() - start
        else:
            operator = operators.BlurDownsample(kernels.bicubic(4), 4, 28, 28)
            observations = np.stack([operator.forward(c).numpy() for c in clean])
            inputs = np.stack([np.clip(operator.initial(o).numpy(), 0, 1) for o in observations])
            start = time.time()
            pnp_out = np.stack([pnp.solve(operator, o, denoiser, 0.0, 24, sigma_end=4.0 / 255.0)
                                for o in observations])
            pnp_seconds = time.time() - start
            zeta = 0.3 if args.zeta is None else args.zeta
            weight = 7.0 if args.weight is None else args.weight
            start = time.time()
            diff_out = diffusion_restoration.diffpir(model, operator, observations, steps=args.steps,
                                                     weight=weight, zeta=zeta, seed=args.seed)["images"]
            diff_seconds = time.time() - start
        entry = {"input": score(inputs), "pnp": score(pnp_out), "diffpir": score(diff_out),
                 "diffpir_zeta": zeta, "diffpir_weight": weight,
                 "seconds_per_image": {"pnp": round(pnp_seconds / len(clean), 3),
                                       "diffpir": round(diff_seconds / len(clean), 3)}}
        report["tasks"][task] = entry
        print(f"{task}: " + "  ".join(f"{k} PSNR {entry[k]['psnr']:.2f} FID {entry[k]['fid']:.2f} "
                                      f"KID {entry[k]['kid']:.4f}" for k in ("input", "pnp", "diffpir")),
              flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as stream:
        json.dump(report, stream, indent=2)
    print()
    print("| task | method | PSNR (dB) | FID | KID |")
    print("|---|---|---|---|---|")
    for task, entry in report["tasks"].items():
        for method in ("input", "pnp", "diffpir"):
            row = entry[method]
            print(f"| {task} | {method} | {row['psnr']:.2f} | {row['fid']:.2f} | {row['kid']:.4f} |")
    floor = next(iter(report["tasks"].values()))["input"]
    print(f"\nFID floor (real vs real, 5000 images) {floor['fid_floor']:.2f}; {args.images} restored digits per row.")
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
