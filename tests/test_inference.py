"""Tests of whole-image and tiled inference."""

import gc
import os
import weakref

import numpy as np
import pytest

from conftest import mean_of_undone_views

keras = pytest.importorskip("keras")

from tfimage import inference  # noqa: E402
from tfimage.inference import _tile_starts, predict_image  # noqa: E402
from tfimage.networks.dncnn import build_dncnn  # noqa: E402
from tfimage.networks.ffdnet import build_ffdnet  # noqa: E402


def _psnr(restored, clean):
    return 10.0 * np.log10(1.0 / np.mean((np.clip(restored, 0, 1) - clean) ** 2))


def _image(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_dncnn():
    keras.utils.set_random_seed(0)
    return build_dncnn(depth=3, filters=4, channels=1)


def test_tiles_partition_the_axis():
    for size, tile, overlap in ((512, 128, 32), (321, 128, 32), (135, 128, 32), (77, 24, 8)):
        starts, lengths, cuts = _tile_starts(size, tile, overlap)
        assert cuts[0] == 0 and cuts[-1] == size
        assert all(a < b for a, b in zip(cuts, cuts[1:]))
        for k, (start, length) in enumerate(zip(starts, lengths)):
            assert start % 8 == 0 and start + length <= size
            inner_left = cuts[k] - start if k > 0 else overlap // 2
            inner_right = start + length - cuts[k + 1] if k < len(starts) - 1 else overlap // 2
            assert min(inner_left, inner_right) >= overlap // 2


def test_tiled_equals_untiled_on_a_tiny_network(tiny_dncnn):
    # depth 3: receptive-field radius 3, so an overlap of 8 is exact.
    image = _image((70, 53, 1))
    whole = predict_image(tiny_dncnn, image)
    tiled = predict_image(tiny_dncnn, image, tile=24, overlap=8)
    assert whole.shape == tiled.shape == image.shape
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert whole.min() >= 0.0 and whole.max() <= 1.0


def test_tiled_ffdnet_matches_on_odd_sizes():
    keras.utils.set_random_seed(0)
    model = build_ffdnet(channels=3, depth=3, filters=4)
    image = _image((45, 61, 3))
    whole = predict_image(model, image, noise_level=0.1)
    tiled = predict_image(model, image, noise_level=0.1, tile=32, overlap=12)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_images_run_through_one_cached_graph_per_model():
    keras.utils.set_random_seed(0)
    model = build_ffdnet(channels=1, depth=3, filters=4)
    for shape in ((32, 40, 1), (40, 32, 1), (48, 56, 1), (24, 24, 1)):
        image = _image(shape)
        eager = model([image[None], np.full((1, 1), 0.1, np.float32)], training=False).numpy()[0]
        np.testing.assert_allclose(predict_image(model, image, noise_level=0.1), np.clip(eager, 0, 1), atol=1e-6)
    call = inference._GRAPH_CALLS[model]
    # reduce_retracing: after two shapes, a shape-generic trace serves every size.
    assert call.generic.experimental_get_tracing_count() == 2
    # The cache holds its models weakly: it does not keep a dropped model alive.
    model_reference = weakref.ref(model)
    del model, call
    gc.collect()
    assert model_reference() is None


def test_tiled_equals_untiled_on_set12_with_dncnn_s25():
    from tfimage.datasets import catalogue

    if catalogue.find_local("dncnn_matconvnet") is None or catalogue.find_local("set12") is None:
        pytest.skip("DnCNN weights or Set12 not found locally (set TFIMAGE_DATA_DIR)")
    from tfimage import pretrained
    from tfimage.io import read_image

    clean = read_image(os.path.join(catalogue.find_local("set12"), "01.png"), channels=1)
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    model = pretrained.load("dncnn-s25")
    whole = predict_image(model, noisy)
    tiled = predict_image(model, noisy, tile=128, overlap=32)
    assert abs(_psnr(tiled, clean) - _psnr(whole, clean)) < 0.01
    assert _psnr(whole, clean) > 29.5


def test_invalid_images_raise(tiny_dncnn):
    image = _image((16, 16, 1))
    image[3, 4, 0] = np.nan
    with pytest.raises(ValueError, match="image"):
        predict_image(tiny_dncnn, image)
    with pytest.raises(ValueError, match="at least 8x8"):
        predict_image(tiny_dncnn, _image((4, 4, 1)))
    with pytest.raises(ValueError, match="tile"):
        predict_image(tiny_dncnn, _image((64, 64, 1)), tile=40, overlap=32)


def test_noise_level_checks(tiny_dncnn):
    model = build_ffdnet(channels=1, depth=3, filters=4)
    with pytest.raises(ValueError, match="noise_level=None"):
        predict_image(model, _image((16, 16, 1)))
    with pytest.raises(ValueError, match="noise_level=25"):
        predict_image(model, _image((16, 16, 1)), noise_level=25)
    with pytest.raises(ValueError, match="noise_level"):
        predict_image(tiny_dncnn, _image((16, 16, 1)), noise_level=0.1)


def test_channel_mismatch_is_converted(tiny_dncnn):
    color = _image((16, 16, 3))
    with pytest.warns(UserWarning, match="gray"):
        output = predict_image(tiny_dncnn, color)
    assert output.shape == (16, 16, 1)
    assert predict_image(tiny_dncnn, color[:, :, 0]).shape == (16, 16, 1)


def test_restorer_runs_through_predict_image():
    from tfimage.models.restorer import Restorer

    keras.utils.set_random_seed(0)
    restorer = Restorer(network=build_ffdnet(channels=1, depth=3, filters=4), noise_level_input=True)
    image = _image((20, 18, 1))
    output = predict_image(restorer, image, noise_level=0.1)
    expected = predict_image(restorer.network, image, noise_level=0.1)
    np.testing.assert_array_equal(output, expected)


def test_restore_dispatches_and_handles_noise_levels(tiny_dncnn):
    from tfimage.inference import restore

    image = _image((24, 20, 1))
    # A noise level is dropped for models without a noise-level input.
    np.testing.assert_array_equal(
        restore(tiny_dncnn, image, noise_level=0.1), predict_image(tiny_dncnn, image)
    )
    keras.utils.set_random_seed(0)
    ffdnet = build_ffdnet(channels=1, depth=3, filters=4)
    blind = restore(ffdnet, image)  # noise level estimated from the image
    assert blind.shape == image.shape

    class Identity:
        channels = None
        noise_level_input = False

        def predict_image(self, image, noise_level=None):
            return image

    np.testing.assert_array_equal(restore(Identity(), image, noise_level=0.1), image)


def test_gray_image_to_a_color_model_is_converted():
    from tfimage.networks.dncnn import build_dncnn

    gray = _image((16, 16, 1))
    with pytest.warns(UserWarning, match="RGB"):
        output = predict_image(build_dncnn(depth=3, filters=4, channels=3), gray)
    assert output.shape == (16, 16, 3)


def test_an_inpainting_model_is_refused_where_a_noise_level_is_expected(tmp_path):
    from tfimage import export, inference
    from tfimage.networks.inpainting import build_inpainting_unet

    model = build_inpainting_unet(1, filters=(4, 8))
    image = np.random.default_rng(0).random((32, 32, 1)).astype(np.float32)
    with pytest.raises(ValueError, match="inpainting model"):
        inference.restore(model, image, noise_level=0.1)
    with pytest.raises(ValueError, match="inpainting model"):
        export.export_model(model, str(tmp_path / "served"))


def test_self_ensemble_averages_the_eight_undone_views(tiny_dncnn):
    from tfimage.inference import restore

    image = _image((20, 27, 1), seed=3)
    single = predict_image(tiny_dncnn, image)
    ensemble = predict_image(tiny_dncnn, image, self_ensemble=True)
    expected = mean_of_undone_views(lambda view: np.asarray(tiny_dncnn(view[None]))[0], image)
    assert ensemble.shape == image.shape  # (a non-square image comes back the right way round)
    np.testing.assert_allclose(ensemble, np.clip(expected, 0, 1), atol=1e-5)
    assert np.abs(ensemble - single).max() > 1e-4  # the random network is not flip-invariant
    tiled = predict_image(tiny_dncnn, image, self_ensemble=True, tile=16, overlap=4)
    np.testing.assert_allclose(tiled, ensemble, atol=1e-5)
    with pytest.raises(ValueError, match="self_ensemble=True"):
        from tfimage.baselines import NLM

        restore(NLM(), image, noise_level=0.1, self_ensemble=True)


def test_self_ensemble_improves_dncnn_s25_on_set12():
    from tfimage.datasets import catalogue

    if catalogue.find_local("dncnn_matconvnet") is None or catalogue.find_local("set12") is None:
        pytest.skip("DnCNN weights or Set12 not found locally (set TFIMAGE_DATA_DIR)")
    from tfimage import pretrained
    from tfimage.io import read_image

    model = pretrained.load("dncnn-s25")
    gains = []
    for index, name in enumerate(("02.png", "05.png")):
        clean = read_image(os.path.join(catalogue.find_local("set12"), name), channels=1)[:128, :128]
        noisy = clean + np.random.default_rng(index).normal(0, 25 / 255, clean.shape).astype(np.float32)
        single = _psnr(predict_image(model, noisy), clean)
        gains.append(_psnr(predict_image(model, noisy, self_ensemble=True), clean) - single)
    assert 0.03 < np.mean(gains) < 0.5


def _channel_affine_model(weights, biases):
    """A 3-channel model y_c = w_c * x_c + b_c: not invariant to reordering or inverting the channels."""
    inputs = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(3, 1)
    outputs = conv(inputs)
    conv.set_weights([np.diag(weights).astype(np.float32)[None, None], np.asarray(biases, np.float32)])
    return keras.Model(inputs, outputs)


def test_color_symmetries_reorder_and_invert_each_view_and_undo_it():
    from tfimage.baselines import NLM
    from tfimage.inference import CHANNEL_PERMUTATIONS, restore

    image = _image((20, 27, 3), seed=4)
    identity = _channel_affine_model([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(predict_image(identity, image, self_ensemble=True, color_symmetries=True), image, atol=1e-6)

    weights, biases = np.array([0.9, 0.7, 0.5]), np.array([0.05, 0.1, 0.2])
    model = _channel_affine_model(weights, biases)
    ensemble = predict_image(model, image, self_ensemble=True, color_symmetries=True)
    # View k puts channel c at position j (order[j] == c) and inverts it when k is odd:
    # 1 - (w_j * (1 - x) + b_j) = w_j * x + 1 - w_j - b_j.
    expected = np.zeros_like(image)
    for k in range(8):
        order = list(CHANNEL_PERMUTATIONS[k % 6])
        for c in range(3):
            j = order.index(c)
            offset = 1 - weights[j] - biases[j] if k % 2 else biases[j]
            expected[..., c] += (weights[j] * image[..., c] + offset) / 8
    np.testing.assert_allclose(ensemble, np.clip(expected, 0, 1), atol=1e-5)
    geometric = predict_image(model, image, self_ensemble=True)
    assert np.abs(ensemble - geometric).max() > 0.05  # the pointwise model ignores flips, not channel orders

    with pytest.raises(ValueError, match="self_ensemble=False, color_symmetries=True"):
        predict_image(model, image, color_symmetries=True)
    gray = build_dncnn(depth=3, filters=4, channels=1)
    with pytest.raises(ValueError, match="3 channels in, 3 out"):
        predict_image(gray, image[..., :1], self_ensemble=True, color_symmetries=True)
    with pytest.raises(ValueError, match="self_ensemble=False, color_symmetries=True"):
        restore(NLM(), image, noise_level=0.1, color_symmetries=True)
