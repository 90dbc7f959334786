"""Small helpers shared by the command modules."""

import json
import os
import sys


def add_model_options(parser, task, tile_help):
    """The options every restore and evaluate command shares: --tile, --self-ensemble and its color views."""
    parser.add_argument("--tile", type=int, help=tile_help)
    parser.add_argument("--self-ensemble", action="store_true",
                        help="Keras models: average the 8 flips and quarter turns (8x the time)")
    if task.color_symmetries:
        parser.add_argument("--color-symmetries", action="store_true",
                            help="with --self-ensemble, color models: the 8 views also reorder R, G, B and "
                                 "invert every other view (same time)")
    parser.add_argument("--data-dir", help="where sets and weights are looked for first")


def result_label(result):
    """The model name of an `evaluate` result, marked when it used the x8 self-ensemble (and its color views)."""
    if not result.get("self_ensemble"):
        return result["model"]
    views = ", color symmetries" if result.get("color_symmetries") else ""
    return result["model"] + f" (x8 self-ensemble{views})"


def print_json(record):
    """Prints one JSON object on the last line (machine-readable output)."""
    print(json.dumps(record, sort_keys=False))


def progress_bar(total, description):
    """A tqdm progress bar on stderr, silent for a single item or a non-terminal."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, file=sys.stderr, disable=total < 2 or None, leave=False)


def expand_inputs(inputs):
    """Image files from a list of files and folders (folders: their images, sorted)."""
    from tfimage import io

    paths = []
    for item in inputs:
        if os.path.isdir(item):
            paths.extend(io.list_images(item))
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise FileNotFoundError(f"Input not found. Received: {item}")
    return paths


def output_path(input_path, out, protected=()):
    """Where the result for `input_path` goes: `out` itself if it is a .png file, else out/<stem>.png.

    Refuses a target that is the input (or any `protected` file): an input is never overwritten.
    """
    if out.lower().endswith(".png"):
        path = out
    else:
        stem = os.path.splitext(os.path.basename(input_path))[0]
        path = os.path.join(out, stem + ".png")
    if os.path.abspath(path) in {os.path.abspath(p) for p in (input_path, *protected)}:
        raise ValueError(f"The output would overwrite an input; choose another -o. Received: out={out}")
    return path


class EvaluationProgress:
    """The `progress` callback of the evaluation harnesses: a bar that opens once the total is known."""

    def __init__(self, description="evaluate"):
        self.description = description
        self.bar = None

    def __call__(self, index, total, record):
        if self.bar is None:
            self.bar = progress_bar(total, self.description)
        self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
