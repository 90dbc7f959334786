"""Tests of the Restorer training wrapper (tiny networks, a few steps)."""

import numpy as np
import pytest
from conftest import assert_keras_round_trip

keras = pytest.importorskip("keras")

from tfimage.models.restorer import (  # noqa: E402
    Restorer,
    per_example_loss,
    per_example_psnr,
)
from tfimage.networks.dncnn import build_dncnn  # noqa: E402
from tfimage.networks.ffdnet import build_ffdnet  # noqa: E402


def _pairs(count=8, size=16, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    clean = rng.random((count, size, size, channels)).astype(np.float32)
    noisy = clean + rng.normal(0.0, 0.1, clean.shape).astype(np.float32)
    return noisy, clean


def _tiny_restorer(loss="l2"):
    keras.utils.set_random_seed(0)
    restorer = Restorer(network=build_dncnn(depth=3, filters=4), loss=loss)
    restorer.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2))
    return restorer


@pytest.mark.parametrize("loss", ["l2", "l1", "charbonnier"])
def test_fit_two_steps_changes_the_weights(loss):
    noisy, clean = _pairs()
    restorer = _tiny_restorer(loss)
    before = [np.array(variable) for variable in restorer.trainable_variables]
    history = restorer.fit(noisy, clean, batch_size=4, epochs=1, verbose=0)
    after = [np.array(variable) for variable in restorer.trainable_variables]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    assert set(history.history) == {"loss", "psnr", "ssim"}
    assert all(np.isfinite(values[-1]) for values in history.history.values())
    assert 0.0 < history.history["ssim"][-1] <= 1.0


def test_metrics_property_and_evaluate():
    noisy, clean = _pairs()
    restorer = _tiny_restorer()
    assert [metric.name for metric in restorer.metrics] == ["loss", "psnr", "ssim"]
    scores = restorer.evaluate(noisy, clean, batch_size=4, verbose=0, return_dict=True)
    assert set(scores) == {"loss", "psnr", "ssim"}
    prediction = np.clip(restorer.predict(noisy, verbose=0), 0.0, 1.0)
    mse = np.mean((prediction - clean) ** 2, axis=(1, 2, 3))
    np.testing.assert_allclose(scores["psnr"], np.mean(10 * np.log10(1 / mse)), rtol=1e-4)
    np.testing.assert_allclose(
        scores["loss"], np.mean((restorer.predict(noisy, verbose=0) - clean) ** 2), rtol=1e-4
    )


def test_per_example_losses_and_psnr():
    noisy, clean = _pairs(count=3)
    diff = noisy - clean
    np.testing.assert_allclose(
        np.asarray(per_example_loss(clean, noisy, "l1")), np.abs(diff).mean(axis=(1, 2, 3)), rtol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(per_example_loss(clean, noisy, "l2")), (diff**2).mean(axis=(1, 2, 3)), rtol=1e-5
    )
    charbonnier = np.sqrt(diff**2 + 1e-6).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(
        np.asarray(per_example_loss(clean, noisy, "charbonnier")), charbonnier, rtol=1e-5
    )
    expected = 10 * np.log10(1 / ((np.clip(noisy, 0, 1) - clean) ** 2).mean(axis=(1, 2, 3)))
    np.testing.assert_allclose(np.asarray(per_example_psnr(clean, noisy)), expected, rtol=1e-5)
    # "psnr": minus each image's PSNR (on the unclipped output), finite for a perfect one.
    np.testing.assert_allclose(
        np.asarray(per_example_loss(clean, noisy, "psnr")), 10 * np.log10((diff**2).mean(axis=(1, 2, 3))), rtol=1e-5
    )
    assert np.isfinite(np.asarray(per_example_loss(clean, clean, "psnr"))).all()


def test_psnr_loss_weighs_images_by_the_log_of_their_error():
    import tensorflow as tf

    # The same absolute error reduction is worth more on the image that is already good.
    clean = np.zeros((2, 4, 4, 1), np.float32)
    restored = tf.Variable(np.concatenate([np.full((1, 4, 4, 1), 0.01), np.full((1, 4, 4, 1), 0.1)]).astype(np.float32))
    for loss, more_on_the_good_one in (("l2", False), ("psnr", True)):
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(per_example_loss(clean, restored, loss))
        gradient = np.abs(np.asarray(tape.gradient(value, restored))).sum(axis=(1, 2, 3))
        assert (gradient[0] > gradient[1]) == more_on_the_good_one, loss


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="loss='l3'"):
        Restorer(network=build_dncnn(depth=3, filters=4), loss="l3")
    with pytest.raises(ValueError, match="network"):
        Restorer(network="dncnn")


def test_noise_level_input_network_trains():
    noisy, clean = _pairs()
    keras.utils.set_random_seed(0)
    restorer = Restorer(network=build_ffdnet(depth=3, filters=4), noise_level_input=True)
    restorer.compile(optimizer="adam")
    sigma = np.full((len(noisy),), 0.1, np.float32)
    history = restorer.fit((noisy, sigma), clean, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert restorer((noisy[:1], sigma[:1])).shape == (1, 16, 16, 1)


def test_keras_round_trip_after_fit(tmp_path):
    noisy, clean = _pairs()
    restorer = _tiny_restorer("charbonnier")
    restorer.fit(noisy, clean, batch_size=4, epochs=1, verbose=0)
    loaded = assert_keras_round_trip(restorer, tmp_path=tmp_path, call=lambda m: m.predict(noisy, verbose=0),
                                     name="restorer")
    assert isinstance(loaded, Restorer)
    assert loaded.restoration_loss == "charbonnier"
    assert loaded.noise_level_input is False
    # The loaded model keeps training.
    history = loaded.fit(noisy, clean, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
