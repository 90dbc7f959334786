"""Pretrained models: the authors' official weights, imported into Keras.

`MODELS` lists the official models, one plain dict per name;
`load_official(name)` returns a ready Keras model (`tfimage.zoo.load`
resolves every model name, these included). The official DnCNN and FFDNet
releases are MatConvNet `.mat` files (MATLAB v7.3, i.e. HDF5); they are read
with h5py from the folders that `tfimage.datasets.catalogue.locate` resolves
(and downloads when online), and their convolutions are copied one by one
into the networks of `tfimage.networks`.

References:
    K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, "Beyond a Gaussian Denoiser:
    Residual Learning of Deep CNN for Image Denoising", IEEE TIP 26(7), 2017.
    K. Zhang, W. Zuo, L. Zhang, "FFDNet: Toward a Fast and Flexible Solution
    for CNN-Based Image Denoising", IEEE TIP 27(9), 2018.
"""

import os

import numpy as np

DNCNN_PAPER = (
    "K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, 'Beyond a Gaussian Denoiser: "
    "Residual Learning of Deep CNN for Image Denoising', IEEE TIP 26(7), 2017."
)
FFDNET_PAPER = (
    "K. Zhang, W. Zuo, L. Zhang, 'FFDNet: Toward a Fast and Flexible Solution "
    "for CNN-Based Image Denoising', IEEE TIP 27(9), 2018."
)

