"""Tests of the official-weight import (skipped without the weight files)."""

import os

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("h5py")

from tfimage import pretrained, zoo  # noqa: E402
from tfimage.datasets import catalogue  # noqa: E402
from tfimage.io import read_image  # noqa: E402

SIGMA = 25.0 / 255.0


def _psnr(restored, clean):
    mse = np.mean((np.clip(restored, 0.0, 1.0) - clean) ** 2)
    return 10.0 * np.log10(1.0 / mse)


def _need(*names):
    for name in names:
        if catalogue.find_local(name) is None:
            pytest.skip(f"{name} not found locally (set TFIMAGE_DATA_DIR)")


def _noisy(clean, seed=0):
    # Noise added to the float image and not clipped, as in the papers.
    noise = np.random.default_rng(seed).normal(0.0, SIGMA, clean.shape)
    return (clean + noise).astype(np.float32)


def _set12_01():
    _need("set12")
    return read_image(os.path.join(catalogue.find_local("set12"), "01.png"), channels=1)


def _cbsd68_crop():
    _need("cbsd68")
    path = catalogue.image_paths("cbsd68", download=False)[0]
    return read_image(path, channels=3)[:128, :128]


@pytest.mark.data
def test_dncnn_s25_denoises_set12():
    _need("dncnn_matconvnet")
    clean = _set12_01()
    noisy = _noisy(clean)
    model = zoo.load("dncnn-s25")
    restored = np.asarray(model(noisy[None], training=False))[0]
    assert restored.shape == clean.shape
    assert _psnr(restored, clean) > 29.5
    assert _psnr(restored, clean) - _psnr(noisy, clean) > 9.0


@pytest.mark.data
def test_ffdnet_gray_denoises_set12():
    _need("ffdnet_matconvnet")
    clean = _set12_01()
    noisy = _noisy(clean)
    model = zoo.load("ffdnet-gray")
    restored = np.asarray(model([noisy[None], np.full((1, 1), SIGMA, np.float32)]))[0]
    assert _psnr(restored, clean) > 29.5
    assert _psnr(restored, clean) - _psnr(noisy, clean) > 9.0


@pytest.mark.parametrize("name", ["cdncnn-b", "ffdnet-color"])
@pytest.mark.data
def test_color_models_denoise_cbsd68(name):
    _need("dncnn_matconvnet" if name == "cdncnn-b" else "ffdnet_matconvnet")
    clean = _cbsd68_crop()
    noisy = _noisy(clean)
    model = pretrained.load_official(name)
    inputs = noisy[None]
    if pretrained.MODELS[name]["noise_level_input"]:
        inputs = [inputs, np.full((1, 1), SIGMA, np.float32)]
    restored = np.asarray(model(inputs))[0]
    assert restored.shape == (128, 128, 3)
    assert _psnr(restored, clean) - _psnr(noisy, clean) > 8.0


def test_load_official_refuses_other_names():
    with pytest.raises(ValueError, match="official model.*name='nope'"):
        pretrained.load_official("nope")
    assert pretrained.MODELS["dncnn-s25"]["sigma"] == 25
    assert pretrained.MODELS["ffdnet-color"]["noise_level_input"] is True


def test_kernel_conversion_reverses_the_axes():
    # A gray output layer: MATLAB (3, 3, 4, 1) stored in HDF5 as (4, 3, 3).
    stored = np.random.default_rng(0).random((4, 3, 2)).astype(np.float32)
    kernel = pretrained.convert_matconvnet_kernel(stored)
    assert kernel.shape == (2, 3, 4, 1)
    assert kernel[1, 2, 3, 0] == stored[3, 2, 1]


@pytest.mark.data
def test_wrong_weights_raise(tmp_path):
    _need("dncnn_matconvnet")
    from tfimage.networks.dncnn import build_dncnn

    path = os.path.join(catalogue.find_local("dncnn_matconvnet"), "sigma=25.mat")
    pairs = pretrained.matconvnet_conv_weights(path)
    assert len(pairs) == 17
    assert pairs[0][0].shape == (3, 3, 1, 64) and pairs[-1][0].shape == (3, 3, 64, 1)
    with pytest.raises(ValueError, match="convolutions"):
        pretrained.set_conv_weights(build_dncnn(depth=20), pairs, source=path)


