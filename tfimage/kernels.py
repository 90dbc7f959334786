"""Blur kernels: the point-spread functions of deblurring and of SR with a known kernel.

A kernel is a float32 (h, w) NumPy array that sums to 1, applied as a
convolution (`scipy.ndimage.convolve(x, k, mode="wrap")`, MATLAB's
`imfilter(x, k, 'circular', 'conv')`), as IRCNN and DPIR do. `from_spec`
reads the command line's kernel specs:

- `levin:1` ... `levin:8`: Levin et al.'s motion kernels (the catalogue set
  "kernels", Levin09.mat, MATLAB v7.3 read with h5py);
- `gaussian:SIGMA`: an isotropic Gaussian, 25x25 (DPIR's kernels 1-4 are
  SIGMA 0.7, 1.2, 1.6 and 2.0);
- `motion:LENGTH,ANGLE`: a straight motion blur of LENGTH pixels at ANGLE
  degrees (counter-clockwise from the x axis);
- `bicubic`: the kernel that, followed by keeping every s-th pixel,
  approximates MATLAB's bicubic `imresize` by 1/s (needs `scale`);
- a file: `.png` (gray, scaled to sum 1), `.npy`, or `.mat` (the first 2-D
  numeric variable; `FILE.mat:N` picks cell N of a cell array such as
  DPIR's kernels_12.mat).

References:
    A. Levin, Y. Weiss, F. Durand, W. T. Freeman, "Understanding and evaluating
    blind deconvolution algorithms", CVPR 2009.
    K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play
    Image Restoration with Deep Denoiser Prior", IEEE TPAMI 44(10), 2021.
"""

import math
import os
import warnings

import numpy as np

GAUSSIAN_SIZE = 25
LEVIN_COUNT = 8
SPEC_HELP = (
    "levin:1..8, gaussian:SIGMA (25x25), motion:LENGTH,ANGLE, bicubic (SR), "
    "or a .png/.npy/.mat file (FILE.mat:N for cell N)"
)


def check_kernel(kernel, name="kernel"):
    """A float32 (h, w) kernel that sums to 1.

    A kernel whose sum is positive but not 1 is normalised with a warning.

    Raises:
        ValueError: not 2-D, empty, NaN/inf, or a sum that is not positive.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim == 3 and kernel.shape[2] == 1:
        kernel = kernel[:, :, 0]
    if kernel.ndim != 2 or kernel.size == 0:
        raise ValueError(f"A blur kernel is a 2-D array. Received: {name} with shape={kernel.shape}")
    if not np.all(np.isfinite(kernel)):
        raise ValueError(f"The blur kernel holds NaN or infinite values. Received: {name}")
    total = kernel.sum()
    if not total > 0:
        raise ValueError(f"A blur kernel must have a positive sum (it is normalised to 1). Received: {name} with sum={total:.6g}")
    if abs(total - 1.0) > 1e-3:
        warnings.warn(f"The blur kernel sums to {total:.6g}, not 1; it was normalised. Received: {name}", stacklevel=2)
    return (kernel / total).astype(np.float32)


def gaussian(sigma, size=GAUSSIAN_SIZE):
    """An isotropic Gaussian kernel of standard deviation `sigma` pixels, `size` x `size` (odd)."""
    from tfimage.degradations import gaussian_kernel

    sigma = float(sigma)
    if not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"The Gaussian kernel's sigma must be positive. Received: sigma={sigma}")
    return gaussian_kernel(sigma, size)


def motion(length, angle):
    """A straight motion blur: a line of `length` pixels at `angle` degrees.

    Points spaced 1/16 pixel along the line, centred on the middle pixel of
    an odd-sized square, are splatted bilinearly onto the pixel grid.
    """
    length, angle = float(length), float(angle)
    if not math.isfinite(length) or length < 1:
        raise ValueError(f"A motion blur's length is at least 1 pixel. Received: length={length}")
    if not math.isfinite(angle):
        raise ValueError(f"A motion blur's angle is in degrees. Received: angle={angle}")
    size = int(math.ceil(length)) | 1
    centre = size // 2
    steps = np.linspace(-(length - 1) / 2.0, (length - 1) / 2.0, max(2, int(16 * length)))
    columns = centre + steps * math.cos(math.radians(angle))
    rows = centre - steps * math.sin(math.radians(angle))
    kernel = np.zeros((size, size), np.float64)
    row0, column0 = np.floor(rows).astype(int), np.floor(columns).astype(int)
    row_weight, column_weight = rows - row0, columns - column0
    for d_row, d_column in ((0, 0), (0, 1), (1, 0), (1, 1)):
        weight = (row_weight if d_row else 1 - row_weight) * (column_weight if d_column else 1 - column_weight)
        np.add.at(kernel, (np.clip(row0 + d_row, 0, size - 1), np.clip(column0 + d_column, 0, size - 1)), weight)
    return (kernel / kernel.sum()).astype(np.float32)


def _cubic(x):
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's `imresize` bicubic)."""
    x = np.abs(x)
    return np.where(
        x <= 1, 1.5 * x**3 - 2.5 * x**2 + 1, np.where(x < 2, -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2, 0.0)
    )


