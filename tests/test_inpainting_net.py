"""The inpainting network: normalized-convolution fill plus a residual U-Net."""

import keras
import numpy as np
import pytest
from conftest import assert_keras_round_trip

from tfimage import degradations
from tfimage.inference import restore
from tfimage.networks.inpainting import NormalizedConvolutionFill, build_inpainting_unet


def test_fill_keeps_known_pixels_and_recovers_smooth_images():
    mask = degradations.random_mask(40, 48, 0.25, seed=(0, 0))[None]
    constant = np.full((1, 40, 48, 1), 0.3, np.float32)
    layer = NormalizedConvolutionFill()
    np.testing.assert_allclose(np.asarray(layer([constant * (1 - mask), mask])), constant, atol=1e-5)
    ramp = np.tile(np.linspace(0.1, 0.9, 48, dtype=np.float32)[None, None, :, None], (1, 40, 1, 1))
    filled = np.asarray(layer([ramp * (1 - mask), mask]))
    known = mask[..., 0] == 0
    np.testing.assert_array_equal(filled[..., 0][known], ramp[..., 0][known])
    assert np.abs(filled - ramp)[mask == 1].mean() < 0.02  # holes follow the ramp
    with pytest.raises(ValueError, match="sigmas"):
        NormalizedConvolutionFill(sigmas=(0.0,))


def test_untrained_network_returns_the_fill_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_inpainting_unet(3, filters=(4, 8), zero_init=True)
    rng = np.random.default_rng(0)
    image = np.cumsum(np.cumsum(rng.random((32, 32, 3)), 0), 1).astype(np.float32)
    image /= image.max()
    mask = degradations.random_mask(32, 32, 0.3, seed=(1, 1))
    fill = np.asarray(model.get_layer("fill")([(image * (1 - mask))[None], mask[None]]))[0]
    raw = np.asarray(model([(image * (1 - mask))[None], mask[None]]))[0]  # the network's own output, everywhere
    np.testing.assert_allclose(raw, fill, atol=1e-5)
    out = restore(model, image * (1 - mask), task="inpaint", mask=mask)  # holes from the network, the rest kept
    np.testing.assert_allclose(out, np.clip(image * (1 - mask) + mask * fill, 0, 1), atol=1e-5)
    assert_keras_round_trip(model, tmp_path=tmp_path,
                            call=lambda m: restore(m, image * (1 - mask), task="inpaint", mask=mask),
                            atol=1e-6, name="inpaint")


def test_hole_composite_keeps_known_pixels_shares_weights_and_round_trips(tmp_path):
    from tfimage.networks.inpainting import build_inpainting_unet, is_composited, with_hole_composite

    keras.utils.set_random_seed(1)
    plain = build_inpainting_unet(1, filters=(4, 8))
    composited = with_hole_composite(plain)
    assert is_composited(composited) and not is_composited(plain)
    assert with_hole_composite(composited) is composited
    rng = np.random.default_rng(2)
    image = rng.random((1, 32, 32, 1)).astype(np.float32)
    mask = degradations.random_mask(32, 32, 0.3, seed=(3, 3))[None]
    raw = np.asarray(plain([image * (1 - mask), mask]))
    out = np.asarray(composited([image, mask]))
    known = mask == 0
    np.testing.assert_array_equal(out[known], image[known])  # the input's own pixels, not the network's
    assert np.abs(raw[known] - image[known]).max() > 1e-3  # (which an untrained U-Net does not reproduce)
    np.testing.assert_allclose(out[~known], raw[~known], atol=1e-6)
    # Weights are shared, not copied: the composite follows the inner network.
    conv = [layer for layer in plain.layers[-1].layers if isinstance(layer, keras.layers.Conv2D)][-1]
    conv.set_weights([weight * 0 for weight in conv.get_weights()])
    np.testing.assert_allclose(np.asarray(composited([image, mask]))[~known],
                               np.asarray(plain([image * (1 - mask), mask]))[~known], atol=1e-6)
    built = build_inpainting_unet(1, filters=(4, 8), composite=True)
    assert is_composited(built)
    assert_keras_round_trip(composited, [image, mask], tmp_path, atol=1e-6, name="composited")
    with pytest.raises(ValueError, match="inputs"):
        with_hole_composite(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3)]))


