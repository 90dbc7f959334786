"""Writes every table of docs/results.md (and, when asked, README.md's) from benchmarks/results/.

Nothing here measures anything: each table is rendered from the JSON and CSV
files that the measuring commands wrote under benchmarks/results/, and each
says which command that was. A table sits between `<!-- begin results:NAME -->`
and `<!-- end results:NAME -->` markers, so rewriting one leaves the rest of
the document as it is (`tfimage benchmark denoise` rewrites the denoise
section the same way).

| section | from | measured by |
|---|---|---|
| denoise | denoise.json | `tfimage benchmark denoise` |
| denoise-self-ensemble | denoise_self_ensemble.json, denoise.json | `tfimage evaluate denoise ... --self-ensemble` |
| denoise-speed | speed_512.json | `python benchmarks/speed_512.py` |
| sr | sr.json | `tfimage evaluate sr ... --json` |
| inpaint | inpaint.json | `tfimage evaluate inpaint ... --json` |
| jpeg | jpeg.json | `tfimage evaluate jpeg ... --json` |
| generation | mnist-*-fid.json | `tfimage evaluate gan|vae|diffusion ... --json` |
| diffusion-restoration | diffusion_restoration.json | `python benchmarks/diffusion_restoration.py` |
| transfer-denoise | transfer_denoise_sigma75.csv | `python benchmarks/transfer_denoise.py` |
| transfer-encoder | transfer_encoder_denoise.csv | `python benchmarks/transfer_encoder.py` |
| transfer-generation | transfer_{gan,vae,diffusion}_fid.csv | `python benchmarks/transfer_gan.py`, `transfer_diffusion.py` |

Usage:
    python benchmarks/write_results.py                       # docs/results.md
    python benchmarks/write_results.py --readme README.md    # and README.md's compact denoising table
"""

import argparse
import csv
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WRITER = "python benchmarks/write_results.py"


def _read_json(path):
    with open(path) as stream:
        return json.load(stream)


def _read_csv(path):
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def _table(header, rows):
    return "\n".join([
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows),
    ])


def _caption(source, measured_by):
    return f"Written by `{WRITER}` from `benchmarks/results/{source}`, measured by {measured_by}."


def _label(record):
    label = record["model"]
    if record.get("self_ensemble"):
        label += ", x8 self-ensemble"
    if record.get("color_symmetries"):
        label += " with color views"
    return label


# --- denoising ---------------------------------------------------------------------------------


def denoise_self_ensemble(results_dir):
    from tfimage.cli import benchmark

    data = _read_json(os.path.join(results_dir, "denoise_self_ensemble.json"))
    single = benchmark.load_results(os.path.join(results_dir, "denoise.json"))
    cells = {}
    for record in data["results"]:
        row = cells.setdefault((record["model"], record["dataset"], record["sigma"]), {})
        row["x8 + color views" if record.get("color_symmetries") else "x8"] = record["psnr"]
    rows = []
    for (model, dataset, sigma), row in cells.items():
        one = single.get(benchmark.key(model, dataset, sigma, None))
        rows.append([model, dataset, sigma, f"{one['psnr']:.2f}" if one else "-",
                     f"{row['x8']:.2f}" if "x8" in row else "-",
                     f"{row['x8 + color views']:.2f}" if "x8 + color views" in row else "-"])
    return "\n\n".join([
        "### x8 self-ensemble",
        _caption("denoise_self_ensemble.json", "each row's `tfimage evaluate denoise ... --self-ensemble "
                 "[--color-symmetries] --json` (the single pass: `denoise.json`)"),
        data["protocol"],
        _table(["model", "set", "sigma", "single pass", "x8", "x8 + color views"], rows),
    ])


def denoise_speed(results_dir):
    data = _read_json(os.path.join(results_dir, "speed_512.json"))
    rows = [[name, f"{r['psnr']:.2f}", f"{r['seconds_per_image']:.2f}", f"{r['x_faster_than_bm3d']:.1f}x"]
            for name, r in data.items()]
    return "\n\n".join([
        "### Speed against bm3d in one process",
        _caption("speed_512.json", "`python benchmarks/speed_512.py`"),
        "The five 512x512 Set12 images at sigma 25, every model timed in the same process on the same "
        "CPU; \"+x8\": with the x8 self-ensemble. The speed ratio depends on the CPU.",
        _table(["model", "PSNR", "s/image", "x bm3d"], rows),
    ])


