"""The `tfimage` command line: argparse wiring only.

Each command group lives in its own module under `tfimage/cli/` and exposes
`register(groups)`, where `groups` maps a group name to an argparse
subparsers object:

- "root": top-level commands (`tfimage datasets`, `tfimage denoise`, ...),
- "train", "evaluate", "benchmark": the task subcommands of
  `tfimage train TASK`, `tfimage evaluate TASK`, ...

A module adds its parsers with `set_defaults(func=...)`; `func(args)` runs the
command and returns an exit status (or None for 0). Modules import TensorFlow
inside their functions, never at the top, so `tfimage --help` and
`tfimage datasets` stay fast.
"""

import argparse
import importlib
import sys

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "tfimage.cli.datasets",
    "tfimage.cli.models",
    "tfimage.cli.degrade",
    "tfimage.cli.restore",
    "tfimage.cli.batch",
    "tfimage.cli.evaluate",
    "tfimage.cli.benchmark",
    "tfimage.cli.train",
    "tfimage.cli.generate",
    "tfimage.cli.demo",
    "tfimage.cli.export",
)

TASK_GROUPS = {
    "train": "Train or fine-tune a model.",
    "evaluate": "Score a model or baseline on a benchmark set.",
    "benchmark": "Measure a benchmark table (benchmarks/results/ and docs/results.md).",
}


def build_parser():
    """Builds the argparse parser with every available command."""
    parser = argparse.ArgumentParser(
        prog="tfimage",
        description="Image restoration and generation with transfer learning.",
    )
    from tfimage import __version__

    parser.add_argument("--version", action="version", version=f"tfimage {__version__}")
    root = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = {"root": root}
    for group, help_text in TASK_GROUPS.items():
        group_parser = root.add_parser(group, help=help_text, description=help_text)
        groups[group] = group_parser.add_subparsers(dest="task", metavar="TASK")
        group_parser.set_defaults(func=_missing_task(group_parser))
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue  # a command group that is not built yet
            raise
        module.register(groups)
    return parser


def _missing_task(group_parser):
    def run(args):
        group_parser.print_help(sys.stderr)
        return 2

    return run


def main(argv=None):
    """Entry point of the `tfimage` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        status = args.func(args)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"tfimage {args.command}: error: {error}", file=sys.stderr)
        return 1
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
