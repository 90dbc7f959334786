"""The plug-and-play tables: deblurring, SR with a known kernel, demosaicing; one denoiser, no training.

    TFIMAGE_DATA_DIR=../shared/data python benchmarks/pnp_tables.py [--only deblur-cbsd68 ...] [--force]

Every cell runs through `tfimage.evaluation.evaluate` (seed 0), so each
method of a table sees the same seeded degradations. Results go to
benchmarks/results/pnp.json as they come in (a stopped run resumes; --force
measures again). Then it draws benchmarks/results/pnp-deblur-grid.png
(blurred / Wiener / plug-and-play / clean) and rewrites the plug-and-play
section of docs/results.md (`benchmarks/write_results.py`).
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
JSON_PATH = os.path.join(RESULTS, "pnp.json")
GRID_PATH = os.path.join(RESULTS, "pnp-deblur-grid.png")
DENOISER = "ffdnet-color"

# Plain dict preset: table -> task, dataset, options per column, models per row.
TABLES = {
    "deblur-cbsd68": {
        "task": "deblur", "dataset": "cbsd68",
        "columns": [{"kernel": "gaussian:1.6", "noise_level": 2.55}],
        "models": [DENOISER, "wiener", "richardson-lucy"],
    },
    "deblur-set3c": {
        "task": "deblur", "dataset": "set3c",
        "columns": [{"kernel": f"levin:{k}", "noise_level": n} for n in (2.55, 7.65) for k in range(1, 9)],
        "models": [DENOISER, "wiener", "richardson-lucy"],
    },
    "sr-kernel-cbsd68": {
        "task": "sr", "dataset": "cbsd68",
        "columns": [{"scale": 2, "kernel": "gaussian:0.7", "noise_level": 0.0}],
        "models": [DENOISER, "bicubic"],
    },
    "demosaic-kodak24": {
        "task": "demosaic", "dataset": "kodak24",
        "columns": [{}],
        "models": [DENOISER, "edge-aware-demosaic", "bilinear-demosaic"],
    },
}

PROTOCOL = (
    f"`{DENOISER}` (the official FFDNet color weights) runs inside the plug-and-play HQS solver with DPIR's "
    "schedule (denoiser noise log-spaced from 49/255, rho_k = 0.23 sigma^2 / sigma_k^2): 8 iterations for "
    "deblurring, 24 for SR, 40 for demosaicing; no training for these tasks. Deblurring: circular convolution, "
    "Gaussian noise added (seed 0), PSNR on RGB with no border, 8-bit output. SR: circular blur then every "
    "2nd pixel, no noise, PSNR on RGB with a 2-pixel border (Y in brackets). Demosaicing: RGGB mosaic, no noise, "
    "PSNR on RGB with a 10-pixel border. Baselines: scikit-image's Wiener-Hunt (balance 100 sigma^2) and "
    "Richardson-Lucy (30 iterations, circular padding), bicubic upsampling, OpenCV's demosaicing."
)


def key(table, column, model):
    return json.dumps([table, column, model], sort_keys=True)


def load():
    if os.path.isfile(JSON_PATH):
        with open(JSON_PATH) as handle:
            return json.load(handle)
    return {"source": "python benchmarks/pnp_tables.py", "protocol": PROTOCOL, "results": []}


def save(data):
    temporary = JSON_PATH + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.write("\n")
    os.replace(temporary, JSON_PATH)


def measure(names, force=False):
    from tfimage import evaluation

    data = load()
    done = {record["key"]: record for record in data["results"]}
    for name in names:
        table = TABLES[name]
        for column in table["columns"]:
            for model in table["models"]:
                cell = key(name, column, model)
                if cell in done and not force:
                    continue
                result = evaluation.evaluate(
                    model, table["dataset"], task=table["task"], limit=table.get("limit"), **column
                )
                result.pop("per_image")
                result.update(key=cell, table=name)
                done[cell] = result
                data["results"] = list(done.values())
                save(data)
                extra = f" (Y {result['psnr_y']:.2f})" if "psnr_y" in result else ""
                print(f"{name} {column} {model}: {result['psnr']:.3f} dB{extra}, "
                      f"{result['seconds_per_image']:.2f} s/image", flush=True)
    return data


def grid(path=GRID_PATH):
    """Blurred / Wiener / plug-and-play / clean on a Set3C image (Levin kernel 4, noise 7.65)."""
    import numpy as np

    from tfimage import io, zoo
    from tfimage.datasets import pipelines
    from tfimage.inference import restore
    from tfimage.tasks import TASKS

    task = TASKS["deblur"]
    _, images = pipelines.load_source("set3c", channels=3, limit=3)
    example = task.degrade(images[2], (0, 2), kernel="levin:4", noise_level=7.65)
    panels = [np.clip(example.degraded, 0, 1)]
    for model in ("wiener", DENOISER):
        panels.append(restore(zoo.load(model), example.degraded, task="deblur", **example.inputs))
    panels.append(example.reference)
    gap = np.ones((example.reference.shape[0], 4, 3), np.float32)
    row = np.concatenate([piece for panel in panels for piece in (panel, gap)][:-1], axis=1)
    io.write_image(path, row)
    print(f"wrote {path}: blurred | wiener | {DENOISER} plug-and-play | clean")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(TABLES), help="tables to measure (default all)")
    parser.add_argument("--force", action="store_true", help="measure cells already in pnp.json again")
    parser.add_argument("--no-grid", dest="grid", action="store_false")
    args = parser.parse_args(argv)
    measure(args.only or list(TABLES), force=args.force)
    if args.grid:
        grid()
    sys.path.insert(0, HERE)
    import write_results

    write_results.main(["--only", "pnp"])


if __name__ == "__main__":
    main()
