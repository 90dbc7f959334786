"""Shared test helpers: real data is found through TFIMAGE_DATA_DIR (see README)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _missing_reason(name):
    return f"{name} is not available: set TFIMAGE_DATA_DIR (README, 'Data')"


def require_set(name):
    """The local folder of a catalogue set (or of official weights, e.g. "dncnn_matconvnet"),
    or skip the test when it is not available. Mark such tests `@pytest.mark.data`."""
    from tfimage.datasets import catalogue

    folder = catalogue.find_local(name)
    if folder is None:
        pytest.skip(_missing_reason(name))
    return folder


def requires_data(*names):
    """Decorator for a test that needs catalogue sets or official weights: marks it `data`
    and skips it, with the reason, when one of `names` is not available locally."""
    from tfimage.datasets import catalogue

    missing = [name for name in names if catalogue.find_local(name) is None]

    def decorate(function):
        function = pytest.mark.data(function)
        if missing:
            function = pytest.mark.skip(reason=_missing_reason(missing[0]))(function)
        return function

    return decorate


def assert_keras_round_trip(model, inputs=None, tmp_path=None, call=None, expected=None, atol=0.0, name=None):
    """Saves `model` to a `.keras` file, loads it back and checks that nothing was lost.

    The file is loaded by `keras.saving.load_model` with every tfimage class registered
    (`register_custom_objects`), as a new process would. Checked: same class, same config,
    same weights, and the same outputs: `call(loaded)` against `expected` (default
    `call(model)`), where `call` defaults to calling the model on `inputs`.

    Args:
        model: the Keras model to save.
        inputs: what the model is called on (one array or a list), when `call` is None.
        tmp_path: the folder the file is written in.
        call: callable(model) -> outputs, e.g. `lambda m: m.sample(4, seed=0)`.
        expected: the outputs the loaded model must give (default: `call(model)`).
        atol: 0 for identical outputs, else the absolute tolerance.
        name: the file name without `.keras` (default: the model's name).

    Returns:
        The loaded model, for further checks.
    """
    import keras
    import numpy as np

    from tfimage.models.saving import register_custom_objects

    if call is None:
        def call(target):
            return target(inputs)
    path = os.path.join(str(tmp_path), f"{name or model.name}.keras")
    model.save(path)
    assert os.path.getsize(path) > 0
    register_custom_objects()
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model), (type(loaded), type(model))
    assert _plain(loaded.get_config()) == _plain(model.get_config())  # tuples are read back as lists
    saved_weights, loaded_weights = model.get_weights(), loaded.get_weights()
    assert len(loaded_weights) == len(saved_weights)
    for saved, restored in zip(saved_weights, loaded_weights):
        np.testing.assert_array_equal(restored, saved)
    want = call(model) if expected is None else expected
    got = call(loaded)
    for want_part, got_part in zip(_as_list(want), _as_list(got), strict=True):
        if atol:
            np.testing.assert_allclose(np.asarray(got_part), np.asarray(want_part), atol=atol)
        else:
            np.testing.assert_array_equal(np.asarray(got_part), np.asarray(want_part))
    return loaded


def _plain(config):
    """`config` with tuples as lists, as a `.keras` file (JSON) stores them."""
    if isinstance(config, dict):
        return {key: _plain(value) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return [_plain(value) for value in config]
    return config


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    """A private, empty user cache and no TFIMAGE_DATA_DIR."""
    monkeypatch.setenv("TFIMAGE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TFIMAGE_DATA_DIR", raising=False)
    return tmp_path / "cache"


def write_smooth_images(folder, count, size, channels=1, seed=0):
    """Writes `count` smooth random PNGs (cumulative sums of noise) of size x size into `folder`."""
    import numpy as np

    from tfimage import io

    rng = np.random.default_rng(seed)
    for index in range(count):
        smooth = np.cumsum(np.cumsum(rng.random((size, size, channels)), 0), 1)
        io.write_image(os.path.join(str(folder), f"{index}.png"), smooth / smooth.max())
    return folder


def mean_of_undone_views(function, array):
    """Test reference for the x8 self-ensemble, written out apart from tfimage's own:
    `function` on each of the 8 flips/quarter turns of `array`, undone, averaged."""
    import numpy as np

    views = []
    for turns in range(4):
        for flip in (False, True):
            view = np.rot90(array, turns)
            view = np.ascontiguousarray(view[:, ::-1] if flip else view)
            out = np.asarray(function(view))
            views.append(np.rot90(out[:, ::-1] if flip else out, -turns))
    return np.mean(views, axis=0)