def bicubic(scale, size=GAUSSIAN_SIZE):
    """The `size` x `size` kernel that, followed by `x[::scale, ::scale]`, is bicubic downscaling by 1/scale.

    Low-resolution pixel i is centred at high-resolution coordinate
    scale * i + (scale - 1) / 2, MATLAB `imresize`'s grid (DPIR's
    kernels_bicubicx234.mat approximate the same kernel).
    """
    from tfimage.degradations import check_scale

    scale = check_scale(scale)
    centre = size // 2
    offsets = centre - np.arange(size) - (scale - 1) / 2.0
    line = _cubic(offsets / scale) / scale
    kernel = np.outer(line, line)
    return (kernel / kernel.sum()).astype(np.float32)


def _kernels_file(name, data_dir=None):
    from tfimage.datasets import catalogue

    return os.path.join(catalogue.locate("kernels", data_dir=data_dir), name)


def levin(index, data_dir=None):
    """Levin et al.'s motion kernel `index` (1-8), in MATLAB's orientation, from Levin09.mat."""
    import h5py

    if isinstance(index, bool) or int(index) != index or not 1 <= int(index) <= LEVIN_COUNT:
        raise ValueError(f"Levin's kernels are numbered 1 to {LEVIN_COUNT}. Received: index={index!r}")
    with h5py.File(_kernels_file("Levin09.mat", data_dir), "r") as mat:
        reference = mat["kernels"][int(index) - 1, 0]
        kernel = np.asarray(mat[reference]).T  # HDF5 holds MATLAB's column-major array transposed
    return check_kernel(kernel, name=f"levin:{index}")


def _read_mat(path, index):
    """The kernel in a .mat file: its first 2-D numeric variable, or cell `index` (1-based) of a cell array."""
    import scipy.io

    try:
        variables = scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 is HDF5
        import h5py

        with h5py.File(path, "r") as mat:
            for key, value in mat.items():
                if key.startswith("#"):
                    continue
                if value.dtype == object or value.dtype.kind == "O":
                    if index is None:
                        raise ValueError(f"{path} holds a cell array of kernels: pick one as FILE.mat:N. Received: kernel={path}")
                    return np.asarray(mat[value[()].ravel()[index - 1]]).T
                return np.asarray(value).T
        raise ValueError(f"No kernel variable found. Received: kernel={path}")
    for key, value in variables.items():
        if key.startswith("__"):
            continue
        if value.dtype == object:
            cells = value.ravel()
            if index is None:
                raise ValueError(
                    f"{path} holds a cell array of {cells.size} kernels: pick one as FILE.mat:N. Received: kernel={path}"
                )
            if not 1 <= index <= cells.size:
                raise ValueError(f"{path} holds {cells.size} kernels, numbered from 1. Received: kernel={path}:{index}")
            return np.asarray(cells[index - 1], dtype=np.float64)
        if value.ndim == 2 and value.dtype.kind in "fiu":
            return value.astype(np.float64)
    raise ValueError(f"No 2-D numeric variable found in the .mat file. Received: kernel={path}")


def from_file(path, index=None):
    """A kernel read from a .png (gray), .npy or .mat file, normalised to sum 1."""
    if not os.path.isfile(path):
        raise ValueError(f"Kernel file not found. Received: kernel={path}")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".npy":
        kernel = np.load(path)
    elif extension == ".mat":
        kernel = _read_mat(path, index)
    elif extension in (".png", ".bmp", ".tif", ".tiff"):
        import cv2

        kernel = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if kernel is None:
            raise ValueError(f"The kernel image could not be decoded. Received: kernel={path}")
        if kernel.ndim == 3:
            if not all(np.array_equal(kernel[:, :, 0], kernel[:, :, c]) for c in range(1, min(3, kernel.shape[2]))):
                raise ValueError(f"A kernel image must be gray. Received: kernel={path} with shape={kernel.shape}")
            kernel = kernel[:, :, 0]
        kernel = kernel.astype(np.float64)
    else:
        raise ValueError(f"A kernel file is .png, .npy or .mat. Received: kernel={path}")
    return check_kernel(kernel, name=path)


def _numbers(text, count, spec):
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != count:
        raise ValueError(f"Expected a kernel spec like {SPEC_HELP}. Received: kernel={spec!r}")
    return values


def from_spec(spec, scale=None, data_dir=None):
    """The kernel a spec names (see the module docstring), or an array passed through `check_kernel`.

    Args:
        spec: a spec string, a path, or an array.
        scale: the SR scale, which `bicubic` needs.
        data_dir: where the catalogue set "kernels" is looked up first.

    Returns:
        A float32 (h, w) kernel summing to 1.
    """
    if not isinstance(spec, (str, os.PathLike)):
        return check_kernel(spec)
    spec = os.fspath(spec)
    kind, _, argument = spec.partition(":")
    if kind == "levin" and argument:
        try:
            index = int(argument)
        except ValueError:
            raise ValueError(f"Levin's kernels are levin:1 to levin:{LEVIN_COUNT}. Received: kernel={spec!r}") from None
        return levin(index, data_dir=data_dir)
    if kind == "gaussian" and argument:
        return gaussian(_numbers(argument, 1, spec)[0])
    if kind == "motion" and argument:
        length, angle = _numbers(argument, 2, spec)
        return motion(length, angle)
    if spec == "bicubic":
        if scale is None:
            raise ValueError("The bicubic kernel is one of super-resolution: pass a scale. Received: kernel='bicubic'")
        return bicubic(scale)
    base, _, cell = spec.rpartition(":")
    if base.lower().endswith(".mat") and cell.isdigit():
        return from_file(base, index=int(cell))
    if os.path.splitext(spec)[1]:
        return from_file(spec)
    raise ValueError(f"Expected a kernel spec: {SPEC_HELP}. Received: kernel={spec!r}")
