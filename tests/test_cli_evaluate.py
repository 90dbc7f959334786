"""Tests of `tfimage evaluate denoise|sr|inpaint` (`tfimage.cli.evaluate`)."""

import json

import numpy as np
import pytest

from conftest import require_set, write_smooth_images
from tfimage.cli.main import main

SHAPE = ["model", "dataset", "task"], ["images", "psnr", "ssim"]


def _last_json(capsys):
    output = capsys.readouterr().out.strip().splitlines()
    return json.loads(output[-1]), output


def _evaluate(capsys, task, model, dataset, *options):
    """Runs `tfimage evaluate TASK ... --json` (asserting exit status 0): (JSON record, output lines)."""
    assert main(["evaluate", task, "--model", model, "--dataset", dataset, *options, "--json"]) == 0
    return _last_json(capsys)


def test_one_json_line_of_one_shape_for_every_task(tmp_path, capsys):
    folder = write_smooth_images(tmp_path / "set", 2, 32, channels=3)
    commands = {
        "denoise": (["--model", "noisy", "--sigma", "25"], ["sigma"], []),
        "sr": (["--model", "bicubic", "--scale", "2"], ["scale"], []),
        "inpaint": (["--model", "telea", "--hole-ratio", "0.2", "--kind", "boxes"], ["hole_ratio", "kind"],
                    ["psnr_hole", "psnr_input"]),
    }
    for task, (options, fields, extras) in commands.items():
        assert main(["evaluate", task, "--dataset", str(folder), "--json", "--seed", "3", *options]) == 0
        record, output = _last_json(capsys)
        assert list(record) == [*SHAPE[0], *fields, *SHAPE[1], *extras, "seconds_per_image"], task
        assert record["task"] == task and record["images"] == 2 and record["dataset"] == str(folder)
        assert output[-2].startswith(f"{record['model']} on {folder}, ")
    assert record["hole_ratio"] == 0.2 and record["kind"] == "boxes"
    assert main(["evaluate", "inpaint", "--dataset", str(folder), "--model", "nlm", "--hole-ratio", "0.2"]) == 1
    assert "'denoise' task, not 'inpaint'. Received: model=nlm" in capsys.readouterr().err


@pytest.mark.data
def test_evaluate_json_last_line(capsys):
    require_set("set12")
    record, _ = _evaluate(capsys, "denoise", "noisy", "set12", "--sigma", "25", "--limit", "2")
    assert list(record) == ["model", "dataset", "task", "sigma", "images", "psnr", "ssim", "seconds_per_image"]
    assert record["images"] == 2 and 20 < record["psnr"] < 21 and record["dataset"] == "set12"


@pytest.mark.data
def test_evaluate_sr_on_set5(capsys):
    require_set("set5")
    record, output = _evaluate(capsys, "sr", "bicubic", "set5", "--scale", "4", "--limit", "2")
    assert record["model"] == "bicubic" and record["images"] == 2 and record["scale"] == 4
    assert 20 < record["psnr"] < 40
    assert "(Y channel, 4-pixel border cropped)" in output[-2]


@pytest.mark.data
def test_evaluate_inpaint_on_cbsd68(capsys):
    require_set("cbsd68")
    record, _ = _evaluate(capsys, "inpaint", "telea", "cbsd68", "--hole-ratio", "0.25", "--limit", "1")
    for key in ("model", "dataset", "images", "psnr", "ssim", "seconds_per_image", "psnr_hole"):
        assert key in record
    assert record["model"] == "telea" and record["images"] == 1
    assert record["psnr"] > record["psnr_input"] + 5  # measured 23.21 against 14.06 for the masked input


@pytest.mark.data
def test_evaluate_with_self_ensemble(capsys):
    require_set("set12")
    require_set("dncnn_matconvnet")
    records = []
    for extra in ([], ["--self-ensemble"]):
        assert main(["evaluate", "denoise", "--model", "dncnn-s25", "--dataset", "set12", "--sigma", "25",
                     "--limit", "1", "--json", *extra]) == 0
        records.append(_last_json(capsys)[0])
    assert "self_ensemble" not in records[0] and records[1]["self_ensemble"] == 8
    assert records[0]["psnr"] + 0.03 < records[1]["psnr"] < records[0]["psnr"] + 0.5
    assert main(["evaluate", "denoise", "--model", "nlm", "--dataset", "set12", "--sigma", "25", "--limit", "1",
                 "--self-ensemble"]) == 1
    assert "self_ensemble=True" in capsys.readouterr().err


@pytest.mark.data
def test_inpainting_self_ensemble_from_the_command_line(tmp_path, capsys):
    keras = pytest.importorskip("keras")
    from tfimage.networks.unet import build_unet

    require_set("cbsd68")
    keras.utils.set_random_seed(0)
    model_path = str(tmp_path / "tiny.keras")
    build_unet(1, filters=(4, 8), extra_inputs=1).save(model_path)
    records = []
    for extra in ([], ["--self-ensemble"]):
        assert main(["evaluate", "inpaint", "--model", model_path, "--dataset", "cbsd68", "--limit", "1",
                     "--json", *extra]) == 0
        records.append(_last_json(capsys)[0])
    assert "self_ensemble" not in records[0] and records[1]["self_ensemble"] == 8
    assert records[0]["psnr_input"] == records[1]["psnr_input"] and records[0]["psnr"] != records[1]["psnr"]
    assert main(["evaluate", "inpaint", "--model", "ns", "--dataset", "cbsd68", "--limit", "1",
                 "--self-ensemble"]) == 1
    assert "self_ensemble=True" in capsys.readouterr().err


@pytest.mark.data
def test_sr_self_ensemble_helps_the_shipped_x4_on_set5(capsys):
    require_set("set5")
    records = []
    for extra in ([], ["--self-ensemble"]):
        assert main(["evaluate", "sr", "--model", "tfimage-sr-x4", "--dataset", "set5", "--scale", "4",
                     "--limit", "2", "--json", *extra]) == 0
        records.append(_last_json(capsys)[0])
    assert records[1]["self_ensemble"] == 8
    assert records[0]["psnr"] + 0.02 < records[1]["psnr"] < records[0]["psnr"] + 0.5


@pytest.mark.data
def test_color_symmetries_in_evaluate(capsys):
    require_set("cbsd68")
    assert main(["evaluate", "denoise", "--model", "tfimage-color-blind", "--dataset", "cbsd68", "--sigma", "25",
                 "--limit", "1", "--self-ensemble", "--color-symmetries", "--json"]) == 0
    record, output = _last_json(capsys)
    assert record["self_ensemble"] == 8 and record["color_symmetries"] is True
    assert "(x8 self-ensemble, color symmetries)" in output[-2]
    assert np.isfinite(record["psnr"]) and record["psnr"] > 27.5  # measured 28.16 dB
