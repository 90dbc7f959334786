"""Tests of `tfimage.execution`: the tile layout, run_tiled, the graph cache and the self-ensemble views."""

import gc
import weakref

import numpy as np
import pytest

from conftest import mean_of_undone_views
from tfimage import execution


def _image(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def _box_sum(image, radius=2):
    """A local function of receptive-field radius `radius` (zero padding), written out in NumPy."""
    height, width = image.shape[:2]
    padded = np.pad(image, ((radius, radius), (radius, radius), (0, 0)))
    total = np.zeros_like(image, dtype=np.float64)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            total += padded[dy : dy + height, dx : dx + width]
    return total.astype(np.float32)


def test_tiles_partition_the_axis():
    for size, tile, overlap in ((512, 128, 32), (321, 128, 32), (135, 128, 32), (77, 24, 8)):
        starts, lengths, cuts = execution.tile_layout(size, tile, overlap)
        assert cuts[0] == 0 and cuts[-1] == size
        assert all(a < b for a, b in zip(cuts, cuts[1:]))
        for k, (start, length) in enumerate(zip(starts, lengths)):
            assert start % execution.TILE_ALIGNMENT == 0 and start + length <= size
            assert min(tile, size) <= length < tile + execution.TILE_ALIGNMENT  # the last absorbs the rest
            inner_left = cuts[k] - start if k > 0 else overlap // 2
            inner_right = start + length - cuts[k + 1] if k < len(starts) - 1 else overlap // 2
            assert min(inner_left, inner_right) >= overlap // 2
    assert len(execution.tile_layout(321, 128, 32)[0]) == 3
    assert execution.tile_layout(100, 128, 32) == ([0], [100], [0, 100])  # one tile when the image fits
    starts, _, _ = execution.tile_layout(300, 96, 16, alignment=32)
    assert all(start % 32 == 0 for start in starts)
    stride, last = execution.tile_grid(321, 128, 32)
    assert (stride, last) == (96, 192)  # (128 - 32) rounded down to 8; (321 - 128) rounded down to 8


def test_tile_settings_are_checked():
    assert execution.check_tiling(None, 32) == (None, 32)
    assert execution.check_tiling(72, 32) == (72, 32)
    for tile, overlap, name in ((71, 32, "tile="), (40.5, 8, "tile="), (64, -1, "overlap="), (64, 2.5, "overlap=")):
        with pytest.raises(ValueError, match=name):
            execution.check_tiling(tile, overlap)
    with pytest.raises(ValueError, match=r"2 \* overlap \+ 16 = 48"):
        execution.check_tiling(40, 16, alignment=16)


@pytest.mark.parametrize("scale", [1, 3])
def test_run_tiled_equals_one_call_when_the_overlap_covers_the_receptive_field(scale):
    image = _image((77, 61, 2))

    def function(part):  # radius 2, then a nearest-neighbour upscale by `scale`
        calls.append(part.shape)
        return np.repeat(np.repeat(_box_sum(part), scale, axis=0), scale, axis=1)

    calls = []
    whole = execution.run_tiled(function, image, None, 8, scale)
    assert whole.shape == (77 * scale, 61 * scale, 2) and calls == [image.shape]
    calls = []
    tiled = execution.run_tiled(function, image, 24, 8, scale)  # kept pixels have 4 >= 2 pixels of context
    rows, cols = execution.tile_layout(77, 24, 8), execution.tile_layout(61, 24, 8)
    assert len(calls) == len(rows[0]) * len(cols[0]) > 4
    assert all(shape[0] <= 77 and shape[1] <= 61 for shape in calls)
    np.testing.assert_array_equal(tiled, whole)
    seamed = execution.run_tiled(lambda part: np.repeat(np.repeat(_box_sum(part, radius=6), scale, 0), scale, 1),
                                 image, 24, 8, scale)
    assert np.abs(seamed - execution.run_tiled(
        lambda part: np.repeat(np.repeat(_box_sum(part, radius=6), scale, 0), scale, 1), image, None, 8, scale
    )).max() > 0.1  # a receptive field wider than the overlap's margin shows at the seams


def test_images_run_through_one_cached_graph_per_model():
    keras = pytest.importorskip("keras")
    from tfimage.inference import restore
    from tfimage.networks.ffdnet import build_ffdnet

    keras.utils.set_random_seed(0)
    model = build_ffdnet(channels=1, depth=3, filters=4)
    for shape in ((32, 40, 1), (40, 32, 1), (48, 56, 1), (24, 24, 1)):
        image = _image(shape)
        eager = model([image[None], np.full((1, 1), 0.1, np.float32)], training=False).numpy()[0]
        np.testing.assert_allclose(restore(model, image, noise_level=0.1), np.clip(eager, 0, 1), atol=1e-6)
    call = execution._GRAPH_CALLS[model]
    assert execution.graph_call(model) is call
    # reduce_retracing: after two shapes, a shape-generic trace serves every size.
    assert call.generic.experimental_get_tracing_count() == 2
    # The cache holds its models weakly: it does not keep a dropped model alive.
    model_reference = weakref.ref(model)
    del model, call
    gc.collect()
    assert model_reference() is None


def test_geometric_self_ensemble_averages_the_eight_undone_views():
    weights = _image((2,), seed=5) + 0.5

    def function(view):  # not flip-invariant (a one-sided difference), upscales by 2
        diff = np.diff(view, axis=1, prepend=0.0) * weights
        return np.repeat(np.repeat(diff, 2, axis=0), 2, axis=1)

    image = _image((9, 14, 2), seed=1)
    ensemble = execution.geometric_self_ensemble(function, image)
    assert ensemble.shape == (18, 28, 2) and ensemble.dtype == np.float32
    np.testing.assert_allclose(ensemble, mean_of_undone_views(function, image), atol=1e-6)
    assert np.abs(ensemble - function(image)).max() > 0.1


def test_color_symmetries_reorder_and_invert_each_view_and_undo_it():
    image = _image((20, 27, 3), seed=4)
    np.testing.assert_allclose(execution.color_symmetry_self_ensemble(lambda view: view, image), image, atol=1e-6)

    weights, biases = np.array([0.9, 0.7, 0.5]), np.array([0.05, 0.1, 0.2])
    affine = lambda view: view * weights + biases  # noqa: E731  (y_c = w_c x_c + b_c: not channel-symmetric)
    ensemble = execution.color_symmetry_self_ensemble(affine, image)
    # View k puts channel c at position j (order[j] == c) and inverts it when k is odd:
    # 1 - (w_j * (1 - x) + b_j) = w_j * x + 1 - w_j - b_j.
    expected = np.zeros_like(image)
    for k in range(8):
        order = list(execution.CHANNEL_PERMUTATIONS[k % 6])
        for c in range(3):
            j = order.index(c)
            offset = 1 - weights[j] - biases[j] if k % 2 else biases[j]
            expected[..., c] += (weights[j] * image[..., c] + offset) / 8
    np.testing.assert_allclose(ensemble, expected, atol=1e-5)
    geometric = execution.geometric_self_ensemble(affine, image)
    assert np.abs(ensemble - geometric).max() > 0.05  # the pointwise model ignores flips, not channel orders
    assert execution.CHANNEL_PERMUTATIONS[0] == (0, 1, 2) and len(set(execution.CHANNEL_PERMUTATIONS)) == 6
    with pytest.raises(ValueError, match=r"\(H, W, 3\).*shape=\(20, 27, 1\)"):
        execution.color_symmetry_self_ensemble(affine, image[..., :1])
