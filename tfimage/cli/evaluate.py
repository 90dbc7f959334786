"""`tfimage evaluate denoise`: mean PSNR/SSIM and seconds per image on a benchmark set."""

from tfimage.cli import common


def register(groups):
    parser = groups["evaluate"].add_parser(
        "denoise",
        help="Score a denoiser (model name, .keras path, bm3d, nlm or noisy) on a set.",
        description=(
            "Seeded Gaussian noise (image i uses seed (SEED, i)), so every model sees the "
            "same noisy images. PSNR/SSIM on [0, 1] images, data range 1."
        ),
    )
    parser.add_argument("--model", required=True, help="name (see `tfimage models`) or .keras path")
    parser.add_argument("--dataset", required=True, help="catalogue set (set12, bsd68, ...) or folder")
    common.add_sigma_argument(parser, required=True, help_text="noise level in 0-255 units")
    parser.add_argument("--limit", type=int, help="only the first N images")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    parser.add_argument("--tile", type=int, help="tile size (bounded memory)")
    parser.add_argument("--blind", action="store_true", help="estimate sigma instead of giving it")
    parser.add_argument("--self-ensemble", action="store_true",
                        help="average the 8 flips and quarter turns (Keras models; 8x the time)")
    parser.add_argument("--color-symmetries", action="store_true",
                        help="with --self-ensemble, color denoisers: the 8 views also reorder R, G, B "
                             "and invert every other view (same time)")
    parser.add_argument("--data-dir", help="where sets and weights are looked for first")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.set_defaults(func=run)


def run(args):
    from tfimage import evaluation

    progress = common.EvaluationProgress()
    result = evaluation.evaluate_denoiser(
        args.model, args.dataset, args.sigma, limit=args.limit, seed=args.seed, tile=args.tile,
        blind=args.blind, data_dir=args.data_dir, progress=progress, self_ensemble=args.self_ensemble,
        color_symmetries=args.color_symmetries,
    )
    progress.close()
    label = common.result_label(result)
    print(
        f"{label} on {result['dataset']} sigma {args.sigma:g}: {result['images']} images, "
        f"PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.4f}, "
        f"{result['seconds_per_image']:.3f} s/image"
    )
    if args.json:
        result.pop("per_image")
        result["sigma"] = args.sigma
        common.print_json(result)
