"""Tests of inpainting: masks, the telea/ns baselines, U-Net inpainting, evaluation and the CLI."""

import json
import os

import numpy as np
import pytest

from conftest import mean_of_undone_views, require_set

keras = pytest.importorskip("keras")

from tfimage import degradations, inference, io, restoration_tasks  # noqa: E402
from tfimage.networks.unet import build_unet  # noqa: E402
from tfimage.models.restorer import Restorer  # noqa: E402


def _cli(argv, monkeypatch):
    from tfimage.cli.main import main

    return main(argv)


def _cbsd68_crop(size=96):
    folder = require_set("cbsd68")
    image = io.read_image(os.path.join(folder, sorted(os.listdir(folder))[0]), channels=3)
    return image[:size, :size]


@pytest.mark.parametrize("kind", ["strokes", "boxes"])
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5])
def test_masks_hit_the_hole_ratio_within_5_percent(kind, ratio):
    for seed in range(3):
        mask = degradations.random_mask(64, 80, ratio, seed=(seed, 1), kind=kind)
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert abs(mask.mean() - ratio) <= 0.05 * ratio


@pytest.mark.parametrize("name", ["telea", "ns"])
def test_baselines_fill_holes_better_than_the_masked_image(name):
    clean = _cbsd68_crop()
    mask = degradations.random_mask(96, 96, 0.25, seed=(0, 0))
    masked = clean * (1 - mask)
    baseline = restoration_tasks.load_model(name)
    assert baseline.task == "inpaint" and baseline.noise_level_input is False and baseline.description
    filled = restoration_tasks.inpaint_image(baseline, masked, mask)
    assert filled.shape == clean.shape and filled.dtype == np.float32
    np.testing.assert_array_equal(filled * (1 - mask), masked)  # known pixels untouched
    before = restoration_tasks.masked_psnr(clean, masked, mask)
    after = restoration_tasks.masked_psnr(clean, filled, mask)
    assert after > before + 5.0
    with pytest.raises(ValueError, match="mask=None"):  # a denoising call, without a mask
        baseline.predict_image(masked)


def test_masked_psnr_counts_only_the_holes():
    clean = np.zeros((10, 10, 3), np.float32)
    estimate = clean.copy()
    mask = np.zeros((10, 10, 1), np.float32)
    mask[:5] = 1
    estimate[:5] = 0.1  # error 0.1 in the holes only
    estimate[5:] = 0.0
    assert restoration_tasks.masked_psnr(clean, estimate, mask) == pytest.approx(20.0)
    assert np.isnan(restoration_tasks.masked_psnr(clean, estimate, np.zeros_like(mask)))


def test_mask_errors_name_the_file(tmp_path):
    mask = np.zeros((16, 20, 1), np.float32)
    mask[4:8, 4:8] = 1
    good = str(tmp_path / "good.png")
    io.write_image(good, mask)
    assert restoration_tasks.read_mask(good, size=(16, 20)).sum() == 16
    with pytest.raises(ValueError, match="good.png") as error:
        restoration_tasks.read_mask(good, size=(16, 24))
    assert "20x16" in str(error.value) and "24x16" in str(error.value)
    gray = str(tmp_path / "gray.png")
    io.write_image(gray, mask * 0.5)
    with pytest.raises(ValueError, match="binary.*gray.png"):
        restoration_tasks.read_mask(gray)
    with pytest.raises(ValueError, match="mask=None"):
        restoration_tasks.check_mask(None)


def test_unet_inpaints_after_a_training_step_and_keeps_known_pixels():
    images = [np.random.default_rng(i).random((40, 40, 1), dtype=np.float32) for i in range(2)]
    from tfimage.datasets import pipelines

    dataset = pipelines.restoration_dataset(
        images, restoration_tasks.inpainting_degradation(0.25), patch_size=32, batch_size=2, channels=1
    )
    (masked, mask), clean = next(iter(dataset))
    assert mask.shape == (2, 32, 32, 1)
    assert abs(float(np.mean(mask)) - 0.25) <= 0.0125
    np.testing.assert_allclose(np.asarray(masked), np.asarray(clean) * (1 - np.asarray(mask)))
    network = build_unet(1, filters=(4, 8), extra_inputs=1)
    restorer = Restorer(network, noise_level_input=True)  # the mask passes through
    restorer.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = restorer.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])
    config = restorer.get_config()
    assert type(restorer).from_config(config).network.name == network.name
    image = images[0][:33, :37]
    hole = degradations.random_mask(33, 37, 0.3, seed=1)
    filled = restoration_tasks.inpaint_image(restorer, image * (1 - hole), hole)
    assert filled.shape == (33, 37, 1)
    np.testing.assert_allclose(filled * (1 - hole), image * (1 - hole), atol=1e-6)


