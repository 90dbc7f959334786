"""`tfimage denoise IN [IN ...] -o OUT_DIR --model NAME|PATH`: denoise files and folders."""

from tfimage.cli import common


def register(groups):
    parser = groups["root"].add_parser(
        "denoise",
        help="Denoise image files or folders with a pretrained model or a baseline.",
        description=(
            "Denoise images. Outputs are written as PNG into OUT_DIR under the input's name; "
            "an input is never overwritten."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    parser.add_argument("-o", "--out", required=True, metavar="OUT_DIR", help="output folder")
    parser.add_argument("--model", default="ffdnet-gray", help="model name (see `tfimage models`) or .keras path")
    common.add_sigma_argument(parser)
    parser.add_argument("--tile", type=int, help="tile size for large images (bounded memory)")
    parser.add_argument("--self-ensemble", action="store_true",
                        help="average the 8 flips and quarter turns (Keras models; 8x the time, about +0.1 dB)")
    parser.add_argument("--color-symmetries", action="store_true",
                        help="with --self-ensemble, color denoisers: the 8 views also reorder R, G, B "
                             "and invert every other view (same time; for tfimage-color-blind +0.008 / +0.041 dB "
                             "on CBSD68 / Kodak24)")
    parser.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="PNG bits per channel")
    parser.add_argument("--data-dir", help="where weights are looked for first")
    parser.set_defaults(func=run)


def run(args):
    from tfimage import baselines, degradations, inference, io, pretrained

    paths = common.expand_inputs(args.inputs)
    targets = [common.output_path(path, args.out) for path in paths]
    if len(set(targets)) != len(targets):
        raise ValueError("Two inputs share a file name; denoise them into different folders.")
    noise_level = None if args.sigma is None else degradations.sigma_to_stddev(args.sigma)
    model = pretrained.load(args.model, data_dir=args.data_dir)
    _, takes_noise_level = inference.model_signature(model)
    bar = common.progress_bar(len(paths), "denoise")
    for path, target in zip(paths, targets):
        image = io.read_image(path)
        if image.shape[2] == 4:
            image = io.convert_channels(image, 3, name=path)
        level = noise_level
        if level is None and takes_noise_level:
            level = baselines.estimate_noise_stddev(image)
        restored = inference.restore(
            model, image, noise_level=level, tile=args.tile, self_ensemble=args.self_ensemble,
            color_symmetries=args.color_symmetries,
        )
        io.write_image(target, restored, bit_depth=args.bit_depth)
        note = f" (estimated sigma {level * 255:.1f})" if args.sigma is None and level is not None else ""
        bar.write(f"{path} -> {target}{note}") if len(paths) > 1 else print(f"{path} -> {target}{note}")
        bar.update(1)
    bar.close()
