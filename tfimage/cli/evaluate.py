"""`tfimage evaluate TASK`: mean PSNR/SSIM and seconds per image on a benchmark set, for every task."""

from tfimage.cli import common
from tfimage.tasks import TASKS


def register(groups):
    for task in TASKS.values():
        parser = groups["evaluate"].add_parser(
            task.name,
            help=f"Score a model or baseline on a set: {task.description}.",
            description=(
                "Image i of the set is degraded with the seed (SEED, i), so every model sees the same "
                "degraded images; then restored and scored by the task's convention."
            ),
        )
        parser.add_argument("--model", required=True, help="name (see `tfimage models`), baseline or .keras path")
        parser.add_argument("--dataset", required=True, help="catalogue set (see `tfimage datasets`) or folder")
        task.add_options(parser, "evaluate")
        parser.add_argument("--limit", type=int, help="only the first N images")
        parser.add_argument("--seed", type=int, default=0, help="degradation seed (default 0)")
        common.add_model_options(parser, task, "tile size in pixels (bounded memory)")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")
        parser.set_defaults(func=run, task_name=task.name)


def run(args):
    from tfimage import evaluation

    task = TASKS[args.task_name]
    progress = common.EvaluationProgress()
    result = evaluation.evaluate(
        args.model, args.dataset, task=task, limit=args.limit, seed=args.seed, tile=args.tile,
        self_ensemble=args.self_ensemble, color_symmetries=getattr(args, "color_symmetries", False),
        data_dir=args.data_dir, progress=progress, **task.options_from_args(args, "evaluate"),
    )
    progress.close()
    print(f"{common.result_label(result)} on {result['dataset']}, {task.describe_result(result)}")
    if args.json:
        result.pop("per_image")
        common.print_json(result)