# --- super-resolution, inpainting, generation ---------------------------------------------------


def sr_table(results_dir):
    data = _read_json(os.path.join(results_dir, "sr.json"))
    columns = []
    for record in data["results"] + data["published"]:
        if (record["dataset"], record["scale"]) not in columns:
            columns.append((record["dataset"], record["scale"]))
    rows = {}
    for record in data["results"]:
        rows.setdefault(_label(record), {})[(record["dataset"], record["scale"])] = record["psnr"]
    for record in data["published"]:
        rows.setdefault(f"{record['model']} (published)", {})[(record["dataset"], record["scale"])] = record["psnr"]
    header = ["model"] + [f"{dataset.replace('set', 'Set').replace('bsd', 'BSD')} x{scale}"
                          for dataset, scale in columns]
    body = [[label] + [f"{cells[c]:.2f}" if c in cells else "-" for c in columns] for label, cells in rows.items()]
    return data["protocol"], _table(header, body)


def inpaint_table(results_dir):
    data = _read_json(os.path.join(results_dir, "inpaint.json"))
    records = data["results"]
    body = []
    masked = next((r["psnr_input"] for r in records if "psnr_input" in r), None)
    if masked is not None:
        body.append(["masked input", f"{masked:.2f}", "-", "-"])
    for record in records:
        body.append([_label(record), f"{record['psnr']:.2f}", f"{record['psnr_hole']:.2f}",
                     f"{record['seconds_per_image']:.2f}"])
    sets = sorted({r["dataset"].upper() for r in records})
    return data["protocol"], _table(["model", f"{'/'.join(sets)} PSNR", "in the holes", "s/image"], body)


def jpeg_table(results_dir):
    from tfimage import pretrained

    data = _read_json(os.path.join(results_dir, "jpeg.json"))
    qualities = sorted({record["quality"] for record in data["results"]})
    sets = sorted({record["dataset"] for record in data["results"]})
    rows = {}
    for record in data["results"]:
        rows.setdefault(_label(record), {})[record["quality"]] = record["psnr"]
    for name in list(rows):
        published = pretrained.MODELS.get(name, {}).get("published", {})
        for dataset in sets:
            cells = {int(q): v for q, v in published.get(dataset, {}).items() if int(q) in qualities}
            if cells:
                rows[f"{name} (published)"] = cells
    header = ["model"] + [f"{'/'.join(s.upper() for s in sets)} q{quality}" for quality in qualities]
    body = [[label] + [f"{cells[q]:.2f}" if q in cells else "-" for q in qualities] for label, cells in rows.items()]
    return data["protocol"], _table(header, body)


def generation_table(results_dir):
    body = []
    for path in sorted(glob.glob(os.path.join(results_dir, "mnist-*-fid.json"))):
        r = _read_json(path)
        sampling = f"{r['steps']} {r['sampler']} steps" if "steps" in r else "one pass"
        body.append([r["model"], f"{r['fid']:.2f}", f"{r['fid_floor']:.2f}",
                     f"{r['kid']:.2f} ± {r['kid_std']:.2f}", f"{r['kid_floor']:.2f} ± {r['kid_floor_std']:.2f}",
                     r["images"], sampling])
    protocol = (
        "FID and KID on the 128 penultimate features of `mnist-classifier`: generated images against a fixed "
        "half (5,000, seed 0) of the 10k MNIST test split; the floor is the other real half against the same "
        "half. KID: polynomial kernel, unbiased MMD², 100 subsets of 1,000."
    )
    return protocol, _table(["model", "FID", "FID floor", "KID", "KID floor", "generated images", "sampling"], body)


# Published PSNR of the plug-and-play tables (the issue's and papers' numbers): table -> label -> value.
PNP_PUBLISHED = {
    "deblur-cbsd68": {"IRCNN+ (published, Zhang et al. 2021)": 26.86, "DPIR, DRUNet (published)": 28.86},
}
PNP_TITLES = {
    "deblur-cbsd68": "Deblurring CBSD68: Gaussian kernel sigma 1.6 (25x25), noise 2.55",
    "sr-kernel-cbsd68": "SR x2 with a known kernel, CBSD68: Gaussian sigma 0.7 (DPIR's kernel 1), no noise",
    "demosaic-kodak24": "Demosaicing Kodak24 (RGGB)",
}


