"""Tests of super-resolution: ESPCN, the bicubic baseline, the Set5 convention and the CLI."""

import json
import os

import numpy as np
import pytest

from conftest import mean_of_undone_views, require_set

keras = pytest.importorskip("keras")

from tfimage import io, restoration_tasks  # noqa: E402
from tfimage.networks.espcn import build_espcn  # noqa: E402


def _cli(argv, monkeypatch):
    from tfimage.cli.main import main

    return main(argv)


def _set5_image(index=0):
    folder = require_set("set5")
    paths = io.list_images(folder)
    return paths[index], io.read_image(paths[index])


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_espcn_upscales_by_its_scale(scale):
    model = build_espcn(scale, channels=3, filters=(8, 4))
    output = np.asarray(model(np.random.default_rng(0).random((2, 7, 9, 3), dtype=np.float32)))
    assert output.shape == (2, 7 * scale, 9 * scale, 3)
    assert restoration_tasks.model_scale(model) == scale
    assert [layer.kernel_size for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [
        (5, 5), (3, 3), (3, 3)
    ]


def test_bicubic_on_a_set5_image_matches_skimage_with_y_channel_and_border_crop():
    from skimage.color import rgb2ycbcr
    from skimage.metrics import peak_signal_noise_ratio

    path, image = _set5_image(0)
    hr, lr = restoration_tasks.sr_pair(image[:255, :253], 4)
    assert hr.shape == (252, 252, 3) and lr.shape == (63, 63, 3)
    sr = restoration_tasks.upscale_image(restoration_tasks.Bicubic(), lr, 4)
    assert sr.shape == hr.shape
    value, ssim = restoration_tasks.sr_metrics(hr, sr, 4)
    assert 25.0 < value < 40.0 and 0.7 < ssim < 1.0
    y_hr = rgb2ycbcr(hr.astype(np.float64))[4:-4, 4:-4, 0] / 255.0
    y_sr = rgb2ycbcr(sr.astype(np.float64))[4:-4, 4:-4, 0] / 255.0
    assert value == pytest.approx(peak_signal_noise_ratio(y_hr, y_sr, data_range=1.0), abs=0.01)
    rgb_no_crop = peak_signal_noise_ratio(hr.astype(np.float64), sr.astype(np.float64), data_range=1.0)
    assert abs(value - rgb_no_crop) > 0.1  # the convention changes the number
    evaluated = restoration_tasks.evaluate_sr("bicubic", [path], 4)
    full_hr, full_lr = restoration_tasks.sr_pair(image, 4)
    full = restoration_tasks.sr_metrics(full_hr, restoration_tasks.Bicubic().predict_image(full_lr, scale=4), 4)
    assert evaluated["psnr"] == pytest.approx(full[0], abs=1e-4)


def test_bicubic_set5_is_close_to_the_published_numbers():
    require_set("set5")
    published = restoration_tasks.TASK_BASELINES["bicubic"]["published"]["set5"]
    for scale in (2, 4):
        result = restoration_tasks.evaluate_sr("bicubic", "set5", scale)
        assert result["images"] == 5
        # TF's antialiased bicubic instead of MATLAB imresize: close, not identical.
        assert abs(result["psnr"] - published[scale]) < 0.3


def test_scales_outside_2_3_4_are_refused():
    lr = np.zeros((16, 16, 3), np.float32)
    for call in (
        lambda: restoration_tasks.upscale_image(restoration_tasks.Bicubic(), lr, 5),
        lambda: restoration_tasks.evaluate_sr("bicubic", "set5", 1),
        lambda: build_espcn(8),
        lambda: restoration_tasks.sr_degradation(6),
    ):
        with pytest.raises(ValueError, match="scale="):
            call()
    with pytest.raises(ValueError, match="upscales by 2.*scale=4"):
        restoration_tasks.upscale_image(build_espcn(2, filters=(4, 4)), lr, 4)


def test_espcn_trains_with_the_restorer_and_round_trips(tmp_path):
    from tfimage.datasets import pipelines
    from tfimage.models.restorer import Restorer

    images = [np.random.default_rng(i).random((40, 40, 3), dtype=np.float32) for i in range(2)]
    dataset = pipelines.restoration_dataset(
        images, restoration_tasks.sr_degradation(2), patch_size=32, batch_size=2, channels=3
    )
    (low, high) = next(iter(dataset))
    assert low.shape == (2, 16, 16, 3) and high.shape == (2, 32, 32, 3)
    network = build_espcn(2, filters=(8, 4))
    restorer = Restorer(network)
    restorer.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = restorer.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["psnr"][0])
    path = str(tmp_path / "espcn.keras")
    network.save(path)
    loaded = restoration_tasks.load_model(path)
    lr = images[0][:10, :12]
    np.testing.assert_allclose(
        restoration_tasks.upscale_image(loaded, lr, 2), restoration_tasks.upscale_image(restorer, lr, 2), atol=1e-6
    )


def test_cli_upscale_and_evaluate_sr(tmp_path, monkeypatch, capsys):
    _, image = _set5_image(1)
    source = str(tmp_path / "small.png")
    io.write_image(source, image[:30, :41])
    out = str(tmp_path / "big.png")
    assert _cli(["upscale", source, "--scale", "3", "-o", out], monkeypatch) == 0
    assert io.read_image(out).shape == (90, 123, 3)
    assert _cli(["upscale", source, "--scale", "5", "-o", out], monkeypatch) == 1
    assert "scale=5" in capsys.readouterr().err
    code = _cli(["evaluate", "sr", "--model", "bicubic", "--dataset", "set5", "--scale", "4", "--limit", "2",
                 "--json"], monkeypatch)
    assert code == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["model"] == "bicubic" and record["images"] == 2 and record["scale"] == 4
    assert 20 < record["psnr"] < 40 and os.path.isfile(out)


def test_sr_self_ensemble_undoes_each_view_and_helps_the_shipped_x4(monkeypatch, capsys):
    keras.utils.set_random_seed(0)
    network = build_espcn(3, channels=1)
    low_res = np.random.default_rng(0).random((10, 13, 1)).astype(np.float32)
    expected = mean_of_undone_views(lambda view: np.asarray(network(view[None]))[0], low_res)
    ensemble = restoration_tasks.upscale_image(network, low_res, 3, self_ensemble=True)
    assert ensemble.shape == (30, 39, 1)
    np.testing.assert_allclose(ensemble, np.clip(expected, 0, 1), atol=1e-5)
    with pytest.raises(ValueError, match="self_ensemble=True"):
        restoration_tasks.upscale_image(restoration_tasks.load_model("bicubic"), low_res, 3, self_ensemble=True)
    records = []
    for extra in ([], ["--self-ensemble"]):
        assert _cli(["evaluate", "sr", "--model", "tfimage-sr-x4", "--dataset", "set5", "--scale", "4",
                     "--limit", "2", "--json", *extra], monkeypatch) == 0
        records.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert records[1]["self_ensemble"] == 8
    assert records[0]["psnr"] + 0.02 < records[1]["psnr"] < records[0]["psnr"] + 0.5
