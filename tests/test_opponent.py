"""Gray-to-color transfer through an opponent color space (`tfimage.networks.opponent`)."""

import json
import os

import keras
import numpy as np
import pytest

from conftest import assert_keras_round_trip

from tfimage import training
from tfimage.networks.ffdnet import build_ffdnet
from tfimage.networks.opponent import OPPONENT, build_opponent_color


def _identity_gray():
    image = keras.Input(shape=(None, None, 1))
    level = keras.Input(shape=(1,))
    return keras.Model([image, level], image, name="identity")


def _probe_gray():
    """Output = image + noise level: shows which level each channel got."""
    image = keras.Input(shape=(None, None, 1))
    level = keras.Input(shape=(1,))
    shifted = keras.layers.Lambda(lambda pair: pair[0] + pair[1][:, None, None, :])([image, level])
    return keras.Model([image, level], shifted, name="probe")


def test_opponent_transform_is_orthonormal_and_the_model_is_exact_around_identity():
    np.testing.assert_allclose(OPPONENT @ OPPONENT.T, np.eye(3), atol=1e-6)
    model = build_opponent_color(_identity_gray())
    rgb = np.random.default_rng(0).random((2, 9, 7, 3)).astype(np.float32)
    out = np.asarray(model([rgb, np.full((2, 1), 0.1, np.float32)]))
    np.testing.assert_allclose(out, rgb, atol=1e-5)


@pytest.mark.parametrize("unit_range", [False, True])
def test_each_channel_gets_its_own_noise_level_and_images_stay_apart(unit_range):
    model = build_opponent_color(_probe_gray(), chroma_noise_factor=2.0, unit_range=unit_range)
    rgb = np.random.default_rng(1).random((2, 5, 4, 3)).astype(np.float32)
    levels = np.array([[0.1], [0.2]], np.float32)
    out = np.asarray(model([rgb, levels]))
    for index in range(2):
        # In the orthonormal opponent space: with unit_range the channels and their levels are scaled alike,
        # so the probe's shift by its level comes back as the same shift.
        added = np.array([1.0, 2.0, 2.0]) * levels[index, 0]
        np.testing.assert_allclose(out[index], rgb[index] + added @ OPPONENT, atol=1e-5)


