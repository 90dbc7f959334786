"""`tfimage benchmark denoise`: the denoising tables.

Every (model, set, sigma) cell runs through `tfimage.evaluation.evaluate`.
Results are kept in benchmarks/results/denoise.json as they come in, so a
stopped run resumes where it was (pass --force to measure again), and two
runs can share the work (e.g. `--only bm3d`, which is single-threaded, beside
the rest). The tables go to benchmarks/results/denoise.md and to the denoise
section of docs/results.md; README.md's compact table is rewritten only when
asked (`--readme README.md`).

Documents hold generated sections between two markers
(`<!-- begin results:NAME -->` ... `<!-- end results:NAME -->`);
`write_section` replaces one of them and leaves the rest of the file as it is.
`benchmarks/write_results.py` writes the other sections of docs/results.md
the same way.
"""

import json
import os

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

BASELINE_ROWS = ("bm3d", "nlm", "noisy")  # listed after the networks in the compact table
DATASET_TITLES = {"set12": "Set12", "bsd68": "BSD68", "cbsd68": "CBSD68", "kodak24": "Kodak24"}
RESULTS_DIR = os.path.join("benchmarks", "results")
RESULTS_DOC = os.path.join("docs", "results.md")
COMMAND = "tfimage benchmark denoise"


def register(groups):
    parser = groups["benchmark"].add_parser(
        "denoise",
        help="Set12/BSD68 at sigma 15/25/50, CBSD68/Kodak24 at 25: models, bm3d, nlm, noisy.",
        description=(
            "Measures the missing cells into benchmarks/results/denoise.json, then writes "
            "benchmarks/results/denoise.md and the denoise section of docs/results.md. "
            "README.md is rewritten only with --readme."
        ),
    )
    parser.add_argument("--out", default=os.path.join(RESULTS_DIR, "denoise.md"),
                        help="Markdown tables (the JSON goes beside it)")
    parser.add_argument("--results-doc", default=RESULTS_DOC,
                        help="document whose denoise section is rewritten ('' to skip)")
    parser.add_argument("--readme", default=None,
                        help="also rewrite the compact table between this file's results:denoise markers")
    parser.add_argument("--limit", type=int, help="only the first N images of each set (quick look; "
                                                   "then no document is rewritten)")
    parser.add_argument("--models", nargs="+", help="extra model names or .keras paths to add")
    parser.add_argument("--only", nargs="+", help="run only these model names")
    parser.add_argument("--datasets", nargs="+", help="run only on these sets")
    parser.add_argument("--force", action="store_true", help="measure cells already in the JSON again")
    parser.add_argument("--render-only", action="store_true", help="only rewrite the tables from the JSON")
    parser.add_argument("--data-dir", help="where sets and weights are looked for first")
    parser.set_defaults(func=run)


# --- generated sections of Markdown documents -------------------------------------------------


def begin_marker(name):
    return f"<!-- begin results:{name} -->"


def end_marker(name):
    return f"<!-- end results:{name} -->"


