"""`tfimage denoise|upscale|inpaint IN [IN ...] -o OUT`: restore image files, one command per task.

Each task of `tfimage.tasks.TASKS` with a `command` gets one; its options
(`--sigma`, `--scale`, `--mask`) come from the task. Outputs are PNG files in
OUT (or OUT itself when it ends in .png and there is one input); an input is
never overwritten.
"""

from tfimage.cli import common
from tfimage.tasks import TASKS


def register(groups):
    for task in TASKS.values():
        if task.command is None:
            continue
        parser = groups["root"].add_parser(
            task.command,
            help=f"{task.description[0].upper()}{task.description[1:]}: image files with a model or a baseline.",
            description=(
                f"{task.description[0].upper()}{task.description[1:]}. Outputs are written as PNG into OUT "
                "under the input's name (or to OUT itself, a .png path, for one input); an input is never "
                "overwritten."
            ),
        )
        parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
        parser.add_argument("-o", "--out", required=True, metavar="OUT", help="output folder, or a .png file")
        parser.add_argument("--model", default=task.default_model,
                            help=f"model name (see `tfimage models`), baseline or .keras path (default {task.default_model})")
        task.add_options(parser, "restore")
        common.add_model_options(parser, task, "tile size in pixels for large images (bounded memory)")
        parser.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (default 32)")
        parser.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="PNG bits per channel")
        parser.set_defaults(func=run, task_name=task.name)


def run(args):
    from tfimage import inference, io, zoo

    task = TASKS[args.task_name]
    options = task.options_from_args(args, "restore")
    paths = common.expand_inputs(args.inputs)
    protected = task.protected_files(options)
    targets = [common.output_path(path, args.out, protected=protected) for path in paths]
    if len(set(targets)) != len(targets):
        raise ValueError(
            f"Two inputs would be written to the same file; restore them into different folders. Received: out={args.out}"
        )
    model = zoo.load(args.model, data_dir=args.data_dir)
    bar = common.progress_bar(len(paths), task.command)
    for path, target in zip(paths, targets):
        image = io.read_image(path)
        if image.shape[2] == 4:
            image = io.convert_channels(image, 3, name=path)
        inputs, note = task.restore_inputs(model, image, options, path)
        restored = inference.restore(
            model, image, task=task, tile=args.tile, overlap=args.overlap, self_ensemble=args.self_ensemble,
            color_symmetries=getattr(args, "color_symmetries", False), **inputs,
        )
        io.write_image(target, restored, bit_depth=args.bit_depth)
        line = f"{path} -> {target}{note}"
        bar.write(line) if len(paths) > 1 else print(line)
        bar.update(1)
    bar.close()
