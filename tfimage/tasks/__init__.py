"""The restoration tasks: one module each, listed in `TASKS` (a plain dict).

Each module holds a `Task` (`tfimage.tasks.base`) that owns its
degradation, model inputs, baselines, metric convention and CLI options.
`tfimage.inference.restore`, `tfimage.evaluation.evaluate`, the training loop
and the command line look tasks up here. Adding a task is one new module
plus one line below (docs/architecture.md).
"""

from tfimage.tasks import deblur, demosaic, denoise, inpainting, jpeg, super_resolution

TASKS = {
    "denoise": denoise.TASK,
    "sr": super_resolution.TASK,
    "inpaint": inpainting.TASK,
    "jpeg": jpeg.TASK,
    "deblur": deblur.TASK,
    "demosaic": demosaic.TASK,
}


def get_task(task):
    """The `Task` registered under `task` (a task object passes through).

    Raises:
        ValueError: an unknown task name.
    """
    if not isinstance(task, str):
        return task
    if task not in TASKS:
        raise ValueError(f"Unknown task. Expected one of {', '.join(TASKS)}. Received: task={task!r}")
    return TASKS[task]