def test_dncnn_with_a_noise_map_takes_the_level_as_a_last_channel_and_round_trips(tmp_path):
    from conftest import assert_keras_round_trip
    from tfimage.inference import restore
    from tfimage.networks.dncnn import build_dncnn

    network = build_dncnn(depth=3, filters=4, channels=3, noise_map=True, residual=False, name="tiny_fdncnn")
    assert [tuple(item.shape) for item in network.inputs] == [(None, None, None, 3), (None, 1)]
    assert network.get_layer("conv1").kernel.shape == (3, 3, 4, 4)  # 3 image channels + the map
    assert not any(layer.__class__.__name__ == "Subtract" for layer in network.layers)
    image = np.random.default_rng(0).random((1, 20, 18, 3)).astype(np.float32)
    low, high = (np.asarray(network([image, np.full((1, 1), level, np.float32)])) for level in (0.0, 0.5))
    assert low.shape == image.shape and np.abs(low - high).max() > 0  # the level is used
    assert_keras_round_trip(network, [image, np.full((1, 1), 0.1, np.float32)], tmp_path=tmp_path, atol=1e-6)
    restored = restore(network, image[0], task="denoise", noise_level=0.1)
    assert restored.shape == (20, 18, 3)


@pytest.mark.data
def test_dncnn3_layout_and_bsd68_sigma25_on_two_images():
    _need("dncnn_matconvnet", "bsd68")
    from tfimage import evaluation

    model = zoo.load("dncnn-3")
    assert len(model.inputs) == 1 and model.inputs[0].shape[-1] == 1
    assert len([layer for layer in model.layers if "conv" in layer.name or layer.name == "noise"]) == 20
    noisy = evaluation.evaluate("noisy", "bsd68", sigma=25, limit=2)
    result = evaluation.evaluate(model, "bsd68", sigma=25, limit=2)
    assert result["psnr"] > 27.0 and result["psnr"] - noisy["psnr"] > 6.5  # the noisy floor is clipped to [0, 1]


@pytest.mark.data
@pytest.mark.slow
def test_dncnn3_matches_the_published_bsd68_sigma25():
    _need("dncnn_matconvnet", "bsd68")
    from tfimage import evaluation

    result = evaluation.evaluate("dncnn-3", "bsd68", sigma=25)
    assert result["images"] == 68
    assert result["psnr"] == pytest.approx(pretrained.MODELS["dncnn-3"]["published"]["bsd68"][25], abs=0.05)


@pytest.mark.data
def test_fdncnn_gray_denoises_set12_with_the_noise_level_map():
    _need("dncnn_matconvnet")
    from tfimage.inference import restore

    clean = _set12_01()
    noisy = _noisy(clean)
    model = zoo.load("fdncnn-gray")
    assert [item.shape[-1] for item in model.inputs] == [1, 1]
    restored = restore(model, noisy, task="denoise", noise_level=SIGMA)
    assert _psnr(restored, clean) > 29.5
    assert _psnr(restored, clean) - _psnr(noisy, clean) > 9.0
    wrong_level = restore(model, noisy, task="denoise", noise_level=5 / 255)
    assert _psnr(restored, clean) - _psnr(wrong_level, clean) > 2.0  # the map is used


@pytest.mark.data
def test_fdncnn_color_denoises_a_cbsd68_crop():
    _need("dncnn_matconvnet")
    from tfimage.inference import restore

    clean = _cbsd68_crop()
    noisy = _noisy(clean)
    restored = restore(pretrained.load_official("fdncnn-color"), noisy, task="denoise", noise_level=SIGMA)
    assert restored.shape == (128, 128, 3)
    assert _psnr(restored, clean) - _psnr(noisy, clean) > 8.0
