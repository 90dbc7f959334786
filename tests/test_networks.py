"""Tests of the DnCNN and FFDNet builders and FFDNet's custom layers."""

import numpy as np
import pytest
from conftest import assert_keras_round_trip

keras = pytest.importorskip("keras")

from tfimage.networks.dncnn import build_dncnn  # noqa: E402
from tfimage.networks.ffdnet import (  # noqa: E402
    PadToMultiple,
    PixelShuffle,
    PixelUnshuffle,
    build_ffdnet,
)


def _random(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(33, 17), (16, 20)])
def test_dncnn_keeps_any_size(channels, size):
    model = build_dncnn(depth=3, filters=4, channels=channels)
    image = _random((2, *size, channels))
    output = np.asarray(model(image))
    assert output.shape == image.shape
    assert np.all(np.isfinite(output))


def test_dncnn_is_residual_and_has_the_official_layout():
    model = build_dncnn(depth=5, filters=4, channels=1)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) == 5
    assert all(conv.use_bias for conv in convs)
    assert convs[-1].filters == 1
    # With the noise-predicting layer zeroed the model returns its input.
    convs[-1].set_weights([np.zeros_like(w) for w in convs[-1].get_weights()])
    image = _random((1, 12, 9, 1))
    np.testing.assert_allclose(np.asarray(model(image)), image, atol=1e-7)


def test_dncnn_batch_norm_layout():
    model = build_dncnn(depth=5, filters=4, channels=1, batch_norm=True)
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(norms) == 3
    assert [conv.use_bias for conv in convs] == [True, False, False, False, False]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(33, 17), (15, 15), (16, 22)])
def test_ffdnet_keeps_any_size_and_uses_the_noise_level(channels, size):
    model = build_ffdnet(channels=channels, depth=3, filters=4)
    image = _random((2, *size, channels))
    low = np.asarray(model([image, np.full((2, 1), 0.05, np.float32)]))
    high = np.asarray(model([image, np.full((2, 1), 0.5, np.float32)]))
    assert low.shape == image.shape
    assert not np.allclose(low, high)


def test_pixel_unshuffle_follows_the_matconvnet_order():
    image = _random((2, 6, 8, 3))
    unshuffled = np.asarray(PixelUnshuffle(scale=2)(image))
    assert unshuffled.shape == (2, 3, 4, 12)
    for channel in range(3):
        for index in range(4):
            row, col = index % 2, index // 2
            np.testing.assert_array_equal(
                unshuffled[..., channel * 4 + index], image[:, row::2, col::2, channel]
            )


def test_pixel_shuffle_is_the_exact_inverse():
    import tensorflow as tf

    image = _random((2, 6, 8, 3))
    for order in ("matconvnet", "tensorflow"):
        down = PixelUnshuffle(scale=2, channel_order=order)(image)
        up = np.asarray(PixelShuffle(scale=2, channel_order=order)(down))
        np.testing.assert_array_equal(up, image)
    features = _random((1, 3, 4, 8))
    np.testing.assert_array_equal(
        np.asarray(PixelUnshuffle(channel_order="tensorflow")(image)),
        tf.nn.space_to_depth(image, 2).numpy(),
    )
    np.testing.assert_array_equal(
        np.asarray(PixelUnshuffle()(PixelShuffle()(features))), features
    )


def test_pad_to_even_repeats_the_last_row_and_column():
    image = _random((1, 5, 7, 1))
    padded = np.asarray(PadToMultiple(multiple=2)(image))
    assert padded.shape == (1, 6, 8, 1)
    np.testing.assert_array_equal(padded[:, :5, :7], image)
    np.testing.assert_array_equal(padded[:, 5, :7], image[:, 4])
    np.testing.assert_array_equal(padded[:, :5, 7], image[:, :, 6])


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="depth=1"):
        build_dncnn(depth=1)
    with pytest.raises(ValueError, match="channels=2"):
        build_ffdnet(channels=2)
    with pytest.raises(ValueError, match="channel_order"):
        PixelUnshuffle(channel_order="pytorch")


def test_keras_round_trip_gives_identical_outputs(tmp_path):
    image = _random((1, 21, 14, 3), seed=1)
    sigma = np.full((1, 1), 0.1, np.float32)
    for model, inputs in (
        (build_dncnn(depth=3, filters=4, channels=3), image),
        (build_ffdnet(channels=3, depth=3, filters=4), [image, sigma]),
    ):
        assert_keras_round_trip(model, inputs, tmp_path)
