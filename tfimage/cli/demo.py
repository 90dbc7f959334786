"""`tfimage demo`: the main job on an embedded default, with nothing to download.

The `camera` image that ships with scikit-image gets seeded sigma-25 Gaussian
noise; our own blind denoiser (saved_models/tfimage-gray-blind.keras), BM3D
and non-local means restore it with the noise level estimated from the noisy
image (blind use, as on a user's photo); a PSNR/SSIM/seconds table is printed
and a side-by-side PNG written.
"""

import time


def register(groups):
    parser = groups["root"].add_parser(
        "demo",
        help="Denoise scikit-image's camera photo with our model, BM3D and NLM (offline).",
    )
    parser.add_argument("-o", "--out", default="demo.png", help="side-by-side PNG (default demo.png)")
    parser.add_argument("--sigma", type=float, default=25.0, help="noise level in 0-255 units (default 25)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--models", nargs="+", default=["tfimage-gray-blind", "bm3d", "nlm"], help="models to compare"
    )
    parser.set_defaults(func=run)


def run(args):
    import numpy as np
    from skimage import data

    from tfimage import baselines, degradations, inference, metrics, plots, zoo

    clean = data.camera().astype(np.float32)[:, :, None] / 255.0
    noisy = degradations.gaussian_noise(clean, degradations.sigma_to_stddev(args.sigma), seed=args.seed).numpy()
    estimate = baselines.estimate_noise_stddev(noisy)
    print(
        f"camera (scikit-image, 512x512 gray) + Gaussian noise sigma {args.sigma:g} (seed {args.seed}); "
        f"estimated sigma {estimate * 255:.1f}"
    )
    rows = [("noisy", float(metrics.psnr(clean, noisy)), float(metrics.ssim(clean, np.clip(noisy, 0, 1))), 0.0)]
    pictures = [clean, np.clip(noisy, 0, 1)]
    titles = ["clean", f"noisy {rows[0][1]:.2f} dB"]
    for name in args.models:
        model = zoo.load(name)
        inference.restore(model, noisy[:64, :64], noise_level=estimate)  # warm-up, untimed
        start = time.perf_counter()
        restored = inference.restore(model, noisy, noise_level=estimate)
        seconds = time.perf_counter() - start
        rows.append((name, float(metrics.psnr(clean, restored)), float(metrics.ssim(clean, restored)), seconds))
        pictures.append(restored)
        titles.append(f"{name} {rows[-1][1]:.2f} dB")
    print(f"{'method':<20} {'PSNR (dB)':>9} {'SSIM':>7} {'seconds':>8}")
    for name, psnr, ssim, seconds in rows:
        print(f"{name:<20} {psnr:>9.2f} {ssim:>7.4f} {seconds:>8.2f}")
    plots.save_comparison(pictures, titles, args.out)
    print(f"wrote {args.out}")