def pnp_tables(results_dir):
    """The plug-and-play tables: one row per method; Set3C as kernels x noise levels."""
    data = _read_json(os.path.join(results_dir, "pnp.json"))
    by_table = {}
    for record in data["results"]:
        by_table.setdefault(record["table"], []).append(record)
    parts = []
    for name, title in PNP_TITLES.items():
        records = by_table.get(name, [])
        if not records:
            continue
        body = []
        for record in records:
            extra = f" (Y {record['psnr_y']:.2f})" if "psnr_y" in record else ""
            body.append([_label(record), f"{record['psnr']:.2f}{extra}", f"{record['ssim']:.4f}",
                         f"{record['seconds_per_image']:.2f}", record["images"]])
        for label, value in PNP_PUBLISHED.get(name, {}).items():
            body.append([label, f"{value:.2f}", "-", "-", "-"])
        parts.append(f"**{title}**\n\n" + _table(["method", "PSNR", "SSIM", "s/image", "images"], body))
    set3c = by_table.get("deblur-set3c", [])
    if set3c:
        columns = sorted({(r["noise_level"], r["kernel"]) for r in set3c}, key=lambda c: (c[0], int(c[1].split(":")[1])))
        rows = {}
        for record in set3c:
            rows.setdefault(_label(record), {})[(record["noise_level"], record["kernel"])] = record["psnr"]
        header = ["method"] + [f"{kernel.replace('levin:', 'k')} n{noise:g}" for noise, kernel in columns]
        body = [[label] + [f"{cells[c]:.2f}" if c in cells else "-" for c in columns] for label, cells in rows.items()]
        parts.append("**Deblurring Set3C with Levin et al.'s 8 motion kernels, noise 2.55 and 7.65** (PSNR, RGB)\n\n"
                     + _table(header, body))
    return data["protocol"], "\n\n".join(parts)


def pnp(results_dir):
    protocol, tables = pnp_tables(results_dir)
    protocol = "One pretrained denoiser restores images for tasks it was never trained on. " + protocol
    picture = "![blurred, Wiener, plug-and-play, clean](../benchmarks/results/pnp-deblur-grid.png)"
    return section("## Plug-and-play",
                   _caption("pnp.json", "`python benchmarks/pnp_tables.py`"), protocol, tables,
                   picture + "\n\nLeft to right: Set3C parrots blurred by Levin kernel 4 with noise 7.65, Wiener, "
                   "ffdnet-color in the solver, clean.")


def section(title, caption, protocol, table, extra=""):
    return "\n\n".join(part for part in (title, caption, protocol, table, extra) if part)


# name -> (section title, table builder, source file under benchmarks/results/, measuring command)
TASK_TABLES = {
    "sr": ("Super-resolution", sr_table, "sr.json", "tfimage evaluate sr"),
    "inpaint": ("Inpainting", inpaint_table, "inpaint.json", "tfimage evaluate inpaint"),
    "jpeg": ("JPEG deblocking", jpeg_table, "jpeg.json", "tfimage evaluate jpeg"),
}


def task_section(results_dir, name):
    """The docs/results.md section of one task's table (`TASK_TABLES`)."""
    title, build, source, command = TASK_TABLES[name]
    protocol, table = build(results_dir)
    return section(f"## {title}", _caption(source, f"each row's `{command} ... --json`"), protocol, table)


def generation(results_dir):
    protocol, table = generation_table(results_dir)
    pictures = ("![GAN samples](../benchmarks/results/mnist-gan-samples.png) "
                "![VAE samples](../benchmarks/results/mnist-vae-samples.png)")
    if os.path.isfile(os.path.join(results_dir, "mnist-ddim-samples.png")):
        pictures += " ![DDIM samples](../benchmarks/results/mnist-ddim-samples.png)"
    return section("## Generation (MNIST)",
                   _caption("mnist-{gan,vae,ddim}-fid.json",
                            "`tfimage evaluate gan|vae|diffusion --model mnist-gan|mnist-vae|mnist-ddim "
                            "--dataset mnist --json`"),
                   protocol, table, pictures)


DIFFUSION_TASKS = {"inpaint-50": "inpainting, 50% of pixels missing", "inpaint-80": "inpainting, 80% missing",
                   "sr-x4": "x4 super-resolution (bicubic, 7x7 -> 28x28)"}