def _write_atomic(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w") as stream:
        stream.write(text)
    os.replace(temp, path)


def write_section(path, name, body, create=True, title="# Results"):
    """Replaces the text between `path`'s results:`name` markers with `body`.

    With `create`, a missing file is started with `title`, and a missing
    section is appended at the end; without it, a file or section that is
    not there is an error (README.md must carry its markers).
    """
    begin, end = begin_marker(name), end_marker(name)
    block = f"{begin}\n{body.strip()}\n{end}"
    if os.path.isfile(path):
        with open(path) as stream:
            text = stream.read()
    elif create:
        text = f"{title}\n"
    else:
        raise FileNotFoundError(f"No such document: {path}")
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    elif create:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        raise ValueError(f"{path} has no {begin} ... {end} markers to write the {name} table between")
    _write_atomic(path, text)
    return path


def update_readme(path, table, name="denoise"):
    """Rewrites the compact table between the README's results:`name` markers (never creates them)."""
    return write_section(path, name, table, create=False)


# --- the denoising benchmark ------------------------------------------------------------------


def _specs():
    from tfimage import zoo

    return zoo.list_models()


def model_runs_at(name, sigma, channels, specs=None):
    """Whether a model belongs in a table: DnCNN-S models only at their sigma, no gray model on color."""
    spec = (specs if specs is not None else _specs()).get(name, {})
    return spec.get("sigma") in (None, sigma) and spec.get("channels") in (None, channels)


def published(name, dataset, sigma, specs=None):
    spec = (specs if specs is not None else _specs()).get(name, {})
    return spec.get("published", {}).get(dataset, {}).get(sigma)


def cells(extra_models=(), only=None, datasets=None):
    """(model, dataset, sigma) triples in run order: the fast methods everywhere first, bm3d last."""
    specs = _specs()
    found = []
    for group in DENOISE_BENCHMARK.values():
        models = list(group["models"]) + list(extra_models)
        for dataset in group["datasets"]:
            for sigma in group["sigmas"]:
                for name in models:
                    if (only and name not in only) or (datasets and dataset not in datasets):
                        continue
                    if model_runs_at(name, sigma, group["channels"], specs):
                        found.append((name, dataset, sigma))
    return sorted(found, key=lambda cell: cell[0] == "bm3d")  # stable: keeps the table order


def load_results(path):
    if os.path.isfile(path):
        with open(path) as stream:
            return json.load(stream)
    return {}


def save_result(path, cell_key, result):
    """Adds one cell to the JSON file, keeping what other runs wrote meanwhile (atomic write)."""
    results = load_results(path)
    results[cell_key] = result
    _write_atomic(path, json.dumps(results, indent=1, sort_keys=True))
    return results


def key(name, dataset, sigma, limit):
    return f"{name}|{dataset}|{sigma:g}|{limit or 'all'}"


PROTOCOL = [
    "Gaussian noise added to the [0, 1] image without clipping, seeded per image (seed (0, i)), the",
    "same for every model; PSNR (dB) and SSIM on the whole image, data range 1, restored images clipped",
    "to [0, 1]. Models that take a noise level (FFDNet, tfimage-*, bm3d, nlm) are given the true sigma.",
    "Published: the paper's number on the same set (DnCNN, FFDNet and BM3D papers); Kodak24 here is",
    "full size, the FFDNet paper used 500x500 crops, so no number is given there. Seconds per image are",
    "wall time on a 2-core CPU when the cell was measured, so rows measured at different times are",
    "timed under different load; `benchmarks/speed_512.py` times models against bm3d in one process.",
]


def render(results, limit, extra_models=(), level=1, specs=None):
    """The Markdown tables, one per set and sigma, from the stored results.

    `level` is the heading level of the title; each table gets the next level.
    """
    specs = specs if specs is not None else _specs()
    title, sub = "#" * level, "#" * (level + 1)
    lines = [f"{title} Denoising", "", f"Written by `{COMMAND}` from `benchmarks/results/denoise.json`.", "",
             *PROTOCOL, ""]
    for group in DENOISE_BENCHMARK.values():
        for dataset in group["datasets"]:
            for sigma in group["sigmas"]:
                rows = []
                bm3d = results.get(key("bm3d", dataset, sigma, limit))
                for name in list(group["models"]) + list(extra_models):
                    result = results.get(key(name, dataset, sigma, limit))
                    if not result:
                        continue
                    paper = published(name, dataset, sigma, specs)
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
                    results[k]["images"] for k in results
                    if k.split("|")[1:] == [dataset, f"{sigma:g}", str(limit or "all")]
                )
                lines += [
                    f"{sub} {dataset}, sigma {sigma} ({count} images)",
                    "",
                    "| model | PSNR | published | SSIM | s/image | x bm3d |",
                    "|---|---|---|---|---|---|",
                    *rows,
                    "",
                ]
    return "\n".join(lines)


def render_compact(results, sigma=25, specs=None):
    """One row per model, one PSNR column per set at `sigma`, the paper's number in parentheses."""
    specs = specs if specs is not None else _specs()
    datasets = [d for group in DENOISE_BENCHMARK.values() if sigma in group["sigmas"] for d in group["datasets"]]
    names = []
    for group in DENOISE_BENCHMARK.values():
        names += [name for name in group["models"] if name not in names]
    names.sort(key=lambda name: name in BASELINE_ROWS)  # stable: networks first, then the baselines
    rows = []
    for name in names:
        row = []
        for dataset in datasets:
            result = results.get(key(name, dataset, sigma, None))
            paper = published(name, dataset, sigma, specs)
            row.append("-" if not result else f"{result['psnr']:.2f}" + (f" ({paper})" if paper else ""))
        if any(cell != "-" for cell in row):
            rows.append(f"| {name} | " + " | ".join(row) + " |")
    header = " | ".join(DATASET_TITLES.get(d, d) for d in datasets)
    return "\n".join([
        f"PSNR (dB) at sigma {sigma}, written by `{COMMAND} --readme README.md`; in parentheses the paper's "
        "number.",
        "",
        f"| model | {header} |",
        "|---" * (len(datasets) + 1) + "|",
        *rows,
    ])


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
            result = evaluation.evaluate(
                name, dataset, task="denoise", sigma=sigma, limit=args.limit, data_dir=args.data_dir
            )
        except FileNotFoundError as error:  # e.g. a set or weight file that is not available
            print(f"skipping {name} on {dataset} sigma {sigma}: {error}", flush=True)
            continue
        result.pop("per_image", None)
        save_result(json_path, cell_key, result)
        done_here.add(cell_key)
        print(
            f"{name:<14} {dataset:<8} sigma {sigma:>2}: PSNR {result['psnr']:.2f}  SSIM {result['ssim']:.4f}  "
            f"{result['seconds_per_image']:.2f} s/image",
            flush=True,
        )
    results = load_results(json_path)
    specs = _specs()
    _write_atomic(args.out, render(results, args.limit, args.models or (), level=1, specs=specs))
    print(f"wrote {args.out}")
    if args.limit:
        print("--limit: a quick look, so docs/results.md and README.md are left as they are")
        return 0
    if args.results_doc:
        write_section(args.results_doc, "denoise", render(results, None, args.models or (), level=2, specs=specs))
        print(f"wrote the denoise section of {args.results_doc}")
    if args.readme:
        update_readme(args.readme, render_compact(results, specs=specs))
        print(f"wrote the denoise table of {args.readme}")
    return 0
