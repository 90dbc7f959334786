"""Tests of the Keras Applications feature extractors and the perceptual loss."""

import time

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tfimage import backbones  # noqa: E402


def _random(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("name", backbones.backbone_names())
def test_each_backbone_returns_the_requested_layers_at_32x32(name):
    strides = backbones.stride_layers(name)
    layers = [strides[2], strides[8], strides[16]]
    model = backbones.feature_extractor(name, layers, weights=None, input_shape=(32, 32, 3))
    outputs = model(_random((2, 32, 32, 3)))
    assert len(outputs) == 3
    assert [tuple(output.shape[:3]) for output in outputs] == [(2, 16, 16), (2, 4, 4), (2, 2, 2)]
    for layer, output in zip(layers, outputs):
        inner = model.get_layer(f"{backbones._spec(name)[0]}_features").get_layer(layer)
        assert output.shape[-1] == inner.output.shape[-1]
    assert not model.trainable_weights  # frozen by default


def test_gray_input_is_repeated_to_rgb():
    gray = backbones.feature_extractor("vgg16", "block1_conv2", weights=None, input_shape=(None, None, 1))
    rgb = backbones.feature_extractor("vgg16", "block1_conv2", weights=None, input_shape=(None, None, 3))
    rgb.set_weights(gray.get_weights())
    image = _random((1, 33, 35, 1))
    np.testing.assert_allclose(
        np.asarray(gray(image)), np.asarray(rgb(np.repeat(image, 3, axis=-1))), rtol=1e-5, atol=1e-4
    )


def test_preprocessing_modes_match_keras_applications():
    image = _random((1, 4, 5, 3))
    caffe = np.asarray(backbones.ImageNetPreprocess("caffe")(image))
    expected = keras.applications.vgg16.preprocess_input(image * 255.0)
    np.testing.assert_allclose(caffe, expected, atol=1e-3)
    tf_mode = np.asarray(backbones.ImageNetPreprocess("tf")(image))
    np.testing.assert_allclose(tf_mode, keras.applications.mobilenet_v2.preprocess_input(image * 255.0), atol=1e-5)
    layer = backbones.ImageNetPreprocess("raw255")
    assert backbones.ImageNetPreprocess.from_config(layer.get_config()).mode == "raw255"
    with pytest.raises(ValueError, match="mode="):
        backbones.ImageNetPreprocess("torch")


def test_offline_imagenet_weights_fail_fast_with_a_way_out(tmp_path, monkeypatch):
    monkeypatch.setattr(backbones, "weights_cache_dir", lambda: str(tmp_path))
    monkeypatch.setattr(backbones, "_can_download", lambda: False)
    start = time.perf_counter()
    with pytest.raises(ValueError) as error:
        backbones.feature_extractor("resnet50", weights="imagenet")
    assert time.perf_counter() - start < 2.0
    message = str(error.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "weights='/path/to/" in message and "Received: weights='imagenet'" in message


def test_really_offline_imagenet_weights_fail_within_seconds():
    if backbones._can_download():
        pytest.skip("online: the weights would download")
    start = time.perf_counter()
    with pytest.raises(ValueError, match="weights="):
        backbones.feature_extractor("mobilenetv3small", weights="imagenet")
    assert time.perf_counter() - start < backbones.DOWNLOAD_PROBE_TIMEOUT + 2


def test_local_weights_file_is_loaded(tmp_path):
    source = backbones.build_backbone("mobilenetv3small", weights=None)
    path = str(tmp_path / "mobilenet.weights.h5")
    source.save_weights(path)
    layer = backbones.stride_layers("mobilenetv3small")[8]
    loaded = backbones.feature_extractor("mobilenetv3small", layer, weights=path, input_shape=(32, 32, 3))
    reference = keras.Model(source.input, source.get_layer(layer).output)
    image = _random((1, 32, 32, 3))
    expected = reference(backbones.ImageNetPreprocess("raw255")(image))
    np.testing.assert_allclose(np.asarray(loaded(image)), np.asarray(expected), rtol=1e-4, atol=1e-4)


def test_bad_arguments_name_themselves(tmp_path):
    with pytest.raises(ValueError, match="name='alexnet'"):
        backbones.feature_extractor("alexnet", weights=None)
    with pytest.raises(ValueError, match="weights="):
        backbones.feature_extractor("vgg16", weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="layers="):
        backbones.feature_extractor("vgg16", ["block9_conv1"], weights=None)
    with pytest.raises(ValueError, match="input_shape="):
        backbones.feature_extractor("efficientnetb0", weights=None, input_shape=(16, 16, 3))


def test_perceptual_loss_is_zero_for_identical_images_and_positive_otherwise():
    extractor = backbones.feature_extractor("vgg16", weights=None, input_shape=(None, None, 3))
    loss = backbones.perceptual_loss(extractor)
    clean = _random((2, 32, 32, 3))
    same = np.asarray(loss(clean, clean))
    assert same.shape == (2,)
    np.testing.assert_allclose(same, 0.0, atol=1e-6)
    noisy = np.clip(clean + 0.1 * _random((2, 32, 32, 3), seed=1), 0, 1)
    different = np.asarray(loss(clean, noisy))
    assert np.all(different > 0)
    only_first = np.asarray(backbones.perceptual_loss(extractor, layer_weights=[1.0, 0.0])(clean, noisy))
    assert np.all(only_first < different)
    with pytest.raises(ValueError, match="layer_weights="):
        backbones.perceptual_loss(extractor, layer_weights=[1.0])