def test_an_image_too_small_for_the_encoder_is_refused():
    network = build_unet(3, encoder="mobilenetv3small", filters=(4, 4, 4, 4), extra_inputs=1)  # stride 16
    image = np.zeros((12, 40, 3), np.float32)
    with pytest.raises(ValueError, match="too small.*16x16.*image"):
        restoration_tasks.inpaint_image(network, image, np.zeros((12, 40, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[image, mask\]"):
        restoration_tasks.inpaint_image(build_unet(3, filters=(4, 8)), image[:, :16], np.zeros((12, 16)))


def test_evaluation_gives_every_model_the_same_masks():
    require_set("cbsd68")
    telea = restoration_tasks.evaluate_inpainting("telea", "cbsd68", 0.25, limit=2)
    ns = restoration_tasks.evaluate_inpainting(restoration_tasks.NavierStokes(), "cbsd68", 0.25, limit=2)
    assert telea["images"] == ns["images"] == 2
    for one, other in zip(telea["per_image"], ns["per_image"]):
        assert one["psnr_input"] == other["psnr_input"]
        assert abs(one["hole_fraction"] - 0.25) <= 0.0125
    assert telea["psnr_hole"] > telea["psnr_input"] + 5
    assert telea["psnr"] > telea["psnr_hole"]  # known pixels are exact
    other_seed = restoration_tasks.evaluate_inpainting("telea", "cbsd68", 0.25, limit=1, seed=1)
    assert other_seed["per_image"][0]["psnr_input"] != telea["per_image"][0]["psnr_input"]


def test_cli_inpaint_and_evaluate_inpaint(tmp_path, monkeypatch, capsys):
    clean = _cbsd68_crop(64)
    source = str(tmp_path / "photo.png")
    io.write_image(source, clean)
    mask = degradations.random_mask(64, 64, 0.2, seed=3)
    mask_path = str(tmp_path / "holes.png")
    io.write_image(mask_path, mask)
    out = str(tmp_path / "filled.png")
    assert _cli(["inpaint", source, "--mask", mask_path, "-o", out, "--model", "ns"], monkeypatch) == 0
    filled = io.read_image(out)
    assert restoration_tasks.masked_psnr(clean, filled, mask) > restoration_tasks.masked_psnr(
        clean, clean * (1 - mask), mask
    )
    small = str(tmp_path / "small_mask.png")
    io.write_image(small, mask[:32])
    assert _cli(["inpaint", source, "--mask", small, "-o", out], monkeypatch) == 1
    assert "small_mask.png" in capsys.readouterr().err
    code = _cli(
        ["evaluate", "inpaint", "--model", "telea", "--dataset", "cbsd68", "--hole-ratio", "0.25",
         "--limit", "1", "--json"], monkeypatch,
    )
    assert code == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("model", "dataset", "images", "psnr", "ssim", "seconds_per_image", "psnr_hole"):
        assert key in record
    assert record["model"] == "telea" and record["images"] == 1


def test_inpainting_self_ensemble_averages_the_undone_views(tmp_path, monkeypatch, capsys):
    require_set("cbsd68")
    keras.utils.set_random_seed(0)
    network = build_unet(1, filters=(4, 8), extra_inputs=1)
    image = np.random.default_rng(0).random((16, 24, 3)).astype(np.float32)  # a gray model, per channel
    hole = degradations.random_mask(16, 24, 0.3, seed=2)
    known = image * (1 - hole)

    def fill(view):  # R, G and B as three gray images; the mask is the last channel
        channels = np.transpose(view[..., :3], (2, 0, 1))[..., None]
        out = np.asarray(network([channels, np.repeat(view[None, ..., 3:], 3, axis=0)]))[..., 0]
        return np.transpose(out, (1, 2, 0))

    expected = np.clip(known + hole * mean_of_undone_views(fill, np.concatenate([known, hole], -1)), 0, 1)
    ensemble = restoration_tasks.inpaint_image(network, known, hole, self_ensemble=True)
    np.testing.assert_allclose(ensemble, expected, atol=1e-5)
    # Its UpSampling2D needs known sizes in a graph: each image size got its own trace instead.
    assert inference._GRAPH_CALLS[network].generic is None
    single = restoration_tasks.inpaint_image(network, known, hole)
    assert np.abs(ensemble - single).max() > 1e-4  # the U-Net is not flip-equivariant: the views differ
    with pytest.raises(ValueError, match="self_ensemble=True"):
        restoration_tasks.inpaint_image(restoration_tasks.load_model("telea"), known, hole, self_ensemble=True)
    model_path = str(tmp_path / "tiny.keras")
    network.save(model_path)
    records = []
    for extra in ([], ["--self-ensemble"]):
        assert _cli(["evaluate", "inpaint", "--model", model_path, "--dataset", "cbsd68", "--limit", "1",
                     "--json", *extra], monkeypatch) == 0
        records.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert "self_ensemble" not in records[0] and records[1]["self_ensemble"] == 8
    assert records[0]["psnr_input"] == records[1]["psnr_input"] and records[0]["psnr"] != records[1]["psnr"]
    assert _cli(["evaluate", "inpaint", "--model", "ns", "--dataset", "cbsd68", "--limit", "1",
                 "--self-ensemble"], monkeypatch) == 1
    assert "self_ensemble=True" in capsys.readouterr().err
