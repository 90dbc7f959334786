"""`tfimage upscale IN --scale S -o OUT` and `tfimage evaluate sr`: super-resolution and its scores."""

from tfimage.cli import common


def register(groups):
    parser = groups["root"].add_parser(
        "upscale",
        help="Super-resolve an image by 2, 3 or 4 with a model or bicubic.",
        description="Upscale one image by --scale (2, 3 or 4); the model must be trained for that scale.",
    )
    parser.add_argument("input", metavar="IN", help="image file")
    parser.add_argument("--scale", type=int, required=True, help="2, 3 or 4")
    parser.add_argument("-o", "--out", required=True, metavar="OUT", help="output .png file, or a folder (OUT/<input name>.png)")
    parser.add_argument("--model", default="bicubic", help="bicubic, a model name or a .keras path")
    parser.add_argument("--self-ensemble", action="store_true",
                        help="average the 8 flips and quarter turns (models only; 8x the time)")
    parser.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="PNG bits per channel")
    parser.add_argument("--data-dir", help="where weights are looked for first")
    parser.set_defaults(func=run)

    evaluate = groups["evaluate"].add_parser(
        "sr",
        help="Score a super-resolution model or bicubic on a set (Y channel, border crop).",
        description=(
            "HR images cropped to a multiple of the scale, bicubic-downsampled (TensorFlow, "
            "antialiased), super-resolved; PSNR/SSIM on the BT.601 Y channel with SCALE border "
            "pixels cropped (the SRCNN/VDSR convention)."
        ),
    )
    evaluate.add_argument("--model", required=True, help="bicubic, a model name or a .keras path")
    evaluate.add_argument("--dataset", required=True, help="catalogue set (set5, set14, ...) or folder")
    evaluate.add_argument("--scale", type=int, required=True, help="2, 3 or 4")
    evaluate.add_argument("--limit", type=int, help="only the first N images")
    evaluate.add_argument("--self-ensemble", action="store_true",
                          help="average the 8 flips and quarter turns (models only; 8x the time)")
    evaluate.add_argument("--data-dir", help="where sets and weights are looked for first")
    evaluate.add_argument("--json", action="store_true", help="end with one JSON line")
    evaluate.set_defaults(func=run_evaluate)


def run(args):
    from tfimage import io, restoration_tasks

    scale = restoration_tasks.check_sr_scale(args.scale)
    target = common.output_path(args.input, args.out, protected=())
    image = io.read_image(args.input)
    if image.shape[2] == 4:
        image = io.convert_channels(image, 3, name=args.input)
    model = restoration_tasks.load_model(args.model, data_dir=args.data_dir)
    upscaled = restoration_tasks.upscale_image(model, image, scale, self_ensemble=args.self_ensemble)
    io.write_image(target, upscaled, bit_depth=args.bit_depth)
    print(
        f"{args.input} ({image.shape[1]}x{image.shape[0]}) -> {target} "
        f"({upscaled.shape[1]}x{upscaled.shape[0]})"
    )


def run_evaluate(args):
    from tfimage import restoration_tasks

    scale = restoration_tasks.check_sr_scale(args.scale)
    progress = common.EvaluationProgress()
    result = restoration_tasks.evaluate_sr(
        args.model, args.dataset, scale, limit=args.limit, data_dir=args.data_dir, progress=progress,
        self_ensemble=args.self_ensemble,
    )
    progress.close()
    label = common.result_label(result)
    print(
        f"{label} on {result['dataset']} x{scale}: {result['images']} images, "
        f"PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.4f} (Y channel, {scale}-pixel border cropped), "
        f"{result['seconds_per_image']:.3f} s/image"
    )
    if args.json:
        result.pop("per_image")
        common.print_json(result)