# name -> spec. Every entry has "kind", "description", "channels", "noise_level_input",
# "sigma" (the noise level the model was trained for; None when it covers a
# range: blind models, or models that take the noise level as an input),
# "paper" and "published" (PSNRs in dB reported in the paper, by test set and
# sigma on the 0-255 scale). Entries with "format": "matconvnet" are built by
# `load` from "architecture"/"depth"/"filters" and the weight "file" of the
# catalogue set "weights"; DnCNN entries may add "noise_map" and "residual"
# (`build_dncnn`'s arguments: FDnCNN takes a noise-level map and is not residual).
MODELS = {
    "dncnn-s15": {
        "kind": "pretrained",
        "description": "DnCNN-S, gray, trained for sigma 15 (17 layers)",
        "channels": 1,
        "noise_level_input": False,
        "sigma": 15,
        "paper": DNCNN_PAPER,
        "published": {"set12": {15: 32.86}, "bsd68": {15: 31.73}},
        "format": "matconvnet",
        "weights": "dncnn_matconvnet",
        "file": "sigma=15.mat",
        "architecture": "dncnn",
        "depth": 17,
        "filters": 64,
    },
    "dncnn-s25": {
        "kind": "pretrained",
        "description": "DnCNN-S, gray, trained for sigma 25 (17 layers)",
        "channels": 1,
        "noise_level_input": False,
        "sigma": 25,
        "paper": DNCNN_PAPER,
        "published": {"set12": {25: 30.44}, "bsd68": {25: 29.23}},
        "format": "matconvnet",
        "weights": "dncnn_matconvnet",
        "file": "sigma=25.mat",
        "architecture": "dncnn",
        "depth": 17,
        "filters": 64,
    },
    "dncnn-s50": {
        "kind": "pretrained",
        "description": "DnCNN-S, gray, trained for sigma 50 (17 layers)",
        "channels": 1,
        "noise_level_input": False,
        "sigma": 50,
        "paper": DNCNN_PAPER,
        "published": {"set12": {50: 27.18}, "bsd68": {50: 26.23}},
        "format": "matconvnet",
        "weights": "dncnn_matconvnet",
        "file": "sigma=50.mat",
        "architecture": "dncnn",
        "depth": 17,
        "filters": 64,
    },
    "dncnn-b": {
        "kind": "pretrained",
        "description": "DnCNN-B, gray, blind: one model for sigma 0-55 (20 layers)",
        "channels": 1,
        "noise_level_input": False,
        "sigma": None,
        "sigma_range": (0, 55),
        "paper": DNCNN_PAPER,
        "published": {
            "set12": {15: 32.68, 25: 30.36, 50: 27.21},
            "bsd68": {15: 31.61, 25: 29.16, 50: 26.23},
        },
        "format": "matconvnet",
        "weights": "dncnn_matconvnet",
        "file": "GD_Gray_Blind.mat",
        "architecture": "dncnn",
        "depth": 20,
        "filters": 64,
    },
    "cdncnn-b": {
        "kind": "pretrained",
        "description": "CDnCNN-B, color, blind: one model for sigma 0-55 (20 layers)",
        "channels": 3,
        "noise_level_input": False,
        "sigma": None,
        "sigma_range": (0, 55),
        "paper": DNCNN_PAPER,
        "published": {"cbsd68": {15: 33.89, 25: 31.23, 35: 29.58, 50: 27.92}},
        "format": "matconvnet",
        "weights": "dncnn_matconvnet",
        "file": "GD_Color_Blind.mat",
        "architecture": "dncnn",
        "depth": 20,
        "filters": 64,
    },
    "dncnn-3": {
        "kind": "pretrained",
        "description": "DnCNN-3, gray (Y): one model for denoising (sigma 0-55), SR (bicubic-upsampled input) "
        "and JPEG deblocking (20 layers)",
        "channels": 1,
        "noise_level_input": False,
        "sigma": None,
        "sigma_range": (0, 55),
        "paper": DNCNN_PAPER,
        # DnCNN README (cszn/DnCNN), DnCNN-3 tables: BSD68 by sigma; LIVE1 (Y channel) by JPEG quality.
        "published": {
            "bsd68": {15: 31.46, 25: 29.02, 50: 26.10},
            "live1": {10: 29.19, 20: 31.59, 30: 32.98, 40: 33.96},
            "set5": {2: 37.58, 3: 33.75, 4: 31.40},
        },
        "format": "matconvnet",
        "weights": "dncnn_matconvnet",
        "file": "DnCNN3.mat",
        # super-resolution: the network restores the bicubic-upsampled image (tasks.super_resolution)
        "sr_input": "bicubic",
        "architecture": "dncnn",
        "depth": 20,
        "filters": 64,
    },
    "fdncnn-gray": {
        "kind": "pretrained",
        "description": "FDnCNN, gray, noise level as input (a map channel, full resolution), sigma 0-75 (20 layers)",
        "channels": 1,
        "noise_level_input": True,
        "sigma": None,
        "sigma_range": (0, 75),
        "paper": DNCNN_PAPER,
        # DnCNN README (cszn/DnCNN), the FDnCNN column of the BSD68 table.
        "published": {"bsd68": {15: 31.69, 25: 29.22, 50: 26.27}},
        "format": "matconvnet",
        "weights": "dncnn_matconvnet",
        "file": "FDnCNN_gray.mat",
        "architecture": "dncnn",
        "depth": 20,
        "filters": 64,
        "noise_map": True,
        "residual": False,
    },
    "fdncnn-color": {
        "kind": "pretrained",
        "description": "FDnCNN, color, noise level as input (a map channel, full resolution), sigma 0-75 (20 layers)",
        "channels": 3,
        "noise_level_input": True,
        "sigma": None,
        "sigma_range": (0, 75),
        "paper": DNCNN_PAPER,
        "published": {},  # the DnCNN README states no color FDnCNN numbers
        "format": "matconvnet",
        "weights": "dncnn_matconvnet",
        "file": "FDnCNN_color.mat",
        "architecture": "dncnn",
        "depth": 20,
        "filters": 64,
        "noise_map": True,
        "residual": False,
    },
    "ffdnet-gray": {
        "kind": "pretrained",
        "description": "FFDNet, gray, noise level as input, sigma 0-75 (15 layers)",
        "channels": 1,
        "noise_level_input": True,
        "sigma": None,
        "sigma_range": (0, 75),
        "paper": FFDNET_PAPER,
        "published": {
            "set12": {15: 32.75, 25: 30.43, 50: 27.32},
            "bsd68": {15: 31.63, 25: 29.19, 35: 27.73, 50: 26.29, 75: 24.79},
        },
        "format": "matconvnet",
        "weights": "ffdnet_matconvnet",
        "file": "FFDNet_gray.mat",
        "architecture": "ffdnet",
        "depth": 15,
        "filters": 64,
    },
    "ffdnet-color": {
        "kind": "pretrained",
        "description": "FFDNet, color, noise level as input, sigma 0-75 (12 layers)",
        "channels": 3,
        "noise_level_input": True,
        "sigma": None,
        "sigma_range": (0, 75),
        "paper": FFDNET_PAPER,
        "published": {
            "cbsd68": {15: 33.87, 25: 31.21, 35: 29.58, 50: 27.96, 75: 26.24},
        },
        "format": "matconvnet",
        "weights": "ffdnet_matconvnet",
        "file": "FFDNet_color.mat",
        "architecture": "ffdnet",
        "depth": 12,
        "filters": 96,
    },
}


