"""The catalogue of named benchmark sets and weight files, and where to find them.

Every entry of `CATALOGUE` is a plain dict: the folder name a set lives in,
its public source (per-file URLs checked against the sha256 sums recorded in
`checksums.json`, or one archive), what it holds and the paper to cite.

`locate(name)` resolves a set to a local folder, in this order:

1. the explicit `data_dir=` argument,
2. the `TFIMAGE_DATA_DIR` environment variable,
3. the user cache, `TFIMAGE_CACHE_DIR` or `~/.cache/tfimage`,
4. a download into the user cache from the public source.

A folder counts when it holds every file the set needs. Offline, the download
fails within seconds (each connection has a short timeout and nothing is
retried) with a message that says how to point tfimage at a local copy.
"""

import hashlib
import json
import os
import shutil
import socket
import tempfile
import urllib.error
import urllib.request
import zipfile

DATA_DIR_VARIABLE = "TFIMAGE_DATA_DIR"
CACHE_DIR_VARIABLE = "TFIMAGE_CACHE_DIR"
DOWNLOAD_TIMEOUT_SECONDS = 10

_DNCNN = "https://raw.githubusercontent.com/cszn/DnCNN/e93b27812d3ff523a3a79d19e5e50d233d7a8d0a/"
_FFDNET = "https://raw.githubusercontent.com/cszn/FFDNet/e787f46df2f374ff3591186706229cb9a0591fea/"
_KODAK = "https://raw.githubusercontent.com/coodie/quant/bc7affc715299a8d98403622918116b88657a8b8/"
_MNIST = "https://raw.githubusercontent.com/kelas/mnist/283b387221ab46655e600cfcc25d843bb14292b9/"
_IRCNN = "https://raw.githubusercontent.com/cszn/IRCNN/d9dcd537bdac3ae5b753296cd675db8a303c8f72/"
_DPIR = "https://raw.githubusercontent.com/cszn/DPIR/15bca3fcc1f3cc51a1f99ccf027691e278c19354/"
_PNP_PAPERS = (
    "K. Zhang, W. Zuo, S. Gu, L. Zhang, 'Learning Deep CNN Denoiser Prior for Image Restoration', "
    "CVPR 2017; K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, 'Plug-and-Play Image "
    "Restoration with Deep Denoiser Prior', IEEE TPAMI 44(10), 2021."
)

_DNCNN_PAPER = (
    "K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, 'Beyond a Gaussian Denoiser: "
    "Residual Learning of Deep CNN for Image Denoising', IEEE TIP 26(7), 2017."
)
_FFDNET_PAPER = (
    "K. Zhang, W. Zuo, L. Zhang, 'FFDNet: Toward a Fast and Flexible Solution "
    "for CNN-Based Image Denoising', IEEE TIP 27(9), 2018."
)

