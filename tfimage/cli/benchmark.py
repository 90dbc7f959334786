"""`tfimage benchmark denoise`: the denoising table in benchmarks/results/denoise.md.

Every (model, set, sigma) cell runs through `tfimage.evaluation`, with bm3d
measured in the same run so the speed ratio compares like with like. Results
are kept in benchmarks/results/denoise.json as they come in, so a stopped run
resumes where it was (pass --force to measure again), and two runs can share
the work (e.g. `--only bm3d`, which is single-threaded, beside the rest).
"""

import json
import os

from tfimage.cli import common

# Plain dict preset: which models run on which sets at which noise levels.
DENOISE_BENCHMARK = {
    "gray": {
        "channels": 1,
        "datasets": ["set12", "bsd68"],
        "sigmas": [15, 25, 50],
        "models": [
            "dncnn-s15", "dncnn-s25", "dncnn-s50", "dncnn-b", "ffdnet-gray", "tfimage-gray-blind",
            "bm3d", "nlm", "noisy",
        ],
    },
    "color": {
        "channels": 3,
        "datasets": ["cbsd68", "kodak24"],
        "sigmas": [25],
        "models": ["cdncnn-b", "ffdnet-color", "tfimage-color-blind", "bm3d", "nlm", "noisy"],
    },
}

RESULTS_DIR = os.path.join("benchmarks", "results")


def register(groups):
    parser = groups["benchmark"].add_parser(
        "denoise",
        help="Set12/BSD68 at sigma 15/25/50, CBSD68/Kodak24 at 25: models, bm3d, nlm, noisy.",
    )
    parser.add_argument("--out", default=os.path.join(RESULTS_DIR, "denoise.md"), help="Markdown table")
    parser.add_argument("--limit", type=int, help="only the first N images of each set (quick look)")
    parser.add_argument("--models", nargs="+", help="extra model names or .keras paths to add")
    parser.add_argument("--only", nargs="+", help="run only these model names")
    parser.add_argument("--datasets", nargs="+", help="run only on these sets")
    parser.add_argument("--force", action="store_true", help="measure cells already in the JSON again")
    parser.add_argument("--render-only", action="store_true", help="only rewrite the tables from the JSON")
    parser.add_argument("--data-dir", help="where sets and weights are looked for first")
    parser.add_argument(
        "--readme", default="README.md",
        help="also copy the tables into this file between its denoise-table markers ('' to skip)",
    )
    parser.set_defaults(func=run)


README_BEGIN = "<!-- denoise-table:begin (written by tfimage benchmark denoise) -->"
README_END = "<!-- denoise-table:end -->"


def update_readme(path, tables):
    """Replaces the text between the denoise-table markers of `path`; False when it has none."""
    if not path or not os.path.isfile(path):
        return False
    with open(path) as stream:
        text = stream.read()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    body = "\n".join(line for line in tables.splitlines() if not line.startswith("# "))
    temp = path + ".tmp"
    with open(temp, "w") as stream:
        stream.write(head + README_BEGIN + "\n" + body.strip() + "\n" + README_END + tail)
    os.replace(temp, path)
    return True


def model_runs_at(name, sigma, channels):
    """Whether a model belongs in a table: DnCNN-S models only at their sigma, no gray model on color."""
    from tfimage import pretrained

    spec = pretrained.list_models().get(name, {})
    return spec.get("sigma") in (None, sigma) and spec.get("channels") in (None, channels)


def published(name, dataset, sigma):
    from tfimage import pretrained

    spec = pretrained.list_models().get(name, {})
    return spec.get("published", {}).get(dataset, {}).get(sigma)


def cells(extra_models=(), only=None, datasets=None):
    """(model, dataset, sigma) triples in run order: the fast methods everywhere first, bm3d last."""
    found = []
    for group in DENOISE_BENCHMARK.values():
        models = list(group["models"]) + list(extra_models)
        for dataset in group["datasets"]:
            for sigma in group["sigmas"]:
                for name in models:
                    if (only and name not in only) or (datasets and dataset not in datasets):
                        continue
                    if model_runs_at(name, sigma, group["channels"]):
                        found.append((name, dataset, sigma))
    return sorted(found, key=lambda cell: cell[0] == "bm3d")  # stable: keeps the table order


def load_results(path):
    if os.path.isfile(path):
        with open(path) as stream:
            return json.load(stream)
    return {}


