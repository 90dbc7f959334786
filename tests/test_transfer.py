"""tfimage.transfer: encoder initialisation from a pretrained network and the scratch-vs-pretrained comparison."""

import keras
import numpy as np
import pytest

from tfimage import transfer
from tfimage.networks.unet import build_unet


def test_compare_encoder_init_runs_both_inits_for_equal_steps():
    from tfimage.networks.classifier import build_classifier

    keras.utils.set_random_seed(1)
    pretrained = build_classifier(image_shape=(28, 28, 1), filters=8, feature_dim=8)
    rng = np.random.default_rng(0)
    base = np.linspace(0, 1, 48 * 48, dtype=np.float32).reshape(48, 48, 1)
    images = [np.clip(base + 0.05 * rng.random((48, 48, 1), dtype=np.float32), 0, 1) for _ in range(3)]
    result = transfer.compare_encoder_init(
        images, pretrained, task="inpaint", steps=2, eval_every=1, filters=(8, 16), patch_size=32,
        batch_size=2, validation_images=1, validation_size=32,
    )
    assert result["steps"] == [0, 1, 2]
    assert result["copied_layers"] == 4  # 1+1 -> 8, 8 -> 8, 8 -> 16, 16 -> 16
    for run in ("pretrained", "scratch"):
        assert len(result[run]) == 3 and np.all(np.isfinite(result[run]))
    assert result["pretrained"][0] != result["scratch"][0]  # only the encoder's start differs
    with pytest.raises(ValueError, match="steps="):
        transfer.compare_encoder_init(images, pretrained, steps=3, eval_every=2)


def test_init_encoder_from_copies_matching_convolutions():
    from tfimage.networks.classifier import build_classifier

    source = build_classifier(image_shape=(28, 28, 1), filters=8, feature_dim=8)
    network = build_unet(1, filters=(8, 16, 32), extra_inputs=1)
    assert transfer.init_encoder_from(network, source) == 4
    kernel = network.get_layer("enc1_conv1").get_weights()[0]
    np.testing.assert_array_equal(kernel[:, :, :1], source.get_layer("block1_conv1").get_weights()[0])
    np.testing.assert_array_equal(
        network.get_layer("enc2_conv2").get_weights()[0], source.get_layer("block2_conv2").get_weights()[0]
    )
    with pytest.raises(ValueError, match="source="):
        transfer.init_encoder_from(build_unet(1, filters=(4, 8)), source)
