import csv

import pytest

from conftest import require_set
from tfimage import experiments
from tfimage.networks.dncnn import build_dncnn


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
