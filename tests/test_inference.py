"""Tests of `tfimage.inference.restore`: every task, whole-image and tiled, self-ensembles and errors."""

import os

import numpy as np
import pytest

from conftest import mean_of_undone_views, require_set

keras = pytest.importorskip("keras")

from tfimage import baselines, degradations, execution, io, metrics, zoo  # noqa: E402
from tfimage.inference import restore  # noqa: E402
from tfimage.networks.dncnn import build_dncnn  # noqa: E402
from tfimage.networks.edsr import build_edsr  # noqa: E402
from tfimage.networks.espcn import build_espcn  # noqa: E402
from tfimage.networks.ffdnet import build_ffdnet  # noqa: E402
from tfimage.networks.unet import build_unet  # noqa: E402


def _psnr(restored, clean):
    return 10.0 * np.log10(1.0 / np.mean((np.clip(restored, 0, 1) - clean) ** 2))


def _image(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_dncnn():
    keras.utils.set_random_seed(0)
    return build_dncnn(depth=3, filters=4, channels=1)


@pytest.fixture(scope="module")
def tiny_inpainter():
    keras.utils.set_random_seed(0)
    return build_unet(1, filters=(4, 8), extra_inputs=1)


# ---------------------------------------------------------------- tiled == untiled


def test_tiled_equals_untiled_on_a_tiny_network(tiny_dncnn):
    # depth 3: receptive-field radius 3, so an overlap of 8 is exact.
    image = _image((70, 53, 1))
    whole = restore(tiny_dncnn, image)
    tiled = restore(tiny_dncnn, image, tile=24, overlap=8)
    assert whole.shape == tiled.shape == image.shape
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert whole.min() >= 0.0 and whole.max() <= 1.0


def test_tiled_ffdnet_matches_on_odd_sizes():
    keras.utils.set_random_seed(0)
    model = build_ffdnet(channels=3, depth=3, filters=4)
    image = _image((45, 61, 3))
    whole = restore(model, image, noise_level=0.1)
    tiled = restore(model, image, noise_level=0.1, tile=32, overlap=12)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_tiled_sr_equals_untiled_on_a_tiny_edsr():
    # 1 block: 5 convolutions (radius 5) and a bicubic skip (radius 2); a margin of 8 covers them.
    keras.utils.set_random_seed(0)
    model = build_edsr(2, channels=1, filters=4, blocks=1)
    tail = model.get_layer("tail")  # (zero-initialised: the untrained model would be plain bicubic)
    kernel, bias = tail.get_weights()
    tail.set_weights([np.random.default_rng(3).normal(0, 0.3, kernel.shape).astype(np.float32), bias])
    low_res = _image((61, 90, 1), seed=1)
    whole = restore(model, low_res, task="sr", scale=2)
    tiled = restore(model, low_res, task="sr", scale=2, tile=40, overlap=16)  # 2 x 3 tiles
    assert whole.shape == tiled.shape == (122, 180, 1)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    # A margin of 4 does not cover the receptive field: the seams show (measured: 0.013).
    assert np.abs(restore(model, low_res, task="sr", scale=2, tile=24, overlap=8) - whole).max() > 1e-3


def test_tiled_inpainting_equals_untiled_on_a_tiny_unet(tiny_inpainter):
    # One pooling level: tiles agree from a margin of 10 pixels on (measured), so overlap 24 is exact.
    image = _image((100, 130, 3), seed=2)  # a gray model fills R, G and B per channel
    mask = degradations.random_mask(100, 130, 0.3, seed=(0, 1))
    known = image * (1 - mask)
    whole = restore(tiny_inpainter, known, task="inpaint", mask=mask)
    tiled = restore(tiny_inpainter, known, task="inpaint", mask=mask, tile=64, overlap=24)  # 2 x 3 tiles
    assert whole.shape == tiled.shape == image.shape
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    np.testing.assert_array_equal(tiled * (1 - mask), known)  # known pixels untouched
    # A margin of 8 pixels is too small: the seams show (measured: 3.7e-3).
    seamed = restore(tiny_inpainter, known, task="inpaint", mask=mask, tile=40, overlap=16)
    assert np.abs(seamed - whole).max() > 1e-3


@pytest.mark.data
def test_tiled_equals_untiled_on_set12_with_dncnn_s25():
    folder = require_set("set12")
    require_set("dncnn_matconvnet")
    clean = io.read_image(os.path.join(folder, "01.png"), channels=1)
    noisy = clean + np.random.default_rng(0).normal(0, 25 / 255, clean.shape).astype(np.float32)
    model = zoo.load("dncnn-s25")
    whole = restore(model, noisy)
    tiled = restore(model, noisy, tile=128, overlap=32)
    assert abs(_psnr(tiled, clean) - _psnr(whole, clean)) < 0.01
    assert _psnr(whole, clean) > 29.5


@pytest.mark.data
def test_tiled_sr_x4_equals_untiled_on_a_set5_image():
    path = io.list_images(require_set("set5"))[0]  # baby, 512x512: a 128x128 low-resolution image
    model = zoo.load("tfimage-sr-x4")
    from tfimage.tasks.super_resolution import sr_metrics, sr_pair

    hr, lr = sr_pair(io.read_image(path), 4)
    whole = restore(model, lr, task="sr", scale=4)
    # 48-pixel tiles (4 x 4 of them) with an overlap of 20: each kept pixel has 10 low-resolution pixels of
    # context. Measured: max |tiled - whole| 1.9e-6 (overlap 16, 8 pixels of context: 1.8e-4).
    tiled = restore(model, lr, task="sr", scale=4, tile=48, overlap=20)
    assert tiled.shape == whole.shape == hr.shape
    assert np.abs(tiled - whole).max() < 1e-4
    assert sr_metrics(hr, tiled, 4)[0] == pytest.approx(sr_metrics(hr, whole, 4)[0], abs=1e-4)


@pytest.mark.data
@pytest.mark.slow
def test_tiled_inpainting_is_close_to_untiled_on_a_cbsd68_image():
    path = io.list_images(require_set("cbsd68"))[0]  # 481x321
    model = zoo.load("tfimage-inpaint")
    clean = io.read_image(path, channels=3)
    mask = degradations.random_mask(clean.shape[0], clean.shape[1], 0.25, seed=(0, 0))
    masked = clean * (1 - mask)
    whole = restore(model, masked, task="inpaint", mask=mask)
    # The fill's Gaussians (sigma up to 16) and three U-Net stages see well over 100 pixels, so no practical
    # overlap is exact. Measured with 256-pixel tiles (2 x 2): overlap 96, max |tiled - whole| 8.7e-4, PSNR
    # between them 99.6 dB; overlap 64 with 192-pixel tiles: 1.8e-2 and 70.3 dB.
    tiled = restore(model, masked, task="inpaint", mask=mask, tile=256, overlap=96)
    np.testing.assert_array_equal(tiled * (1 - mask), masked)
    assert np.abs(tiled - whole).max() < 1e-3
    assert float(metrics.psnr(whole, tiled)) > 98.0
    assert float(metrics.psnr(clean, tiled)) == pytest.approx(float(metrics.psnr(clean, whole)), abs=1e-3)


# ---------------------------------------------------------------- errors


def test_restore_errors_name_the_argument(tiny_dncnn, tiny_inpainter):
    image = _image((16, 16, 1))
    with pytest.raises(ValueError, match="task='dehaze'"):
        restore(tiny_dncnn, image, task="dehaze")
    with pytest.raises(ValueError, match="takes only noise_level=. Received: mask="):
        restore(tiny_dncnn, image, mask=np.zeros((16, 16)))
    with pytest.raises(ValueError, match="takes only scale=, kernel=, noise_level=. Received: mask="):
        restore(build_espcn(2, channels=1, filters=(4, 4)), image, task="sr", scale=2, mask=image)
    with pytest.raises(ValueError, match="scale=None"):
        restore(build_espcn(2, channels=1, filters=(4, 4)), image, task="sr")
    with pytest.raises(ValueError, match="'inpaint' task, not 'denoise'. Received: model=telea"):
        restore(zoo.load("telea"), image, noise_level=0.1)
    with pytest.raises(ValueError, match="'denoise' task, not 'sr'. Received: model=nlm"):
        restore(zoo.load("nlm"), image, task="sr", scale=2)
    for extra in ({"self_ensemble": True}, {"self_ensemble": True, "color_symmetries": True}):
        with pytest.raises(ValueError, match="model=bm3d, self_ensemble=True"):
            restore(zoo.load("bm3d"), image, noise_level=0.1, **extra)
    with pytest.raises(ValueError, match="model=bicubic, self_ensemble=True"):
        restore(zoo.load("bicubic"), image, task="sr", scale=2, self_ensemble=True)
    with pytest.raises(ValueError, match="tile=40"):
        restore(tiny_dncnn, _image((64, 64, 1)), tile=40, overlap=32)
    with pytest.raises(ValueError, match="overlap=-1"):
        restore(tiny_dncnn, _image((64, 64, 1)), tile=64, overlap=-1)
    nan = image.copy()
    nan[3, 4, 0] = np.nan
    cases = {  # task: (model, inputs)
        "denoise": (tiny_dncnn, {}),
        "sr": (build_espcn(2, channels=1, filters=(4, 4)), {"scale": 2}),
        "inpaint": (tiny_inpainter, {"mask": np.zeros((16, 16))}),
    }
    for task, (model, inputs) in cases.items():
        for target in (model, zoo.load({"denoise": "nlm", "sr": "bicubic", "inpaint": "telea"}[task])):
            with pytest.raises(ValueError, match="NaN or infinite.*Received: image"):
                restore(target, nan, task=task, **inputs)
    with pytest.raises(ValueError, match=r"at least 8x8.*Received: image with shape=\(4, 4, 1\)"):
        restore(tiny_dncnn, _image((4, 4, 1)))
    with pytest.raises(ValueError, match=r"at least 8x8.*Received: image"):
        restore(zoo.load("nlm"), _image((4, 4, 1)))
    with pytest.raises(ValueError, match=r"too small.*at least 4x4.*Received: image with shape=\(3, 9, 1\)"):
        restore(build_espcn(2, channels=1, filters=(4, 4)), _image((3, 9, 1)), task="sr", scale=2)
    with pytest.raises(ValueError, match=r"at least 8x8.*Received: image with shape=\(6, 16, 1\)"):
        restore(tiny_inpainter, _image((6, 16, 1)), task="inpaint", mask=np.zeros((6, 16)))
    with pytest.raises(ValueError, match="image with shape=\\(16,\\)"):
        restore(tiny_dncnn, np.zeros(16, np.float32))


def test_an_image_too_small_for_the_encoder_is_refused():
    network = build_unet(3, encoder="mobilenetv3small", filters=(4, 4, 4, 4), extra_inputs=1)  # stride 16
    image = np.zeros((12, 40, 3), np.float32)
    with pytest.raises(ValueError, match="too small.*16x16.*image"):
        restore(network, image, task="inpaint", mask=np.zeros((12, 40, 1), np.float32))
    with pytest.raises(ValueError, match=r"\[image, mask\]"):  # (a same-size network would be a denoiser: PnP)
        restore(build_espcn(2, filters=(4, 4)), image[:, :16], task="inpaint", mask=np.zeros((12, 16)))


def test_sr_scale_must_be_the_models():
    with pytest.raises(ValueError, match="upscales by 2.*scale=4"):
        restore(build_espcn(2, filters=(4, 4)), np.zeros((16, 16, 3), np.float32), task="sr", scale=4)
    with pytest.raises(ValueError, match="scale=5"):
        restore(zoo.load("bicubic"), np.zeros((16, 16, 3), np.float32), task="sr", scale=5)


def test_an_inpainting_model_is_refused_where_a_noise_level_is_expected(tmp_path, tiny_inpainter):
    from tfimage import export
    from tfimage.networks.inpainting import build_inpainting_unet

    model = build_inpainting_unet(1, filters=(4, 8))
    image = _image((32, 32, 1))
    for network in (model, tiny_inpainter):
        with pytest.raises(ValueError, match="inpainting model"):
            restore(network, image, noise_level=0.1)
    with pytest.raises(ValueError, match="inpainting model"):
        export.export_model(model, str(tmp_path / "served"))


# ---------------------------------------------------------------- denoising inputs and channels


def test_noise_levels_are_estimated_dropped_or_checked(tiny_dncnn):
    image = _image((24, 20, 1))
    # A noise level is dropped for models without a noise-level input.
    np.testing.assert_array_equal(restore(tiny_dncnn, image, noise_level=0.1), restore(tiny_dncnn, image))
    keras.utils.set_random_seed(0)
    ffdnet = build_ffdnet(channels=1, depth=3, filters=4)
    blind = restore(ffdnet, image)  # noise level estimated from the image
    level = baselines.estimate_noise_stddev(image)
    np.testing.assert_array_equal(blind, restore(ffdnet, image, noise_level=level))
    assert np.abs(blind - restore(ffdnet, image, noise_level=0.0)).max() > 1e-4  # (the level matters)
    for bad in (25, -0.1, float("nan"), [0.1, 0.2]):
        with pytest.raises(ValueError, match=r"noise_level must be one number in \[0, 1\].*Received: noise_level="):
            restore(ffdnet, image, noise_level=bad)

    class Identity:
        task = "denoise"
        channels = None
        noise_level_input = False

        def predict_image(self, image, noise_level=None):
            return image

    np.testing.assert_array_equal(restore(Identity(), image, noise_level=0.1), image)


def test_channel_mismatch_is_converted(tiny_dncnn):
    color = _image((16, 16, 3))
    with pytest.warns(UserWarning, match="gray"):
        output = restore(tiny_dncnn, color)
    assert output.shape == (16, 16, 1)
    assert restore(tiny_dncnn, color[:, :, 0]).shape == (16, 16, 1)


def test_gray_image_to_a_color_model_is_converted():
    gray = _image((16, 16, 1))
    with pytest.warns(UserWarning, match="RGB"):
        output = restore(build_dncnn(depth=3, filters=4, channels=3), gray)
    assert output.shape == (16, 16, 3)


def test_restorer_runs_through_restore():
    from tfimage.models.restorer import Restorer

    keras.utils.set_random_seed(0)
    restorer = Restorer(network=build_ffdnet(channels=1, depth=3, filters=4), noise_level_input=True)
    image = _image((20, 18, 1))
    output = restore(restorer, image, noise_level=0.1)
    expected = restore(restorer.network, image, noise_level=0.1)
    np.testing.assert_array_equal(output, expected)
    eager = np.asarray(restorer.network([image[None], np.full((1, 1), 0.1, np.float32)]))[0]
    np.testing.assert_allclose(output, np.clip(eager, 0, 1), atol=1e-6)


# ---------------------------------------------------------------- self-ensembles


def test_self_ensemble_averages_the_eight_undone_views(tiny_dncnn):
    image = _image((20, 27, 1), seed=3)
    single = restore(tiny_dncnn, image)
    ensemble = restore(tiny_dncnn, image, self_ensemble=True)
    expected = mean_of_undone_views(lambda view: np.asarray(tiny_dncnn(view[None]))[0], image)
    assert ensemble.shape == image.shape  # (a non-square image comes back the right way round)
    np.testing.assert_allclose(ensemble, np.clip(expected, 0, 1), atol=1e-5)
    assert np.abs(ensemble - single).max() > 1e-4  # the random network is not flip-invariant
    tiled = restore(tiny_dncnn, image, self_ensemble=True, tile=16, overlap=4)
    np.testing.assert_allclose(tiled, ensemble, atol=1e-5)


def test_sr_self_ensemble_undoes_each_view():
    keras.utils.set_random_seed(0)
    network = build_espcn(3, channels=1)
    low_res = _image((10, 13, 1))
    expected = mean_of_undone_views(lambda view: np.asarray(network(view[None]))[0], low_res)
    ensemble = restore(network, low_res, task="sr", scale=3, self_ensemble=True)
    assert ensemble.shape == (30, 39, 1)
    np.testing.assert_allclose(ensemble, np.clip(expected, 0, 1), atol=1e-5)
    single = restore(network, low_res, task="sr", scale=3)
    assert np.abs(ensemble - single).max() > 1e-4


def test_inpainting_self_ensemble_averages_the_undone_views(tiny_inpainter):
    network = tiny_inpainter
    image = _image((16, 24, 3))  # a gray model, per channel
    hole = degradations.random_mask(16, 24, 0.3, seed=2)
    known = image * (1 - hole)

    def fill(view):  # R, G and B as three gray images; the mask is the last channel
        channels = np.transpose(view[..., :3], (2, 0, 1))[..., None]
        out = np.asarray(network([channels, np.repeat(view[None, ..., 3:], 3, axis=0)]))[..., 0]
        return np.transpose(out, (1, 2, 0))

    expected = np.clip(known + hole * mean_of_undone_views(fill, np.concatenate([known, hole], -1)), 0, 1)
    ensemble = restore(network, known, task="inpaint", mask=hole, self_ensemble=True)
    np.testing.assert_allclose(ensemble, expected, atol=1e-5)
    # Its UpSampling2D needs known sizes in a graph: each image size got its own trace instead.
    assert execution._GRAPH_CALLS[network].generic is None
    single = restore(network, known, task="inpaint", mask=hole)
    assert np.abs(ensemble - single).max() > 1e-4  # the U-Net is not flip-equivariant: the views differ
    with pytest.raises(ValueError, match="self_ensemble=True"):
        restore(zoo.load("telea"), known, task="inpaint", mask=hole, self_ensemble=True)


@pytest.mark.data
def test_self_ensemble_improves_dncnn_s25_on_set12():
    folder = require_set("set12")
    require_set("dncnn_matconvnet")
    model = zoo.load("dncnn-s25")
    gains = []
    for index, name in enumerate(("02.png", "05.png")):
        clean = io.read_image(os.path.join(folder, name), channels=1)[:128, :128]
        noisy = clean + np.random.default_rng(index).normal(0, 25 / 255, clean.shape).astype(np.float32)
        single = _psnr(restore(model, noisy), clean)
        gains.append(_psnr(restore(model, noisy, self_ensemble=True), clean) - single)
    assert 0.03 < np.mean(gains) < 0.5


def _channel_affine_model(weights, biases):
    """A 3-channel model y_c = w_c * x_c + b_c: not invariant to reordering or inverting the channels."""
    inputs = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(3, 1)
    outputs = conv(inputs)
    conv.set_weights([np.diag(weights).astype(np.float32)[None, None], np.asarray(biases, np.float32)])
    return keras.Model(inputs, outputs)


def test_color_symmetries_run_the_color_views_and_are_checked():
    # The views' arithmetic is checked against a closed form in test_execution.py; here restore runs them.
    image = _image((20, 27, 3), seed=4)
    identity = _channel_affine_model([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(restore(identity, image, self_ensemble=True, color_symmetries=True), image, atol=1e-6)

    weights, biases = np.array([0.9, 0.7, 0.5]), np.array([0.05, 0.1, 0.2])
    model = _channel_affine_model(weights, biases)
    ensemble = restore(model, image, self_ensemble=True, color_symmetries=True)
    expected = execution.color_symmetry_self_ensemble(lambda view: view * weights + biases, image)
    np.testing.assert_allclose(ensemble, np.clip(expected, 0, 1), atol=1e-5)
    geometric = restore(model, image, self_ensemble=True)
    assert np.abs(ensemble - geometric).max() > 0.05  # the pointwise model ignores flips, not channel orders

    with pytest.raises(ValueError, match="self_ensemble=False, color_symmetries=True"):
        restore(model, image, color_symmetries=True)
    gray = build_dncnn(depth=3, filters=4, channels=1)
    with pytest.raises(ValueError, match="3 channels in, 3 out"):
        restore(gray, image[..., :1], self_ensemble=True, color_symmetries=True)
    with pytest.raises(ValueError, match="self_ensemble=False, color_symmetries=True"):
        restore(zoo.load("nlm"), image, noise_level=0.1, color_symmetries=True)
    with pytest.raises(ValueError, match="not to the sr task"):
        restore(build_espcn(2, filters=(4, 4)), image, task="sr", scale=2, self_ensemble=True, color_symmetries=True)