# name -> spec. "url" is a per-file URL template ({name} is each file of
# checksums.json[folder]); "archive" is one zip holding the set (no recorded
# sums: those sets are checked by file count only).
CATALOGUE = {
    "set12": {
        "folder": "Set12",
        "kind": "images",
        "description": "12 classic gray test images (7 at 256x256, 5 at 512x512)",
        "url": _DNCNN + "testsets/Set12/{name}",
        "paper": _DNCNN_PAPER,
    },
    "bsd68": {
        "folder": "BSD68",
        "kind": "images",
        "description": "68 gray BSDS test images, 481x321 (Roth and Black's split)",
        "url": _DNCNN + "testsets/BSD68/{name}",
        "paper": "S. Roth, M. J. Black, 'Fields of Experts', IJCV 82(2), 2009; " + _DNCNN_PAPER,
    },
    "cbsd68": {
        "folder": "CBSD68",
        "kind": "images",
        "description": "68 color BSDS test images, 481x321",
        "url": _FFDNET + "testsets/CBSD68/{name}",
        "paper": _FFDNET_PAPER,
    },
    "kodak24": {
        "folder": "Kodak24",
        "kind": "images",
        "description": "24 color Kodak Lossless True Color images, 768x512",
        "url": _KODAK + "images/kodim/{name}",
        "paper": "Kodak Lossless True Color Image Suite (r0k.us/graphics/kodak).",
    },
    "mcmaster": {
        "folder": "McMaster",
        "kind": "images",
        "expected_count": 18,
        "description": "18 color McMaster demosaicking images, 500x500 TIFF",
        "archive": "https://www4.comp.polyu.edu.hk/~cslzhang/CDM_Dataset.files/McM.zip",
        "paper": (
            "L. Zhang, X. Wu, A. Buades, X. Li, 'Color demosaicking by local directional "
            "interpolation and nonlocal adaptive thresholding', J. Electronic Imaging 20(2), 2011."
        ),
    },
    "train400": {
        "folder": "Train400",
        "kind": "images",
        "description": "400 gray 180x180 BSDS crops: DnCNN's training set",
        "url": _DNCNN + "TrainingCodes/DnCNN_TrainingCodes_v1.0/data/Train400/{name}",
        "paper": _DNCNN_PAPER,
    },
    "set5": {
        "folder": "Set5",
        "kind": "images",
        "description": "5 color super-resolution test images (BMP)",
        "url": _DNCNN + "testsets/Set5/{name}",
        "paper": (
            "M. Bevilacqua, A. Roumy, C. Guillemot, M.-L. Alberi Morel, 'Low-Complexity "
            "Single-Image Super-Resolution based on Nonnegative Neighbor Embedding', BMVC 2012."
        ),
    },
    "set14": {
        "folder": "Set14",
        "kind": "images",
        "expected_count": 14,
        "description": "14 super-resolution test images (BMP, one gray)",
        "archive": "https://uofi.box.com/shared/static/igsnfieh4lz68l926l8xbklwsnnk8we9.zip",
        "paper": (
            "R. Zeyde, M. Elad, M. Protter, 'On Single Image Scale-Up Using "
            "Sparse-Representations', Curves and Surfaces 2010."
        ),
    },
    "live1": {
        "folder": "LIVE1",
        "kind": "images",
        "description": "29 color LIVE1 reference images (BMP): the JPEG deblocking test set",
        "url": _DNCNN + "testsets/LIVE1/{name}",
        "paper": (
            "H. R. Sheikh, Z. Wang, L. Cormack, A. C. Bovik, 'LIVE Image Quality Assessment "
            "Database Release 2', 2005; C. Dong, Y. Deng, C. C. Loy, X. Tang, 'Compression "
            "Artifacts Reduction by a Deep Convolutional Network', ICCV 2015."
        ),
    },
    "set3c": {
        "folder": "Set3C",
        "kind": "images",
        "description": "3 color 256x256 deblurring test images (IRCNN's Set3C: leaves, monarch, parrots)",
        "url": _IRCNN + "testsets/Set3C/{name}",
        "paper": _PNP_PAPERS,
    },
    "kernels": {
        "folder": "Kernels",
        "kind": "kernels",
        "description": "Blur kernels: Levin et al.'s 8 motion kernels, DPIR's 12 SR kernels and bicubic x2-x4",
        "url": _DPIR + "kernels/{name}",
        "paper": "A. Levin, Y. Weiss, F. Durand, W. T. Freeman, 'Understanding and evaluating blind "
        "deconvolution algorithms', CVPR 2009; " + _PNP_PAPERS,
    },
    "mnist": {
        "folder": "MNIST",
        "kind": "mnist",
        "description": "MNIST digits, 28x28 gray, IDX files (test split; training images if present)",
        "url": _MNIST + "{name}",
        "optional_files": {
            "train-images-idx3-ubyte.gz": (
                "https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz"
            ),
        },
        "paper": (
            "Y. LeCun, L. Bottou, Y. Bengio, P. Haffner, 'Gradient-Based Learning Applied "
            "to Document Recognition', Proc. IEEE 86(11), 1998."
        ),
    },
    "dncnn_matconvnet": {
        "folder": "DnCNN_MatConvNet",
        "kind": "weights",
        "description": "Official DnCNN-S (sigma 15/25/50), DnCNN-B, CDnCNN-B, DnCNN-3 and FDnCNN weights (MatConvNet)",
        "url": _DNCNN + "model/{name}",
        "url_overrides": {
            "sigma=15.mat": _DNCNN + "model/specifics/sigma=15.mat",
            "sigma=25.mat": _DNCNN + "model/specifics/sigma=25.mat",
            "sigma=50.mat": _DNCNN + "model/specifics/sigma=50.mat",
        },
        "paper": _DNCNN_PAPER,
    },
    "ffdnet_matconvnet": {
        "folder": "FFDNet_MatConvNet",
        "kind": "weights",
        "description": "Official FFDNet gray and color weights (MatConvNet)",
        "url": _FFDNET + "models/{name}",
        "paper": _FFDNET_PAPER,
    },
}

BENCHMARK_SETS = tuple(name for name, spec in CATALOGUE.items() if spec["kind"] in ("images", "mnist"))


def _checksums():
    path = os.path.join(os.path.dirname(__file__), "checksums.json")
    with open(path) as stream:
        return json.load(stream)


def get_spec(name):
    """The catalogue entry for `name`, with its file list and sums filled in."""
    if name not in CATALOGUE:
        raise ValueError(
            f"Unknown dataset. Expected one of {', '.join(CATALOGUE)}. Received: name={name!r}"
        )
    spec = dict(CATALOGUE[name], name=name)
    spec["files"] = _checksums().get(spec["folder"], {})
    return spec