def _mat_string(dataset):
    """Decodes a MATLAB char array (uint16 codes) stored in HDF5."""
    return "".join(chr(code) for code in np.asarray(dataset).ravel())


def read_matconvnet_layers(path):
    """Reads the layers of a MatConvNet simplenn network saved as MATLAB v7.3.

    Args:
        path: a `.mat` file (HDF5) holding a struct `net` with field `layers`.

    Returns:
        A list with one dict per layer, in order: "type" and "name" (str),
        "weights" (a list of float32 arrays exactly as stored in HDF5, i.e.
        MATLAB's axes reversed; empty for layers without weights) and, when
        present, "scale" (float, for `SubP` layers).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a MatConvNet v7.3 network.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Weight file not found. Received: path={path}")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise ValueError(
            f"Not a MATLAB v7.3 (HDF5) file ({error}). Received: path={path}"
        ) from None
    with handle:
        if "net" not in handle or "layers" not in handle["net"]:
            raise ValueError(
                f"Expected a MatConvNet network with net.layers. Received: path={path}"
            )
        layers = []
        for reference in handle["net"]["layers"][()].ravel():
            group = handle[reference]
            layer = {
                "type": _mat_string(group["type"][()]),
                "name": _mat_string(group["name"][()]) if "name" in group else "",
                "weights": [],
            }
            if "weights" in group:
                cell = group["weights"]
                if cell.dtype == object:  # a cell of references; empty cells are not
                    layer["weights"] = [
                        np.asarray(handle[item][()], dtype=np.float32)
                        for item in cell[()].ravel()
                    ]
            if "scale" in group:
                layer["scale"] = float(np.asarray(group["scale"][()]).ravel()[0])
            layers.append(layer)
    return layers


def convert_matconvnet_kernel(weights):
    """Converts a MatConvNet filter bank as stored in HDF5 to a Keras kernel.

    MATLAB stores filters as (H, W, Cin, Cout); HDF5 holds them with the axes
    reversed, (Cout, Cin, W, H), and MATLAB drops trailing singleton axes
    (leading ones here), e.g. a gray output layer comes as (Cin, W, H).

    Args:
        weights: the stored array.

    Returns:
        A float32 (H, W, Cin, Cout) kernel for `keras.layers.Conv2D`.
    """
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim > 4:
        raise ValueError(
            f"Expected a filter bank of at most 4 axes. Received: shape={weights.shape}"
        )
    while weights.ndim < 4:
        weights = weights[None]
    return np.ascontiguousarray(np.transpose(weights, (3, 2, 1, 0)))


def matconvnet_conv_weights(path):
    """The convolutions of a MatConvNet network as Keras (kernel, bias) pairs.

    Args:
        path: a MatConvNet `.mat` file (MATLAB v7.3).

    Returns:
        A list of (kernel, bias) pairs in layer order: kernel float32 of shape
        (3, 3, Cin, Cout) (HWIO), bias float32 of shape (Cout,).
    """
    pairs = []
    for layer in read_matconvnet_layers(path):
        if layer["type"] != "conv":
            continue
        if len(layer["weights"]) != 2:
            raise ValueError(
                "Expected a convolution with filters and biases. Received: "
                f"layer={layer['name']!r} with {len(layer['weights'])} weight arrays "
                f"in path={path}"
            )
        kernel = convert_matconvnet_kernel(layer["weights"][0])
        bias = np.asarray(layer["weights"][1], dtype=np.float32).ravel()
        pairs.append((kernel, bias))
    return pairs


def set_conv_weights(model, pairs, source="weights"):
    """Copies (kernel, bias) pairs into the Conv2D layers of `model`, in order.

    Args:
        model: a Keras model whose Conv2D layers all have biases.
        pairs: a list of (kernel, bias) pairs, one per Conv2D layer.
        source: what to call the weights in error messages.

    Returns:
        The model.

    Raises:
        ValueError: the number or shapes of the convolutions differ.
    """
    import keras

    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    if len(convs) != len(pairs):
        raise ValueError(
            f"The model has {len(convs)} convolutions but the weights hold "
            f"{len(pairs)}. Received: source={source}"
        )
    for layer, (kernel, bias) in zip(convs, pairs):
        expected = [tuple(weight.shape) for weight in layer.get_weights()]
        if expected != [kernel.shape, bias.shape]:
            raise ValueError(
                f"Layer {layer.name} expects weights of shapes {expected}. Received: "
                f"shapes {[kernel.shape, bias.shape]} from source={source}"
            )
        layer.set_weights([kernel, bias])
    return model


def _build(spec, name):
    model_name = name.replace("-", "_")
    if spec["architecture"] == "dncnn":
        from tfimage.networks.dncnn import build_dncnn

        return build_dncnn(
            depth=spec["depth"],
            filters=spec["filters"],
            channels=spec["channels"],
            batch_norm=False,
            noise_map=spec.get("noise_map", False),
            residual=spec.get("residual", True),
            name=model_name,
        )
    if spec["architecture"] == "ffdnet":
        from tfimage.networks.ffdnet import build_ffdnet

        return build_ffdnet(
            channels=spec["channels"],
            depth=spec["depth"],
            filters=spec["filters"],
            name=model_name,
        )
    raise ValueError(
        f"Unknown architecture. Expected 'dncnn' or 'ffdnet'. "
        f"Received: architecture={spec['architecture']!r}"
    )


def load_official(name, data_dir=None):
    """Builds the Keras network of an official model of `MODELS` and copies its weights in.

    Args:
        name: a key of `MODELS` (e.g. "dncnn-s25", "ffdnet-color").
        data_dir: a folder holding the weight folders (`DnCNN_MatConvNet/`,
            `FFDNet_MatConvNet/`); otherwise `TFIMAGE_DATA_DIR`, the user
            cache and finally a download are tried (see
            `tfimage.datasets.catalogue.locate`).

    Returns:
        A `keras.Model`. DnCNN models (DnCNN-3 too) map a degraded (batch, H,
        W, C) image in [0, 1] to the restored image; FFDNet and FDnCNN models take
        `[image, noise_level]` with noise_level of shape (batch, 1) holding
        sigma / 255.

    Raises:
        ValueError: unknown name, or weights that do not fit the network.
        FileNotFoundError: the weights cannot be found.
    """
    if name not in MODELS:
        raise ValueError(f"Unknown official model. Expected one of {sorted(MODELS)}. Received: name={name!r}")
    spec = MODELS[name]
    from tfimage.datasets import catalogue

    folder = catalogue.locate(spec["weights"], data_dir=data_dir)
    path = os.path.join(folder, spec["file"])
    model = _build(spec, name)
    set_conv_weights(model, matconvnet_conv_weights(path), source=path)
    return model
