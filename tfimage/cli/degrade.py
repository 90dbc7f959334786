"""`tfimage degrade IN -o OUT`: make a test input (noise, low resolution or holes) from a clean image."""

from tfimage.cli import common


def register(groups):
    parser = groups["root"].add_parser(
        "degrade",
        help="Add seeded noise, downscale, or punch holes (with a mask file) into an image.",
        description=(
            "The degradations of tfimage.degradations applied to one clean image, so you can try "
            "denoise / upscale / inpaint on your own photos and score the result against the original. "
            "Give exactly one of --sigma, --downscale and --holes."
        ),
    )
    parser.add_argument("input", metavar="IN", help="clean image file")
    parser.add_argument("-o", "--out", required=True, metavar="OUT", help="output .png file, or a folder")
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--sigma", type=float, help="add Gaussian noise of this level (0-255 units)")
    kind.add_argument("--downscale", type=int, help="bicubic downscale by 2, 3 or 4 (the SR degradation)")
    kind.add_argument("--holes", type=float, metavar="RATIO", help="fraction of pixels to remove (0-0.9)")
    parser.add_argument("--mask-kind", choices=("strokes", "boxes"), default="strokes", help="with --holes")
    parser.add_argument("--mask-out", help="with --holes: where to write the mask (white = hole); required")
    parser.add_argument("--seed", type=int, default=0, help="seeds the noise or the mask")
    parser.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="PNG bits per channel")
    parser.set_defaults(func=run)


def run(args):
    import os

    import numpy as np

    from tfimage import degradations, io

    if args.downscale is not None and args.downscale not in (2, 3, 4):
        raise ValueError(f"--downscale must be 2, 3 or 4. Received: --downscale={args.downscale}")
    if args.holes is not None and not args.mask_out:
        raise ValueError("--holes writes a mask too: give --mask-out MASK.png. Received: --mask-out=None")
    target = common.output_path(args.input, args.out, protected=())
    if args.mask_out:
        if args.holes is None:
            raise ValueError(f"--mask-out goes with --holes. Received: --mask-out={args.mask_out}")
        if not args.mask_out.lower().endswith(".png"):
            raise ValueError(f"--mask-out must name a .png file. Received: --mask-out={args.mask_out}")
        if len({os.path.abspath(path) for path in (args.input, target, args.mask_out)}) < 3:
            raise ValueError(f"--mask-out must differ from IN and -o. Received: --mask-out={args.mask_out}")
    image = io.read_image(args.input)
    if image.shape[2] == 4:
        image = io.convert_channels(image, 3, name=args.input)
    if args.sigma is not None:
        result = degradations.gaussian_noise(image, degradations.sigma_to_stddev(args.sigma), (args.seed, 0), clip=True)
        what = f"Gaussian noise sigma {args.sigma:g} (seed {args.seed})"
    elif args.downscale is not None:
        result = degradations.bicubic_downsample(image, args.downscale)
        what = f"bicubic x1/{args.downscale}"
    else:
        mask = degradations.random_mask(image.shape[0], image.shape[1], args.holes, (args.seed, 0), kind=args.mask_kind)
        result = image * (1.0 - mask)
        io.write_image(args.mask_out, mask)
        what = f"{float(np.mean(mask)):.1%} of the pixels removed ({args.mask_kind}; mask {args.mask_out})"
    result = np.clip(np.asarray(result, np.float32), 0.0, 1.0)
    io.write_image(target, result, bit_depth=args.bit_depth)
    print(f"{args.input} -> {target} ({result.shape[1]}x{result.shape[0]}): {what}")
