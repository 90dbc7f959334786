"""Tests of the U-Net builders (plain and backbone encoders) and the encoder-transfer experiment."""

import numpy as np
import pytest
from conftest import assert_keras_round_trip

keras = pytest.importorskip("keras")

from tfimage.tasks.super_resolution import model_scale  # noqa: E402
from tfimage.networks.unet import (  # noqa: E402
    build_unet, build_unet_sr, required_multiple, total_stride, widen_unet,
)


def _random(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 3])
def test_plain_unet_keeps_odd_sizes(channels):
    model = build_unet(channels, filters=(4, 8, 8, 16))
    assert required_multiple(model) == total_stride(None, (4, 8, 8, 16)) == 8
    for shape in ((33, 47), (8, 8), (64, 40)):
        output = np.asarray(model(_random((2, *shape, channels))))
        assert output.shape == (2, *shape, channels)
        assert np.all(np.isfinite(output))


@pytest.mark.parametrize("encoder", ["mobilenetv3small", "vgg16"])
def test_backbone_unet_keeps_odd_sizes_with_a_mask_input(encoder):
    model = build_unet(3, encoder=encoder, filters=(4, 8, 8), extra_inputs=1)
    assert required_multiple(model) == 8
    image, mask = _random((1, 33, 47, 3)), np.ones((1, 33, 47, 1), np.float32)
    output = np.asarray(model([image, mask]))
    assert output.shape == (1, 33, 47, 3)
    gray = build_unet(1, encoder=encoder, filters=(4,), output_channels=2)
    assert np.asarray(gray(_random((1, 33, 47, 1)))).shape == (1, 33, 47, 2)


def test_frozen_backbone_and_saved_model_round_trip(tmp_path):
    model = build_unet(1, encoder="mobilenetv3small", filters=(4, 8), extra_inputs=1, encoder_trainable=False)
    backbone_weights = model.get_layer("mobilenetv3small_extractor").weights
    trainable = {id(weight) for weight in model.trainable_weights}
    assert backbone_weights and not any(id(weight) in trainable for weight in backbone_weights)
    inputs = [_random((1, 21, 19, 1)), (_random((1, 21, 19, 1), seed=1) > 0.5).astype(np.float32)]
    loaded = assert_keras_round_trip(model, inputs, tmp_path, atol=1e-6, name="unet")
    frozen = loaded.get_layer("mobilenetv3small_extractor").weights
    assert frozen and not any(id(weight) in {id(w) for w in loaded.trainable_weights} for weight in frozen)


def test_residual_unet_returns_its_input_when_the_output_layer_is_zero():
    model = build_unet(3, filters=(4, 8), residual=True)
    layer = model.get_layer("output_conv")
    layer.set_weights([np.zeros_like(weight) for weight in layer.get_weights()])
    image = _random((1, 13, 11, 3))
    np.testing.assert_allclose(np.asarray(model(image)), image, atol=1e-7)


def test_sr_unet_upscales_any_size():
    model = build_unet_sr(3, channels=1, filters=(4, 8))
    assert np.asarray(model(_random((1, 9, 14, 1)))).shape == (1, 27, 42, 1)
    assert model_scale(model) == 3


def test_bad_unet_arguments_name_themselves():
    with pytest.raises(ValueError, match="channels=2"):
        build_unet(2)
    with pytest.raises(ValueError, match="name='resnet18'"):
        build_unet(3, encoder="resnet18")
    with pytest.raises(ValueError, match="filters="):
        build_unet(3, encoder="vgg16", filters=(4, 4, 4, 4, 4, 4))
    with pytest.raises(ValueError, match="filters="):
        build_unet(3, filters=(8,))
    with pytest.raises(ValueError, match="output_channels="):
        build_unet(3, output_channels=1, residual=True)


@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_widened_unet_computes_the_same_function_with_more_channels(factor):
    keras.utils.set_random_seed(0)
    unet = build_unet(1, filters=(4, 6, 8), extra_inputs=1, residual=True)
    rng = np.random.default_rng(0)
    image, extra = rng.random((2, 21, 19, 1)).astype(np.float32), rng.random((2, 21, 19, 1)).astype(np.float32)
    for layer in unet.layers:  # nonzero biases too, so a bias copied to the wrong channel shows
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, rng.normal(0, 0.1, bias.shape).astype(np.float32)])
    wide = widen_unet(unet, factor, seed=1)
    widths = [wide.get_layer(f"enc{level}_conv1").filters for level in (1, 2, 3)]
    assert widths == [round(width * factor) for width in (4, 6, 8)]
    assert wide.count_params() > 1.8 * unet.count_params()
    np.testing.assert_allclose(np.asarray(wide([image, extra])), np.asarray(unet([image, extra])), atol=1e-5)
    # Plain copies compute it too; the symmetry-breaking noise changes the weights, not the function.
    plain = widen_unet(unet, factor, noise_stddev=0.0, seed=1)
    np.testing.assert_allclose(np.asarray(plain([image, extra])), np.asarray(unet([image, extra])), atol=1e-5)
    kernel = wide.get_layer("enc2_conv2").get_weights()[0]
    assert not np.allclose(plain.get_layer("enc2_conv2").get_weights()[0], kernel)


def test_widen_unet_refuses_bad_arguments():
    unet = build_unet(1, filters=(4, 8))
    with pytest.raises(ValueError, match="factor must be a number of at least 1. Received: factor=0.5"):
        widen_unet(unet, 0.5)
    with pytest.raises(ValueError, match="factor must be"):
        widen_unet(unet, "wide")
    with pytest.raises(ValueError, match="plain U-Net"):
        widen_unet(keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 3, name="output_conv")]))
