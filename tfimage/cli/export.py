"""`tfimage export --model NAME|PATH --out DIR [--version N]`: a SavedModel for TF Serving."""

from tfimage.cli import common


def register(groups):
    parser = groups["root"].add_parser(
        "export",
        help="Export a model as a SavedModel for TensorFlow Serving (DIR/VERSION/saved_model.pb).",
        description=(
            "Export a restoration model in TF Serving's versioned layout, DIR/VERSION/. "
            "Signatures: serving_default (uint8 images of any size in, uint8 out) and "
            "serving_float (float32 in [0, 1]); models with a noise-level input (FFDNet) "
            "also take sigma, one noise level per image in 0-255 units. An existing version "
            "is never overwritten without --overwrite. Generative models (mnist-gan, "
            "mnist-vae) export serving_default: latents float32 (N, latent_dim) and, when "
            "class-conditional, classes int32 (N,) in; images uint8 (N, H, W, C) out."
        ),
    )
    parser.add_argument("--model", required=True, help="model name (see `tfimage models`) or .keras path; restoration, GAN or VAE")
    parser.add_argument("--out", required=True, metavar="DIR", help="the model base folder TF Serving watches")
    parser.add_argument("--version", type=int, default=1, help="version folder number (default 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing version folder")
    parser.add_argument(
        "--max-size",
        type=int,
        default=1024,
        help="images with a side above this are tiled inside the model (default 1024)",
    )
    parser.add_argument("--overlap", type=int, default=64, help="tile overlap in pixels (default 64)")
    parser.add_argument("--name", default="denoiser", help="model name in the printed docker/curl commands")
    parser.add_argument("--data-dir", help="where weights are looked for first")
    parser.set_defaults(func=run)


def run(args):
    import os

    from tfimage import export

    path = export.export_model(
        args.model,
        args.out,
        version=args.version,
        overwrite=args.overwrite,
        max_size=args.max_size,
        overlap=args.overlap,
        data_dir=args.data_dir,
    )
    commands = export.serving_commands(args.out, model_name=args.name)
    print(f"Exported {args.model} to {path}")
    print(f"Serve it:  {commands['docker']}")
    print(f"Query it:  {commands['curl']}")
    print("           (request.json from tfimage.export.rest_request)")
    common.print_json(
        {
            "model": os.fspath(args.model),
            "export_dir": path,
            "version": args.version,
            "signatures": export.exported_signatures(path),
        }
    )
