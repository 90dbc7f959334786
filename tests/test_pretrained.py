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
