"""Shared test helpers: real data is found through TFIMAGE_DATA_DIR (see README)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def require_set(name):
    """The local folder of a catalogue set, or skip the test when it is not available."""
    from tfimage.datasets import catalogue

    folder = catalogue.find_local(name)
    if folder is None:
        pytest.skip(f"{name} is not available: set TFIMAGE_DATA_DIR (README, 'Data')")
    return folder


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