def save_result(path, cell_key, result):
    """Adds one cell to the JSON file, keeping what other runs wrote meanwhile (atomic write)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    results = load_results(path)
    results[cell_key] = result
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w") as stream:
        json.dump(results, stream, indent=1, sort_keys=True)
    os.replace(temp, path)
    return results


def key(name, dataset, sigma, limit):
    return f"{name}|{dataset}|{sigma:g}|{limit or 'all'}"


def render(results, limit, extra_models=()):
    """The Markdown tables, one per set and sigma, from the stored results."""
    lines = [
        "# Denoising benchmark",
        "",
        "Written by `tfimage benchmark denoise` (do not edit by hand). Gaussian noise added to the",
        "[0, 1] image without clipping, seeded per image (seed (0, i)), the same for every model;",
        "PSNR (dB) and SSIM on the whole image, data range 1, restored images clipped to [0, 1].",
        "Non-blind: models that take a noise level (FFDNet, bm3d, nlm) are given the true sigma.",
        "Seconds per image are wall time on this machine (2 CPU cores, shared); \"x bm3d\" is bm3d's",
        "time divided by the model's; cells are cached, so a row re-measured later (--force) is timed",
        "under other load than bm3d's: `benchmarks/speed_512.py` times models against bm3d in one process.",
        "Published: the paper's number on the same set (DnCNN, FFDNet and BM3D papers); Kodak24",
        "here is full size, the FFDNet paper used 500x500 crops, so no number is given there.",
        "",
    ]
    for group in DENOISE_BENCHMARK.values():
        for dataset in group["datasets"]:
            for sigma in group["sigmas"]:
                rows = []
                bm3d = results.get(key("bm3d", dataset, sigma, limit))
                for name in list(group["models"]) + list(extra_models):
                    result = results.get(key(name, dataset, sigma, limit))
                    if not result:
                        continue
                    paper = published(name, dataset, sigma)
                    ratio = ""
                    if bm3d and name != "noisy" and result["seconds_per_image"] > 0:  # noisy does no work
                        ratio = f"{bm3d['seconds_per_image'] / result['seconds_per_image']:.1f}x"
                    rows.append(
                        f"| {name} | {result['psnr']:.2f} | {paper if paper else '-'} | "
                        f"{result['ssim']:.4f} | {result['seconds_per_image']:.2f} | {ratio} |"
                    )
                if not rows:
                    continue
                count = next(
                    results[k]["images"] for k in results if k.split("|")[1:3] == [dataset, f"{sigma:g}"]
                )
                lines += [
                    f"## {dataset}, sigma {sigma} ({count} images)",
                    "",
                    "| model | PSNR | published | SSIM | s/image | x bm3d |",
                    "|---|---|---|---|---|---|",
                    *rows,
                    "",
                ]
    return "\n".join(lines)


def run(args):
    from tfimage import evaluation

    json_path = os.path.splitext(args.out)[0] + ".json"
    done_here = set()
    for name, dataset, sigma in [] if args.render_only else cells(args.models or (), args.only, args.datasets):
        cell_key = key(name, dataset, sigma, args.limit)
        # Reread the file each time: another run (e.g. `--only bm3d` on the other core) may have done it.
        if cell_key in load_results(json_path) and not (args.force and cell_key not in done_here):
            continue
        try:
            result = evaluation.evaluate_denoiser(name, dataset, sigma, limit=args.limit, data_dir=args.data_dir)
        except FileNotFoundError as error:  # e.g. one of our models not trained yet
            print(f"skipping {name} on {dataset} sigma {sigma}: {error}", flush=True)
            continue
        result.pop("per_image")
        save_result(json_path, cell_key, result)
        done_here.add(cell_key)
        print(
            f"{name:<14} {dataset:<8} sigma {sigma:>2}: PSNR {result['psnr']:.2f}  SSIM {result['ssim']:.4f}  "
            f"{result['seconds_per_image']:.2f} s/image",
            flush=True,
        )
    text = render(load_results(json_path), args.limit, args.models or ())
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    temp = args.out + ".tmp"
    with open(temp, "w") as stream:
        stream.write(text)
    os.replace(temp, args.out)
    print(f"wrote {args.out}")
    if update_readme(args.readme, text.replace("## ", "#### ")):
        print(f"updated the table in {args.readme}")
