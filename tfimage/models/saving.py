"""Atomic `.keras` saving and the resolution of shipped model names.

A failed `model.save("x.keras")` leaves a 0-byte or truncated file behind (and
would destroy a good checkpoint it was overwriting), so tfimage saves to a
temporary file in the destination folder and renames it into place.

Shipped models live in the repository's `saved_models/` folder (or
`$TFIMAGE_MODELS_DIR`): the name `mnist-gan` resolves to
`saved_models/mnist-gan.keras`.
"""

import os
import tempfile

from tfimage.io import default_file_mode

MODELS_DIR_VARIABLE = "TFIMAGE_MODELS_DIR"


def models_dir():
    """The folder of shipped models: $TFIMAGE_MODELS_DIR or <repo>/saved_models."""
    if os.environ.get(MODELS_DIR_VARIABLE):
        return os.environ[MODELS_DIR_VARIABLE]
    import tfimage

    return os.path.normpath(
        os.path.join(os.path.dirname(tfimage.__file__), "..", "saved_models")
    )


def resolve_model_path(model):
    """Resolves a shipped model name or a path to an existing `.keras` file.

    Args:
        model: a name such as "mnist-gan" (looked up as `<models_dir>/NAME.keras`)
            or the path of a `.keras` file.

    Returns:
        The path of the `.keras` file.

    Raises:
        FileNotFoundError: neither a file at that path nor a shipped model of
            that name exists.
    """
    model = os.fspath(model)
    if os.path.isfile(model):
        return model
    candidate = os.path.join(models_dir(), model if model.endswith(".keras") else model + ".keras")
    if os.path.isfile(candidate):
        return candidate
    shipped = []
    if os.path.isdir(models_dir()):
        shipped = sorted(name[: -len(".keras")] for name in os.listdir(models_dir())
                         if name.endswith(".keras"))
    raise FileNotFoundError(
        f"No model file at that path and no shipped model of that name in {models_dir()} "
        f"(shipped: {', '.join(shipped) or 'none'}). Received: model={model}"
    )


def save_atomic(model, path, overwrite=True, include_optimizer=True):
    """Saves a Keras model to a `.keras` file atomically.

    The model is written to a temporary `.keras` file in the same folder and
    renamed over `path` only when the save succeeded; on failure the
    temporary file is deleted and any existing file at `path` is untouched.
    A model with a `saveable_copy()` method (GAN, VAE) is saved through that
    copy, which leaves the optimizers out of the file.

    Args:
        model: the `keras.Model` to save.
        path: destination; must end in `.keras`.
        overwrite: whether an existing file at `path` may be replaced.
        include_optimizer: False saves a fresh, uncompiled copy of the model
            (same config and weights), which leaves the optimizer state out.

    Returns:
        The path written.
    """
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"Models are saved as .keras files. Received: path={path}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"The file exists and overwrite=False. Received: path={path}")
    import keras

    if hasattr(model, "saveable_copy"):
        target = model.saveable_copy()
    elif not include_optimizer and getattr(model, "optimizer", None) is not None:
        target = model.__class__.from_config(model.get_config())
        target.set_weights(model.get_weights())
    else:
        target = model
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".keras")
    os.close(handle)
    os.chmod(temp_path, default_file_mode())  # mkstemp creates 0600 files
    try:
        keras.Model.save(target, temp_path, overwrite=True)
        if os.path.getsize(temp_path) == 0:
            raise OSError(f"Saving the model wrote an empty file. Received: path={path}")
        os.replace(temp_path, path)
    finally:
        if os.path.exists(temp_path):
            os.remove(temp_path)
    return path


class SaveWithoutOptimizer:
    """Mixin for training wrappers with several optimizers (GAN, VAE): atomic, optimizer-free saves.

    `save` writes an uncompiled copy with the same weights (`saveable_copy`)
    through `save_atomic`, so a failed save never leaves a broken file.
    """

    def get_compile_config(self):
        # The optimizers are not saved (see `saveable_copy`): nothing to restore.
        return None

    def saveable_copy(self):
        """An uncompiled copy with the same weights (saved without optimizers)."""
        copy = self.__class__.from_config(self.get_config())
        copy.set_weights(self.get_weights())
        return copy

    def save(self, filepath, overwrite=True, **kwargs):
        """Saves to a `.keras` file atomically, without the optimizer states."""
        if kwargs:
            raise ValueError(f"Unsupported save arguments. Received: {sorted(kwargs)}")
        return save_atomic(self, filepath, overwrite=overwrite)


def register_custom_objects():
    """Imports every tfimage module that registers Keras classes, so any tfimage `.keras` file loads.

    `keras.saving.load_model` finds `@register_keras_serializable(package="tfimage")`
    classes only once their module is imported; every loader in tfimage calls this first.
    """
    import importlib

    for module in (
        "tfimage.backbones",
        "tfimage.models.diffusion",
        "tfimage.models.gan",
        "tfimage.models.restorer",
        "tfimage.models.vae",
        "tfimage.networks.classifier",
        "tfimage.networks.edsr",
        "tfimage.networks.espcn",
        "tfimage.networks.ffdnet",
        "tfimage.networks.inpainting",
        "tfimage.networks.opponent",
        "tfimage.networks.unet",
        "tfimage.training",
    ):
        importlib.import_module(module)