def cache_dir():
    """The user cache folder: $TFIMAGE_CACHE_DIR or ~/.cache/tfimage."""
    return os.environ.get(CACHE_DIR_VARIABLE) or os.path.join(
        os.path.expanduser("~"), ".cache", "tfimage"
    )


def candidate_dirs(data_dir=None):
    """The folders searched for data sets, in resolution order."""
    dirs = []
    if data_dir:
        dirs.append(os.fspath(data_dir))
    if os.environ.get(DATA_DIR_VARIABLE):
        dirs.append(os.environ[DATA_DIR_VARIABLE])
    dirs.append(cache_dir())
    return dirs


def is_complete(spec, folder):
    """Whether `folder` holds every file the set needs (checked by name or count)."""
    if not os.path.isdir(folder):
        return False
    if spec["files"]:
        return all(os.path.isfile(os.path.join(folder, name)) for name in spec["files"])
    from tfimage.io import is_image_file

    count = sum(1 for name in os.listdir(folder) if is_image_file(name))
    return count >= spec.get("expected_count", 1)


def find_local(name, data_dir=None):
    """The first complete local folder of set `name`, or None."""
    spec = get_spec(name)
    for root in candidate_dirs(data_dir):
        folder = os.path.join(root, spec["folder"])
        if is_complete(spec, folder):
            return folder
    return None


def how_to_get(name):
    """One line telling the user how to make set `name` available."""
    spec = get_spec(name)
    source = spec.get("archive") or spec["url"].format(name="...")
    return (
        f"put the {spec['folder']}/ folder under a directory and set {DATA_DIR_VARIABLE} "
        f"to it (or pass data_dir=), or let tfimage download it from {source} "
        f"into {cache_dir()}"
    )


def locate(name, data_dir=None, download=True):
    """Resolves a catalogue set to a local folder, downloading it if needed.

    Args:
        name: a catalogue name, e.g. "set12" or "dncnn_matconvnet".
        data_dir: an explicit folder holding `<Folder>/` sub-folders; searched
            first.
        download: whether to download into the user cache when no local copy
            is found.

    Returns:
        The path of the folder holding the set's files.

    Raises:
        ValueError: unknown name.
        FileNotFoundError: no local copy and the download is off or failed.
    """
    spec = get_spec(name)
    folder = find_local(name, data_dir)
    if folder:
        return folder
    if not download:
        raise FileNotFoundError(
            f"Dataset {name!r} was not found in {candidate_dirs(data_dir)}: {how_to_get(name)}."
        )
    target = os.path.join(cache_dir(), spec["folder"])
    try:
        if spec.get("archive"):
            _download_archive(spec, target)
        else:
            _download_files(spec, target)
    except (OSError, urllib.error.URLError, socket.timeout) as error:
        raise FileNotFoundError(
            f"Could not download dataset {name!r} ({error}). Offline? Then {how_to_get(name)}."
        ) from None
    return target


def sha256_of(path):
    """The sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url, path, sha256=None):
    """Downloads `url` to `path` atomically, checking the sha256 sum if given."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temp_path = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".download-")
    try:
        with os.fdopen(handle, "wb") as stream:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
                shutil.copyfileobj(response, stream)
        if sha256 and sha256_of(temp_path) != sha256:
            raise OSError(f"sha256 mismatch for {url}: expected {sha256}")
        os.replace(temp_path, path)
    finally:
        if os.path.exists(temp_path):
            os.remove(temp_path)
    return path


def _download_files(spec, target):
    overrides = spec.get("url_overrides", {})
    for name, sha256 in spec["files"].items():
        path = os.path.join(target, name)
        if os.path.isfile(path) and sha256_of(path) == sha256:
            continue
        download_file(overrides.get(name, spec["url"].format(name=name)), path, sha256)


def _download_archive(spec, target):
    archive = os.path.join(cache_dir(), spec["folder"] + ".zip")
    download_file(spec["archive"], archive)
    from tfimage.io import is_image_file

    os.makedirs(target, exist_ok=True)
    with zipfile.ZipFile(archive) as bundle:
        for member in bundle.namelist():
            base = os.path.basename(member)
            if is_image_file(base) and not base.startswith("."):
                with bundle.open(member) as source, open(os.path.join(target, base), "wb") as out:
                    shutil.copyfileobj(source, out)
    os.remove(archive)
    if not is_complete(spec, target):
        raise OSError(f"the archive {spec['archive']} did not hold the expected images")


def image_paths(name, data_dir=None, download=True):
    """Sorted image paths of a catalogue image set."""
    from tfimage.io import list_images

    return list_images(locate(name, data_dir=data_dir, download=download))
