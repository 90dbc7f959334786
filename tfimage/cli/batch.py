"""`tfimage batch TASK --input GLOB --output DIR`: restore a whole archive of files on Apache Beam.

One subcommand per task of `tfimage.tasks.TASKS`, with the task's restore
options (`--sigma`, `--scale`, `--mask`, ...). The pipeline is
`tfimage.batch.restore_files`; docs/batch.md shows the same command on
Dataflow, Flink and Spark.
"""

import argparse
import sys

from tfimage.cli import common
from tfimage.tasks import TASKS

RUNNER_CHOICES = ("direct", "dataflow", "flink", "spark")


def register(groups):
    help_text = "Restore a whole archive of image files on Apache Beam (DirectRunner, Dataflow, Flink, Spark)."
    batch = groups["root"].add_parser(
        "batch",
        help=help_text,
        description=(
            f"{help_text} Outputs are PNG files OUTPUT/<input stem>.png, written atomically, with "
            "OUTPUT/manifest.jsonl (one line per input) and OUTPUT/dead_letters.jsonl (files that could "
            "not be read, restored or written; they never stop the job). Needs `pip install tfimage[beam]`."
        ),
    )
    tasks = batch.add_subparsers(dest="task", metavar="TASK")
    batch.set_defaults(func=_missing_task(batch))
    for task in TASKS.values():
        parser = tasks.add_parser(
            task.name,
            help=f"{task.description[0].upper()}{task.description[1:]}.",
            description=(
                f"{task.description[0].upper()}{task.description[1:]}, on Apache Beam. Pipeline options "
                "for the runner follow `--`, e.g. `-- --project=P --region=R --temp_location=gs://B/tmp`."
            ),
        )
        parser.add_argument("--input", "-i", required=True, nargs="+", metavar="GLOB",
                            help="input files, local folders or glob patterns (local, gs://, s3://); quote "
                                 "patterns for remote file systems")
        parser.add_argument("--output", "-o", required=True, metavar="DIR", help="output folder (local, gs://, s3://)")
        parser.add_argument("--model", default=task.default_model,
                            help=f"model name (see `tfimage models`), baseline or .keras path, loadable on every "
                                 f"worker (default {task.default_model})")
        task.add_options(parser, "restore")
        common.add_model_options(parser, task, "tile size in pixels for large images (bounded memory)")
        parser.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (default 32)")
        parser.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="PNG bits per channel")
        parser.add_argument("--skip-existing", action="store_true",
                            help="leave inputs whose output exists alone (resume a killed job)")
        parser.add_argument("--runner", default="direct", choices=RUNNER_CHOICES,
                            help="Beam runner (default direct: this machine)")
        parser.add_argument("--direct-num-workers", type=int, default=1, metavar="N",
                            help="DirectRunner: worker processes (default 1)")
        parser.add_argument("--direct-running-mode", default=None,
                            choices=("in_memory", "multi_threading", "multi_processing"),
                            help="DirectRunner: how workers run (default: in_memory for one worker, "
                                 "multi_processing for more)")
        parser.add_argument("--threads-per-worker", type=int, metavar="N",
                            help="TensorFlow threads per worker process (default: multi-processing "
                                 "DirectRunner: CPU count / workers; other runners: TensorFlow's default)")
        parser.add_argument("--batch-size", type=int, default=8, metavar="N",
                            help="at most N images per model call; same-size images run as one network batch "
                                 "where the task can (denoising, whole images; default 8)")
        parser.add_argument("beam_args", nargs=argparse.REMAINDER,
                            help="after `--`: Beam pipeline options passed to the runner")
        parser.set_defaults(func=run, task_name=task.name)


def _missing_task(parser):
    def run(args):
        parser.print_help(sys.stderr)
        return 2

    return run


def run(args):
    from tfimage import batch

    task = TASKS[args.task_name]
    options = task.options_from_args(args, "restore")
    beam_args = list(args.beam_args or [])
    if beam_args and beam_args[0] == "--":
        beam_args = beam_args[1:]
    if args.direct_num_workers < 1:
        raise ValueError(f"--direct-num-workers must be at least 1. Received: direct_num_workers={args.direct_num_workers}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1. Received: batch_size={args.batch_size}")
    result = batch.restore_files(
        task.name, args.model, args.input, args.output, options=options, tile=args.tile, overlap=args.overlap,
        self_ensemble=args.self_ensemble, color_symmetries=getattr(args, "color_symmetries", False),
        bit_depth=args.bit_depth, data_dir=args.data_dir, skip_existing=args.skip_existing, runner=args.runner,
        direct_num_workers=args.direct_num_workers, direct_running_mode=args.direct_running_mode,
        threads_per_worker=args.threads_per_worker, pipeline_args=beam_args, progress=True,
        batch_size=args.batch_size,
    )
    summary = batch.summarize_metrics(result)
    timing = summary["milliseconds_per_image"]
    line = (
        f"{summary['images_done']} images done, {summary['images_failed']} failed, "
        f"{summary['images_skipped']} skipped, {summary['pixels']} pixels"
    )
    if timing:
        line += (
            f"; seconds per image: mean {timing['mean'] / 1000:.3f}, min {timing['min'] / 1000:.3f}, "
            f"max {timing['max'] / 1000:.3f}"
        )
    print(line)
    print(f"manifest: {batch.manifest_path(args.output)}")
    failed = batch.failed_inputs(args.output)
    if failed:
        print(
            f"tfimage batch: warning: {len(failed)} file(s) failed and were written to "
            f"{batch.dead_letters_path(args.output)}: {', '.join(failed)}",
            file=sys.stderr,
        )
    return 0
