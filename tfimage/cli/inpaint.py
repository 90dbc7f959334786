"""`tfimage inpaint IN --mask MASK -o OUT` and `tfimage evaluate inpaint`: fill holes, score fills."""

from tfimage.cli import common


def register(groups):
    parser = groups["root"].add_parser(
        "inpaint",
        help="Fill the holes of an image (white pixels of a mask) with a model or a baseline.",
        description=(
            "Inpaint one image. The mask is a black-and-white image of the same size: white (1) marks "
            "a hole, black (0) a pixel to keep. Known pixels are kept as they are."
        ),
    )
    parser.add_argument("input", metavar="IN", help="image file")
    parser.add_argument("--mask", required=True, metavar="MASK", help="binary mask image, white = hole")
    parser.add_argument("-o", "--out", required=True, metavar="OUT", help="output .png file, or a folder (OUT/<input name>.png)")
    parser.add_argument("--model", default="telea", help="telea, ns, a model name or a .keras path")
    parser.add_argument("--self-ensemble", action="store_true",
                        help="Keras models: average the fill over 8 flips/rotations (8x slower, more accurate)")
    parser.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="PNG bits per channel")
    parser.add_argument("--data-dir", help="where weights are looked for first")
    parser.set_defaults(func=run)

    evaluate = groups["evaluate"].add_parser(
        "inpaint",
        help="Score an inpainting model or baseline (telea, ns) on a set with seeded masks.",
        description=(
            "Image i gets the free-form mask drawn from the seed (SEED, i), so every model fills the "
            "same holes. PSNR/SSIM over the whole image and PSNR inside the holes (psnr_hole)."
        ),
    )
    evaluate.add_argument("--model", required=True, help="telea, ns, a model name or a .keras path")
    evaluate.add_argument("--dataset", required=True, help="catalogue set (cbsd68, kodak24, ...) or folder")
    evaluate.add_argument("--hole-ratio", type=float, default=0.25, help="fraction of missing pixels (0.25)")
    evaluate.add_argument("--kind", default="strokes", choices=("strokes", "boxes"), help="mask shapes")
    evaluate.add_argument("--limit", type=int, help="only the first N images")
    evaluate.add_argument("--seed", type=int, default=0, help="mask seed (default 0)")
    evaluate.add_argument("--self-ensemble", action="store_true",
                          help="Keras models: average the fill over 8 flips/rotations (x8 self-ensemble)")
    evaluate.add_argument("--data-dir", help="where sets and weights are looked for first")
    evaluate.add_argument("--json", action="store_true", help="end with one JSON line")
    evaluate.set_defaults(func=run_evaluate)


def run(args):
    from tfimage import io, restoration_tasks

    target = common.output_path(args.input, args.out, protected=(args.mask,))
    image = io.read_image(args.input)
    if image.shape[2] == 4:
        image = io.convert_channels(image, 3, name=args.input)
    mask = restoration_tasks.read_mask(args.mask, size=image.shape[:2])
    model = restoration_tasks.load_model(args.model, data_dir=args.data_dir)
    restored = restoration_tasks.inpaint_image(model, image, mask, self_ensemble=args.self_ensemble)
    io.write_image(target, restored, bit_depth=args.bit_depth)
    print(f"{args.input} -> {target} ({int(mask.sum())} hole pixels, {100 * mask.mean():.1f}%)")


def run_evaluate(args):
    from tfimage import restoration_tasks

    progress = common.EvaluationProgress()
    result = restoration_tasks.evaluate_inpainting(
        args.model, args.dataset, args.hole_ratio, limit=args.limit, seed=args.seed, kind=args.kind,
        data_dir=args.data_dir, progress=progress, self_ensemble=args.self_ensemble,
    )
    progress.close()
    label = common.result_label(result)
    print(
        f"{label} on {result['dataset']}, holes {100 * args.hole_ratio:g}% ({args.kind}): "
        f"{result['images']} images, PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.4f}, "
        f"PSNR in holes {result['psnr_hole']:.2f} dB (masked input {result['psnr_input']:.2f} dB), "
        f"{result['seconds_per_image']:.3f} s/image"
    )
    if args.json:
        result.pop("per_image")
        common.print_json(result)
