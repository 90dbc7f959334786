"""Small helpers shared by the command modules."""

import json
import os
import sys


def add_sigma_argument(parser, required=False, help_text=None):
    parser.add_argument(
        "--sigma",
        type=float,
        required=required,
        help=help_text or "noise level in 0-255 units (e.g. 25); omitted: estimated from each image",
    )


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
