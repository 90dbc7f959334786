"""`tfimage datasets`: what each catalogue set holds and where it is."""

import collections
import gzip
import os
import struct

from PIL import Image

from tfimage.datasets import catalogue


def register(groups):
    parser = groups["root"].add_parser(
        "datasets",
        help="List the benchmark sets, how many images each has and where they are.",
        description="List the catalogue sets found locally; never downloads.",
    )
    parser.add_argument("--data-dir", help="folder holding the sets (default: $TFIMAGE_DATA_DIR)")
    parser.set_defaults(func=run)


def _idx_count(path):
    with gzip.open(path, "rb") as stream:
        magic, count = struct.unpack(">II", stream.read(8))
    return count


def describe(name, data_dir=None):
    """(count, sizes, folder, note) for a catalogue set, reading headers only."""
    spec = catalogue.get_spec(name)
    folder = catalogue.find_local(name, data_dir)
    if folder is None:
        return None
    if spec["kind"] == "mnist":
        splits = []
        count = 0
        for split, file_name in (("test", "t10k-images-idx3-ubyte.gz"), ("train", "train-images-idx3-ubyte.gz")):
            path = os.path.join(folder, file_name)
            if os.path.isfile(path):
                split_count = _idx_count(path)
                count += split_count
                splits.append(f"{split} {split_count}")
        note = ", ".join(splits)
        if not os.path.isfile(os.path.join(folder, "train-images-idx3-ubyte.gz")):
            note += "; the training images are not available here"
        return count, "28x28", folder, note
    from tfimage.io import list_images

    sizes = collections.Counter()
    for path in list_images(folder):
        with Image.open(path) as image:
            sizes[f"{image.size[0]}x{image.size[1]}"] += 1
    count = sum(sizes.values())
    summary = ", ".join(f"{n} x {size}" for size, n in sizes.most_common(3))
    if len(sizes) > 3:
        summary += f", ... ({len(sizes)} sizes)"
    return count, summary, folder, ""


def run(args):
    for name in catalogue.BENCHMARK_SETS:
        found = describe(name, args.data_dir)
        if found is None:
            print(f"{name:<9} not available: {catalogue.how_to_get(name)}")
            continue
        count, sizes, folder, note = found
        note = f" ({note})" if note else ""
        print(f"{name:<9} {count:>6} images  {sizes}  in {folder}{note}")