def test_unit_range_channels_span_zero_to_one_and_invert_exactly():
    from tfimage.networks.opponent import OpponentColor

    corners = np.array([[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], np.float32)[None, None]
    unit = np.asarray(OpponentColor(unit_range=True)(corners))[0, 0]
    np.testing.assert_allclose(unit.min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(unit.max(axis=0), 1.0, atol=1e-6)
    assert np.asarray(OpponentColor()(corners))[..., 0].max() > 1.7  # the orthonormal luminance leaves [0, 1]
    rgb = np.random.default_rng(5).random((2, 6, 5, 3)).astype(np.float32)
    back = OpponentColor(inverse=True, unit_range=True)(OpponentColor(unit_range=True)(rgb))
    np.testing.assert_allclose(np.asarray(back), rgb, atol=1e-5)
    model = build_opponent_color(_identity_gray(), unit_range=True)
    np.testing.assert_allclose(np.asarray(model([rgb, np.full((2, 1), 0.1, np.float32)])), rgb, atol=1e-5)
    restored = OpponentColor.from_config(OpponentColor(unit_range=True).get_config())
    assert restored.unit_range
    assert not OpponentColor.from_config({"inverse": False, "chroma_offset": 0.5}).unit_range  # older files


def test_round_trip_and_bad_network(tmp_path):
    keras.utils.set_random_seed(0)
    model = build_opponent_color(build_ffdnet(channels=1, depth=3, filters=4, residual=True))
    rgb = np.random.default_rng(2).random((1, 10, 12, 3)).astype(np.float32)
    level = np.full((1, 1), 0.1, np.float32)
    assert_keras_round_trip(model, [rgb, level], tmp_path, atol=1e-6, name="color")
    with pytest.raises(ValueError, match="gray network"):
        build_opponent_color(build_ffdnet(channels=3, depth=3, filters=4))


def _tiny_color_fine_tune(tmp_path, **options):
    """Saves a tiny gray FFDNet and fine-tunes it as an opponent color model for 2 steps."""
    keras.utils.set_random_seed(0)
    gray = str(tmp_path / "gray.keras")
    build_ffdnet(channels=1, depth=3, filters=4, residual=True).save(gray)
    out = str(tmp_path / "run")
    history = training.train_denoiser(
        "bundled-color", out, init=gray, opponent_color=True, sigma_range=(0, 55), patch_size=16, batch_size=2,
        steps=2, steps_per_epoch=2, validation_images=1, tensorboard=False, verbose=0, **options,
    )
    assert np.isfinite(history.history["val_psnr"][-1])
    return gray, keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)


def test_fine_tuning_a_gray_network_as_a_color_model(tmp_path):
    gray, model = _tiny_color_fine_tune(tmp_path)
    assert model.inputs[0].shape[-1] == 3 and len(model.inputs) == 2
    with open(tmp_path / "run" / "train_config.json") as stream:
        config = json.load(stream)
    assert config["opponent_color"] is True and config["channels"] == 3 and config["arch"] is None
    with pytest.raises(ValueError, match="opponent_color .* needs task='denoise' and a gray init"):
        training.train_denoiser("bundled-color", str(tmp_path / "x"), opponent_color=True, sigma=25, steps=1)


def test_opponent_color_fine_tune_under_bfloat16_saves_float32(tmp_path):
    # (Under mixed_bfloat16 the opponent transform used to add float32 constants to bfloat16 inputs.)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # (the slow-bfloat16 warning, on some CPUs)
        _, model = _tiny_color_fine_tune(tmp_path, dtype_policy="mixed_bfloat16")
    assert not training.uses_mixed_precision(model)  # saved as float32
    assert model.outputs[0].dtype == "float32"


def test_channel_guides_give_each_pass_the_whole_image_and_its_code():
    from tfimage.networks.opponent import ChannelGuides, ChannelsToBatch

    rgb = np.random.default_rng(3).random((2, 5, 4, 3)).astype(np.float32)
    guides = np.asarray(ChannelGuides()(rgb))
    passes = np.asarray(ChannelsToBatch()(rgb))
    assert guides.shape == (6, 5, 4, 6)
    for channel in range(3):
        for index in range(2):
            row = channel * 2 + index  # ChannelsToBatch's order: channel-major
            np.testing.assert_array_equal(guides[row, ..., :3], rgb[index])
            np.testing.assert_array_equal(passes[row, ..., 0], rgb[index, ..., channel])
            np.testing.assert_array_equal(guides[row, ..., 3:], np.broadcast_to(np.eye(3)[channel], (5, 4, 3)))


def test_cross_channel_model_starts_as_the_per_channel_one_and_learns_from_the_guide(tmp_path):
    from tfimage.networks.opponent import with_guide_inputs

    keras.utils.set_random_seed(0)
    gray = build_ffdnet(channels=1, depth=3, filters=8, residual=True)
    rgb = np.random.default_rng(4).random((2, 11, 9, 3)).astype(np.float32)  # odd sizes: padded and cropped
    level = np.full((2, 1), 0.1, np.float32)
    plain = np.asarray(build_opponent_color(gray)([rgb, level]))
    crossed = build_opponent_color(gray, cross_channel=True)
    np.testing.assert_allclose(np.asarray(crossed([rgb, level])), plain, atol=1e-6)
    # The guide weights are real inputs: changing them changes the output.
    guided = with_guide_inputs(gray, guide_channels=6)
    assert len(guided.inputs) == 3 and guided.inputs[2].shape[-1] == 6
    first = training.conv_layers(guided)[0]
    kernel, bias = first.get_weights()
    assert kernel.shape[2] == 4 + 24 + 1 and not kernel[:, :, 4:28].any()
    kernel[:, :, 4:28] = 0.1
    first.set_weights([kernel, bias])
    changed = np.asarray(build_opponent_color(guided, cross_channel=True)([rgb, level]))
    assert np.abs(changed - plain).max() > 1e-3
    assert_keras_round_trip(crossed, [rgb, level], tmp_path, expected=plain, atol=1e-6, name="crossed")
    with pytest.raises(ValueError, match="gray network"):
        with_guide_inputs(build_ffdnet(channels=3, depth=3, filters=4), guide_channels=6)
