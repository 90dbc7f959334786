"""Tests of the blur kernels and their specs (`tfimage.kernels`)."""

import os

import numpy as np
import pytest

from conftest import require_set
from tfimage import kernels


def test_gaussian_and_motion_specs_are_normalised_centred_kernels():
    kernel = kernels.from_spec("gaussian:1.6")
    assert kernel.shape == (25, 25) and kernel.dtype == np.float32
    assert abs(kernel.sum() - 1) < 1e-6 and np.unravel_index(kernel.argmax(), kernel.shape) == (12, 12)
    np.testing.assert_allclose(kernel, kernel.T, atol=1e-9)
    horizontal = kernels.from_spec("motion:9,0")
    assert horizontal.shape == (9, 9) and abs(horizontal.sum() - 1) < 1e-6
    assert horizontal[4].sum() > 0.9  # the mass lies on the middle row
    vertical = kernels.from_spec("motion:9,90")
    np.testing.assert_allclose(vertical, horizontal.T, atol=1e-6)


def test_bicubic_kernel_sits_on_matlabs_sampling_grid():
    for scale in (2, 3, 4):
        kernel = kernels.from_spec("bicubic", scale=scale)
        rows = np.arange(kernel.shape[0])
        centroid = (kernel.sum(axis=1) * rows).sum()
        assert abs(centroid - (12 - (scale - 1) / 2)) < 1e-4
        assert kernel.min() < 0  # bicubic's negative lobes
    with pytest.raises(ValueError, match="scale"):
        kernels.from_spec("bicubic")


def test_kernel_files_in_three_formats(tmp_path):
    import cv2
    import scipy.io

    kernel = kernels.from_spec("motion:7,30")
    np.save(tmp_path / "k.npy", kernel * 3)
    with pytest.warns(UserWarning, match="normalised"):
        np.testing.assert_allclose(kernels.from_spec(str(tmp_path / "k.npy")), kernel, atol=1e-6)
    scipy.io.savemat(tmp_path / "k.mat", {"kernel": kernel.astype(np.float64)})
    np.testing.assert_allclose(kernels.from_spec(str(tmp_path / "k.mat")), kernel, atol=1e-6)
    png = np.round(kernel / kernel.max() * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "k.png"), png)
    with pytest.warns(UserWarning):
        from_png = kernels.from_spec(str(tmp_path / "k.png"))
    np.testing.assert_allclose(from_png, png / png.sum(), atol=1e-6)


@pytest.mark.parametrize(
    "spec, match",
    [("gaussian:-1", "sigma"), ("motion:0,10", "length"), ("levin:9", "1 to 8"), ("blur", "kernel spec"),
     ("gaussian:a", "kernel spec"), ("missing.npy", "not found"), ("motion:3", "kernel spec")],
)
def test_bad_specs_name_the_kernel(spec, match):
    with pytest.raises(ValueError, match=match):
        kernels.from_spec(spec)


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        kernels.check_kernel(np.ones((3, 3, 3)))
    with pytest.raises(ValueError, match="positive sum"):
        kernels.check_kernel(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        kernels.check_kernel(np.full((3, 3), np.nan))


@pytest.mark.data
def test_levin_kernels_are_matlabs_and_dpirs():
    folder = require_set("kernels")
    import scipy.io

    sizes = [kernels.from_spec(f"levin:{index}").shape for index in range(1, 9)]
    assert sizes == [(19, 19), (17, 17), (15, 15), (27, 27), (13, 13), (21, 21), (23, 23), (23, 23)]
    dpir = scipy.io.loadmat(os.path.join(folder, "kernels_12.mat"))["kernels"].ravel()
    for cell, index in ((8, 8), (9, 7)):  # DPIR's cells 9 and 10 are Levin's 8 and 7, padded at (1, 1)
        levin = kernels.from_spec(f"levin:{index}")
        np.testing.assert_allclose(dpir[cell][1 : 1 + levin.shape[0], 1 : 1 + levin.shape[1]], levin, atol=1e-7)
    for cell, sigma in enumerate((0.7, 1.2, 1.6, 2.0)):
        np.testing.assert_allclose(kernels.from_spec(f"gaussian:{sigma}"), dpir[cell], atol=1e-7)
    np.testing.assert_allclose(kernels.from_spec(os.path.join(folder, "kernels_12.mat") + ":3"), dpir[2], atol=1e-7)
    with pytest.raises(ValueError, match="cell array"):
        kernels.from_spec(os.path.join(folder, "kernels_12.mat"))
