"""The model zoo: every model name tfimage knows, resolved in one place.

`load(name)` returns a ready model for any of:

- official weights imported into Keras (`tfimage.pretrained.MODELS`:
  DnCNN, FFDNet), read from the data folder;
- models this project trained (`OUR_MODELS`), read from saved_models/
  (or `$TFIMAGE_MODELS_DIR`): restoration networks, the MNIST GAN, VAE and
  classifier;
- the classical baselines of every task (`tfimage.tasks.TASKS[...].baselines`);
- the path of any `.keras` file.

`list_models()` lists them all with their specs (the `tfimage models`
command prints it).
"""

import os

from tfimage import pretrained
from tfimage.models import saving
from tfimage.tasks import TASKS

# Models this project trained itself, shipped in saved_models/ (docs/models.md has the
# command, data and scores of each).
OUR_MODELS = {
    "tfimage-gray-blind": {
        "description": "ours: gray blind denoiser, residual FFDNet-style, trained on Train400, sigma 0-55",
        "channels": 1,
        "noise_level_input": True,
        "sigma": None,
        "sigma_range": (0, 55),
        "file": "tfimage-gray-blind.keras",
    },
    "tfimage-color-blind": {
        "description": "ours: color blind denoiser, tfimage-gray-blind on opponent color channels, fine-tuned on 6 bundled photos",
        "channels": 3,
        "noise_level_input": True,
        "sigma": None,
        "sigma_range": (0, 55),
        "file": "tfimage-color-blind.keras",
    },
    "tfimage-sr-x4": {
        "description": "ours: x4 super-resolution, small EDSR with a bicubic skip, on luma (color images through Y)",
        "task": "sr",
        "scale": 4,
        "channels": 1,
        "sigma": None,
        "file": "tfimage-sr-x4.keras",
    },
    "tfimage-sr-x2": {
        "description": "ours: x2 super-resolution, fine-tuned from tfimage-sr-x4 (all but the last layer)",
        "task": "sr",
        "scale": 2,
        "channels": 1,
        "sigma": None,
        "file": "tfimage-sr-x2.keras",
    },
    "tfimage-inpaint": {
        "description": "ours: free-form hole inpainting, normalized-convolution fill + three U-Net stages, gray (color: per channel)",
        "task": "inpaint",
        "channels": 1,
        "sigma": None,
        "file": "tfimage-inpaint.keras",
    },
    "mnist-gan": {
        "description": "ours: class-conditional DCGAN on MNIST (EMA generator), 28x28 gray",
        "task": "generation",
        "sigma": None,
        "file": "mnist-gan.keras",
    },
    "mnist-vae": {
        "description": "ours: class-conditional convolutional VAE on MNIST (latent mixture prior), 28x28 gray",
        "task": "generation",
        "sigma": None,
        "file": "mnist-vae.keras",
    },
    "mnist-ddim": {
        "description": "ours: class-conditional DDIM diffusion model on MNIST (EMA network), 28x28 gray",
        "task": "generation",
        "sigma": None,
        "file": "mnist-ddim.keras",
    },
    "mnist-classifier": {
        "description": "ours: MNIST classifier whose 128 penultimate features FID/KID use",
        "task": "features",
        "sigma": None,
        "file": "mnist-classifier.keras",
    },
}


def saved_models_dir():
    """The folder of our own trained models: $TFIMAGE_MODELS_DIR or the repository's saved_models/."""
    return saving.models_dir()


def baselines():
    """Every task's baselines: name -> spec (with "task")."""
    found = {}
    for task_name, task in TASKS.items():
        for name, entry in task.baselines.items():
            found[name] = dict(entry, task=task_name)
    return found


def list_models():
    """Every model name the CLI accepts, with its spec and "kind", in order.

    Kinds: "pretrained" (official weights), "ours" (saved_models/) and
    "baseline" (classical methods of the tasks). Specs hold "description",
    "channels", "sigma" (the noise level a denoiser was trained for; None
    when it covers a range or is no denoiser), "task" where it is not
    denoising, and "published" (the papers' PSNRs by set and sigma or scale)
    where known.
    """
    models = {name: dict(spec, kind="pretrained") for name, spec in pretrained.MODELS.items()}
    models.update({name: dict(spec, kind="ours") for name, spec in OUR_MODELS.items()})
    models.update({name: dict(spec, kind="baseline", sigma=None) for name, spec in baselines().items()})
    return models


def load_keras_file(path):
    """Loads a `.keras` file uncompiled, with tfimage's custom objects registered."""
    import keras

    saving.register_custom_objects()  # before deserialising
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Model file not found. Received: path={path}")
    return keras.saving.load_model(path, compile=False)


def load(name, data_dir=None):
    """A ready model or baseline by name or `.keras` path (a loaded model passes through).

    Args:
        name: a name of `list_models()` (e.g. "ffdnet-gray",
            "tfimage-sr-x4", "bm3d", "telea", "mnist-gan"), the name of
            another NAME.keras in the saved-models folder, the path of a
            `.keras` file, or an already loaded model or baseline object.
        data_dir: where official weights are looked for first.

    Returns:
        A `keras.Model`, or a baseline object of `tfimage.baselines`.

    Raises:
        ValueError: an unknown name.
        FileNotFoundError: the weights or the `.keras` file cannot be found.
    """
    if not isinstance(name, (str, os.PathLike)):
        return name
    text = os.fspath(name)
    if text.endswith(".keras") or (text not in list_models() and os.path.isfile(text)):
        return load_keras_file(text)
    known_baselines = baselines()
    if text in known_baselines:
        baseline = known_baselines[text]["factory"]()
        baseline.name = text
        return baseline
    if text in OUR_MODELS:
        path = os.path.join(saved_models_dir(), OUR_MODELS[text]["file"])
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Model {text!r} is not in {saved_models_dir()} (train it with the command in docs/models.md, "
                f"or set TFIMAGE_MODELS_DIR). Received: name={text!r}"
            )
        return load_keras_file(path)
    if text not in pretrained.MODELS:
        if os.path.isfile(os.path.join(saved_models_dir(), text + ".keras")):  # a model saved there by name
            return load_keras_file(saving.resolve_model_path(text))
        raise ValueError(
            f"Unknown model. Expected one of {sorted(list_models())} or the path of a .keras file. "
            f"Received: name={text!r}"
        )
    return pretrained.load_official(text, data_dir=data_dir)
