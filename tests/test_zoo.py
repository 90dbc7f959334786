"""Tests of the model zoo (`tfimage.zoo`): every name resolves in one place."""

import os

import numpy as np
import pytest

pytest.importorskip("keras")

from tfimage import baselines, pretrained, zoo  # noqa: E402
from tfimage.tasks import TASKS  # noqa: E402


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="name='nope'"):
        zoo.load("nope")


def test_registry_entries_are_complete():
    models = zoo.list_models()
    assert list(models)[: len(pretrained.MODELS)] == list(pretrained.MODELS)
    assert {"bm3d", "nlm", "noisy", "telea", "ns", "bicubic", "tfimage-gray-blind", "tfimage-sr-x4"} <= set(models)
    for name, spec in models.items():
        for key in ("kind", "description", "sigma"):
            assert key in spec, (name, key)
        if spec["kind"] == "pretrained":
            for key in ("channels", "noise_level_input", "paper"):
                assert key in spec, (name, key)
            assert spec["channels"] in (1, 3)
    assert {name for name, spec in models.items() if spec["kind"] == "ours"} == set(zoo.OUR_MODELS)
    assert pretrained.MODELS["dncnn-s25"]["sigma"] == 25
    assert pretrained.MODELS["ffdnet-color"]["noise_level_input"] is True
    assert models["bicubic"]["task"] == "sr" and models["telea"]["task"] == "inpaint"


def test_baselines_of_every_task_load_by_name():
    found = zoo.baselines()
    assert set(found) == {name for task in TASKS.values() for name in task.baselines}
    for name, spec in found.items():
        baseline = zoo.load(name)
        assert baseline.name == name and baseline.task == spec["task"]
        assert isinstance(baseline, spec["factory"]) and callable(baseline.predict_image)
    assert isinstance(zoo.load("ns"), baselines.NavierStokes) and isinstance(zoo.load("bicubic"), baselines.Bicubic)
    assert TASKS["sr"].load_baseline("bicubic").task == "sr" and TASKS["sr"].load_baseline("nlm") is None


def test_loaded_objects_pass_through():
    baseline = baselines.NLM()
    assert zoo.load(baseline) is baseline
    from tfimage.networks.dncnn import build_dncnn

    model = build_dncnn(depth=3, filters=4)
    assert zoo.load(model) is model


def test_keras_file_loads(tmp_path):
    from tfimage.networks.ffdnet import build_ffdnet

    model = build_ffdnet(channels=1, depth=3, filters=4)
    path = str(tmp_path / "tiny.keras")
    model.save(path)
    loaded = zoo.load(path)
    image = np.random.default_rng(0).random((1, 9, 11, 1)).astype(np.float32)
    sigma = np.full((1, 1), 0.1, np.float32)
    np.testing.assert_array_equal(np.asarray(loaded([image, sigma])), np.asarray(model([image, sigma])))
    direct = zoo.load_keras_file(path)
    np.testing.assert_array_equal(np.asarray(direct([image, sigma])), np.asarray(loaded([image, sigma])))
    with pytest.raises(FileNotFoundError):
        zoo.load(str(tmp_path / "missing.keras"))


def test_our_models_are_read_from_the_models_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TFIMAGE_MODELS_DIR", str(tmp_path))
    assert os.path.abspath(zoo.saved_models_dir()) == os.path.abspath(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="tfimage-sr-x4"):
        zoo.load("tfimage-sr-x4")
    from tfimage.networks.dncnn import build_dncnn

    build_dncnn(depth=3, filters=4).save(str(tmp_path / zoo.OUR_MODELS["tfimage-gray-blind"]["file"]))
    assert zoo.load("tfimage-gray-blind").name == "dncnn"