def test_refinement_stage_starts_near_the_network_and_freezes_it(tmp_path):
    from tfimage.networks.inpainting import with_refinement_stage

    keras.utils.set_random_seed(0)
    network = build_inpainting_unet(1, filters=(4, 8), composite=True)
    rng = np.random.default_rng(1)
    image = rng.random((2, 24, 32, 1)).astype(np.float32)
    mask = np.stack([degradations.random_mask(24, 32, 0.3, seed=(index, 1)) for index in range(2)])
    single = np.asarray(network([image, mask]))
    refined = with_refinement_stage(network, correction_scale=0.1)
    output = np.asarray(refined([image, mask]))
    np.testing.assert_allclose(output[mask == 0], image[mask == 0], atol=1e-6)  # known pixels kept
    twice = np.asarray(with_refinement_stage(network, correction_scale=1.0, name="twice")([image, mask]))
    # The scaled copy moves the result a tenth as far as the full copy does.
    moved, moved_twice = np.abs(output - single).max(), np.abs(twice - single).max()
    assert 0 < moved < 0.2 * moved_twice
    assert not network.trainable and len(refined.trainable_weights) == len(network.weights)
    loaded = assert_keras_round_trip(refined, [image, mask], tmp_path, expected=output, atol=1e-6, name="refined")
    assert len(loaded.trainable_weights) == len(network.weights)
    with pytest.raises(ValueError, match="residual U-Net"):
        with_refinement_stage(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3)]))
    with pytest.raises(ValueError, match="correction_scale"):
        with_refinement_stage(build_inpainting_unet(1, filters=(4, 8)), correction_scale=0)


def test_refinement_stage_of_a_cascade_copies_its_last_stage(tmp_path):
    from tfimage.networks.inpainting import with_refinement_stage, with_wider_refinement

    keras.utils.set_random_seed(0)
    network = build_inpainting_unet(1, filters=(4, 8), composite=True)
    cascade = with_refinement_stage(network, correction_scale=0.5)
    second = cascade.get_layer("refine_unet")
    second.get_layer("enc1_conv1").set_weights([w + 0.05 for w in second.get_layer("enc1_conv1").get_weights()])
    third = with_refinement_stage(cascade, correction_scale=0.1)
    added = third.get_layer("refine_unet")
    assert added is not second
    # The new stage is a copy of the second stage (not of the first), its output convolution x0.1.
    for layer in added.layers:
        if layer.weights and layer.name != "output_conv":
            for new, old in zip(layer.get_weights(), second.get_layer(layer.name).get_weights()):
                np.testing.assert_allclose(new, old)
    np.testing.assert_allclose(added.get_layer("output_conv").get_weights()[0],
                               0.1 * second.get_layer("output_conv").get_weights()[0], rtol=1e-6)
    assert not cascade.trainable and len(third.trainable_weights) == len(added.weights)
    rng = np.random.default_rng(3)
    image = rng.random((2, 24, 32, 1)).astype(np.float32)
    mask = np.stack([degradations.random_mask(24, 32, 0.3, seed=(index, 3)) for index in range(2)])
    output = np.asarray(third([image, mask]))
    np.testing.assert_allclose(output[mask == 0], image[mask == 0], atol=1e-6)
    assert_keras_round_trip(third, [image, mask], tmp_path, expected=output, atol=1e-6, name="three")
    # Widening a three-stage cascade widens its last stage and keeps the function.
    wide = with_wider_refinement(third, factor=2)
    assert wide.get_layer("refine_unet").get_layer("enc1_conv1").filters == 8
    assert second.get_layer("enc1_conv1").filters == 4
    np.testing.assert_allclose(np.asarray(wide([image, mask])), output, atol=1e-5)


def test_wider_refinement_starts_as_the_same_cascade_and_saves(tmp_path):
    from tfimage.networks.inpainting import with_refinement_stage, with_wider_refinement

    keras.utils.set_random_seed(0)
    network = build_inpainting_unet(1, filters=(4, 8), composite=True)
    cascade = with_refinement_stage(network, correction_scale=0.5)
    rng = np.random.default_rng(2)
    image = rng.random((2, 24, 32, 1)).astype(np.float32)
    mask = np.stack([degradations.random_mask(24, 32, 0.3, seed=(index, 2)) for index in range(2)])
    wide = with_wider_refinement(cascade, factor=2)
    np.testing.assert_allclose(np.asarray(wide([image, mask])), np.asarray(cascade([image, mask])), atol=1e-5)
    assert wide.get_layer("refine_unet").get_layer("enc1_conv1").filters == 8
    assert len(wide.trainable_weights) == len(wide.get_layer("refine_unet").weights)  # the first stage frozen
    assert_keras_round_trip(wide, [image, mask], tmp_path, expected=np.asarray(cascade([image, mask])), atol=1e-5,
                            name="wide")
    with pytest.raises(ValueError, match="inpainting cascade"):
        with_wider_refinement(network)