DIFFUSION_METHODS = {"input": "input", "pnp": "plug-and-play, Gaussian denoiser",
                     "diffpir": "DiffPIR, diffusion prior"}


def diffusion_restoration(results_dir, name="diffusion_restoration.json"):
    path = os.path.join(results_dir, name)
    if not os.path.isfile(path):
        return ""
    data = _read_json(path)
    body, floor, wins, losses, ties = [], None, [], [], []
    for task, entry in data["tasks"].items():
        ours, theirs = entry["diffpir"], entry["pnp"]
        for metric, better in (("fid", ours["fid"] < theirs["fid"]), ("psnr", ours["psnr"] > theirs["psnr"])):
            if ours[metric] == theirs[metric]:
                ties.append(f"{task} {metric.upper()}")
                continue
            difference = f"{abs(ours[metric] - theirs[metric]):.2f}{' dB' if metric == 'psnr' else ''}"
            (wins if better else losses).append(f"{task} {metric.upper()} by {difference}")
        for method, label in DIFFUSION_METHODS.items():
            if method == "input":
                label = "masked input" if task.startswith("inpaint") else "bicubic upsampling"
            row = entry[method]
            floor = row["fid_floor"]
            seconds = entry["seconds_per_image"].get(method)
            body.append([DIFFUSION_TASKS.get(task, task), label, f"{row['psnr']:.2f}", f"{row['fid']:.2f}",
                         f"{row['kid']:.4f}", "-" if seconds is None else f"{seconds:.2f}"])
    protocol = (
        f"{data['images']} MNIST test digits per task, noise-free observations. Plug-and-play: HQS with "
        f"`{data['denoiser']}` as the prior (Zhang et al., TPAMI 2021); DiffPIR: `{data['model']}` in "
        f"{data['steps']}-step DiffPIR sampling (Zhu et al., CVPR-W 2023), the class chosen by the best data fit. "
        "PSNR against the clean digits; FID/KID (`mnist-classifier` features) against the reference half of "
        f"the split, floor {floor:.2f}. The digits come from the split the diffusion model was trained on, so "
        "its PSNR is optimistic; the FID says how digit-like the restorations are. "
        f"DiffPIR against plug-and-play: better in {', '.join(wins) or 'nothing'}; worse in "
        f"{', '.join(losses) or 'nothing'}" + (f"; equal in {', '.join(ties)}." if ties else ".")
    )
    return section("## Restoration with a diffusion prior (MNIST)",
                   _caption(name, "`python benchmarks/diffusion_restoration.py`"), protocol,
                   _table(["task", "method", "PSNR", "FID", "KID", "s/image"], body))


# --- transfer ------------------------------------------------------------------------------------


def _reach(rows, column, target):
    for row in rows:
        if float(row[column]) >= target:
            return int(row["step"])
    return None


def transfer_denoise(results_dir, name="transfer_denoise_sigma75.csv"):
    rows = _read_csv(os.path.join(results_dir, name))
    target = float(rows[-1]["scratch_psnr"])
    reach = {column: _reach(rows, column, target) for column in ("scratch_psnr", "pretrained_psnr")}
    shown = [row for row in rows if int(row["step"]) % 50 == 0 or int(row["step"]) in reach.values()]
    summary = (
        f"The scratch run ends at {target:.2f} dB and first reaches it at step {reach['scratch_psnr']}; "
        f"started from the pretrained weights the network reaches it at step {reach['pretrained_psnr']} and ends "
        f"at {float(rows[-1]['pretrained_psnr']):.2f} dB."
    )
    return section(
        "### Denoising: pretrained vs scratch on an unseen noise level",
        _caption(name, "`python benchmarks/transfer_denoise.py --steps 400 --batch 8`"),
        "DnCNN-17 on Gaussian noise sigma 75 with 10 Train400 images, from random weights and from `dncnn-s25`, "
        "same steps, batches and seeds; PSNR (dB) on 4 Set12 images. " + summary,
        _table(["step", "scratch", "from dncnn-s25"],
               [[r["step"], f"{float(r['scratch_psnr']):.2f}", f"{float(r['pretrained_psnr']):.2f}"] for r in shown]),
        f"![transfer](../benchmarks/results/{name[:-4]}.png)",
    )


