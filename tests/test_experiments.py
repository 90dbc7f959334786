import csv
import importlib.util
import json
import os

import keras
import numpy as np
import pytest

from conftest import require_set, write_smooth_images
from tfimage import experiments
from tfimage.networks.dncnn import build_dncnn

BENCHMARKS = os.path.join(os.path.dirname(__file__), "..", "benchmarks")


def _script(name):
    """A benchmarks/ script imported as a module (they are not a package)."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", os.path.join(BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_steps_to_reach():
    curve = {0: 10.0, 5: 12.0, 10: 15.0, 20: 14.0}
    assert experiments.steps_to_reach(curve, 12.0) == 5
    assert experiments.steps_to_reach(curve, 14.5) == 10
    assert experiments.steps_to_reach(curve, 16.0) is None


def test_tiny_transfer_run_writes_csv_and_png(tmp_path):
    require_set("train400")
    require_set("set12")
    result = experiments.transfer_denoise(
        task="poisson", network=build_dncnn(depth=3, filters=4), train_images=2, validation_images=1,
        steps=4, eval_steps=(0, 2, 4), patch_size=16, batch_size=2, out_dir=str(tmp_path),
    )
    assert result["steps"] == [0, 2, 4]
    # Same weights at step 0 would mean the scratch run was not re-initialised.
    assert result["scratch"][0] != result["pretrained"][0]
    assert result["target"] == result["scratch"][4]
    assert result["steps_to_target"]["scratch"] <= 4
    rows = list(csv.DictReader(open(result["csv"])))
    assert [int(row["step"]) for row in rows] == [0, 2, 4]
    assert open(result["png"], "rb").read(4) == b"\x89PNG"


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="task='blur'"):
        experiments.transfer_denoise(task="blur", network=build_dncnn(depth=3, filters=4))


def test_transfer_encoder_script_writes_csv_and_png(tmp_path, capsys):
    from tfimage.networks.unet import build_unet

    keras.utils.set_random_seed(2)
    source = build_unet(1, filters=(4, 8), extra_inputs=1, residual=True)  # e.g. an inpainting U-Net
    source.save(str(tmp_path / "source.keras"))
    folder = write_smooth_images(tmp_path / "images", 6, 40)
    _script("transfer_encoder").main([
        "--pretrained", str(tmp_path / "source.keras"), "--data", str(folder), "--filters", "4", "8",
        "--train-images", "2", "--steps", "2", "--eval-every", "1", "--patch", "32", "--batch", "2",
        "--out-dir", str(tmp_path / "results"),
    ])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["copied_layers"] == 4 and summary["steps"] == [0, 1, 2]
    with open(tmp_path / "results" / "transfer_encoder_denoise.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(row["step"]) for row in rows] == [0, 1, 2]
    assert float(rows[0]["pretrained_psnr"]) != float(rows[0]["scratch_psnr"])
    assert (tmp_path / "results" / "transfer_encoder_denoise.png").stat().st_size > 1000


def test_write_results_renders_every_table_from_the_stored_results(tmp_path):
    from tfimage.cli import benchmark

    writer = _script("write_results")
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nintro by hand\n")
    names = ["denoise"]
    readme = tmp_path / "README.md"
    readme.write_text("".join(f"{benchmark.begin_marker(n)}\nold\n{benchmark.end_marker(n)}\n" for n in names))
    for _ in range(2):  # the second run replaces the sections instead of adding them again
        assert writer.main(["--doc", str(doc), "--readme", str(readme)]) == 0
    text = doc.read_text()
    assert text.startswith("# Results\n\nintro by hand\n")
    for name, body in writer.doc_sections(writer.os.path.join(BENCHMARKS, "results")):
        assert text.count(benchmark.begin_marker(name)) == (1 if body else 0)  # a section without results is left out
    assert "| tfimage-sr-x4 | - | 31.25 | - | 26.08 |" in text  # from sr.json
    assert "| masked input | 12.61 | - | - |" in text  # psnr_input of inpaint.json
    assert "| mnist-gan | 6.62 | 2.79 |" in text  # from mnist-gan-fid.json
    results = os.path.join(BENCHMARKS, "results")
    if os.path.isfile(os.path.join(results, "mnist-ddim-fid.json")):
        ddim = json.load(open(os.path.join(results, "mnist-ddim-fid.json")))
        assert f"| mnist-ddim | {ddim['fid']:.2f} | 2.79 |" in text
    if os.path.isfile(os.path.join(results, "diffusion_restoration.json")):
        restoration = json.load(open(os.path.join(results, "diffusion_restoration.json")))
        row = restoration["tasks"]["inpaint-80"]["diffpir"]
        assert f"| inpainting, 80% missing | DiffPIR, diffusion prior | {row['psnr']:.2f} | {row['fid']:.2f} |" in text
    if os.path.isfile(os.path.join(results, "transfer_diffusion_fid.csv")):
        last = list(csv.DictReader(open(os.path.join(results, "transfer_diffusion_fid.csv"))))[-1]
        assert f"| {last['step']} |" in text and f"| {float(last['fine-tune']):.1f} |" in text
    assert "| dncnn-3 (published) | 29.19 | 31.59 | 32.98 | 33.96 |" in text  # jpeg.json + the model's spec
    # transfer_denoise_sigma75.csv: the scratch run's final PSNR and the steps that first reach it
    rows = list(csv.DictReader(open(os.path.join(BENCHMARKS, "results", "transfer_denoise_sigma75.csv"))))
    target = float(rows[-1]["scratch_psnr"])
    first = {c: next(int(r["step"]) for r in rows if float(r[c]) >= target) for c in ("scratch_psnr", "pretrained_psnr")}
    assert first["pretrained_psnr"] < first["scratch_psnr"]
    assert f"first reaches it at step {first['scratch_psnr']};" in text
    assert f"reaches it at step {first['pretrained_psnr']} and ends" in text
    short = readme.read_text()
    assert "old" not in short and "| tfimage-gray-blind | 29.84 | 28.86 | - | - |" in short
    assert np.isclose(float(text.split("| tfimage-inpaint | ")[1].split(" |")[0]), 26.93)  # inpaint.json


def test_fid_curves_round_trip_into_the_transfer_table(tmp_path):
    writer = _script("write_results")
    results = tmp_path / "results"
    paths = experiments.write_fid_curves(str(results / "transfer_diffusion_fid"), [0, 100], {
        "scratch": [700.0, 300.25], "fine-tune": [500.0, 151.1]}, 4.0162, xlabel="steps", title="t")
    rows = list(csv.DictReader(open(paths["csv"])))
    assert rows == [{"step": "0", "scratch": "700.0000", "fine-tune": "500.0000", "floor": "4.0162"},
                    {"step": "100", "scratch": "300.2500", "fine-tune": "151.1000", "floor": "4.0162"}]
    assert os.path.getsize(paths["png"]) > 0 and not any(name.endswith(".tmp") for name in os.listdir(results))
    table = writer.transfer_generation(str(results))
    assert "| 100 | 300.2 | 151.1 |" in table and "DDIM scratch" in table and "floor 4.02" in table