def transfer_encoder(results_dir, name="transfer_encoder_denoise.csv"):
    rows = _read_csv(os.path.join(results_dir, name))
    return section(
        "### U-Net encoder: from the inpainting network vs random",
        _caption(name, "`python benchmarks/transfer_encoder.py --pretrained saved_models/tfimage-inpaint.keras "
                       "--task denoise`"),
        "The same U-Net (widths 24-192) trained twice for Gaussian denoising (sigma 25) on 50 Train400 images, its "
        "encoder initialised from `tfimage-inpaint`'s first-stage encoder or at random, same seeds and batches; "
        "PSNR (dB) on 4 held-out Train400 images.",
        _table(["step", "random encoder", "pretrained encoder"],
               [[r["step"], f"{float(r['scratch_psnr']):.2f}", f"{float(r['pretrained_psnr']):.2f}"] for r in rows]),
    )


def transfer_generation(results_dir):
    columns, by_step, floor = [], {}, None
    labels = {"gan": "GAN", "vae": "VAE", "diffusion": "DDIM"}
    for kind in labels:
        path = os.path.join(results_dir, f"transfer_{kind}_fid.csv")
        if not os.path.isfile(path):
            continue
        for row in _read_csv(path):
            floor = float(row["floor"])
            for column, value in row.items():
                if column in ("step", "floor"):
                    continue
                label = f"{labels[kind]} {column}"
                if label not in columns:
                    columns.append(label)
                by_step.setdefault(int(row["step"]), {})[label] = float(value)
    body = [[step] + [f"{cells[c]:.1f}" if c in cells else "-" for c in columns] for step, cells in sorted(by_step.items())]
    return section(
        "### GAN, VAE and diffusion model: few-shot transfer",
        _caption("transfer_{gan,vae,diffusion}_fid.csv",
                 "`python benchmarks/transfer_gan.py [--kind vae]` and `python benchmarks/transfer_diffusion.py`"),
        "Pretrained on MNIST digits 0-7, then trained on 100 images of 8s and 9s, against the same training from "
        "scratch, same steps and seeds (freezed-1: the first discriminator block frozen, FreezeD; DDIM: the "
        "diffusion model, sampled with 20 DDIM steps). FID of 2,000 "
        f"samples against a real half of the 8s and 9s; floor {floor:.2f}.",
        _table(["steps"] + columns, body),
    )


def transfer(results_dir):
    return "\n\n".join(["## Transfer", transfer_denoise(results_dir), transfer_encoder(results_dir),
                        transfer_generation(results_dir)])


# --- the documents -------------------------------------------------------------------------------


def doc_sections(results_dir):
    """(name, Markdown) for each section of docs/results.md, in order."""
    from tfimage.cli import benchmark

    denoise = benchmark.load_results(os.path.join(results_dir, "denoise.json"))
    return [
        ("denoise", benchmark.render(denoise, None, level=2)),
        ("denoise-self-ensemble", denoise_self_ensemble(results_dir)),
        ("denoise-speed", denoise_speed(results_dir)),
        *((name, task_section(results_dir, name)) for name in TASK_TABLES),
        ("generation", generation(results_dir)),
        ("diffusion-restoration", diffusion_restoration(results_dir)),
        ("transfer", transfer(results_dir)),
        ("pnp", pnp(results_dir)),
    ]


def readme_sections(results_dir):
    """(name, Markdown) for README.md's compact table: denoising (the rest is in docs/results.md)."""
    from tfimage.cli import benchmark

    denoise = benchmark.load_results(os.path.join(results_dir, "denoise.json"))
    return [("denoise", benchmark.render_compact(denoise))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    parser.add_argument("--doc", default=os.path.join(ROOT, "docs", "results.md"), help="'' to skip")
    parser.add_argument("--readme", help="also rewrite the denoising table between this file's results markers")
    parser.add_argument("--only", nargs="*", help="only these docs/results.md sections (e.g. pnp)")
    args = parser.parse_args(argv)

    from tfimage.cli.benchmark import update_readme, write_section

    if args.doc:
        for name, text in doc_sections(args.results_dir):
            if text and (not args.only or name in args.only):
                write_section(args.doc, name, text)
        print(f"wrote {args.doc}")
    if args.readme:
        for name, text in readme_sections(args.results_dir):
            update_readme(args.readme, text, name=name)
        print(f"wrote the tables of {args.readme}")
    return 0


if __name__ == "__main__":
    main()
