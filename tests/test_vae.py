"""Tests of the VAE builders and model."""

import os

import numpy as np
import pytest
from conftest import assert_keras_round_trip
from scipy import integrate, stats

keras = pytest.importorskip("keras")

from tfimage.models.vae import VAE, kl_divergence, reconstruction_loss  # noqa: E402
from tfimage.networks import vae_nets  # noqa: E402

SHAPE = (16, 16, 1)


def tiny_vae(**kwargs):
    options = dict(image_shape=SHAPE, latent_dim=2, filters=4, hidden_units=8, seed=1)
    options.update(kwargs)
    return VAE(**options)


def images(n=4, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).random((n,) + shape).astype("float32")


def test_builders_shapes():
    encoder = vae_nets.build_encoder((28, 28, 1), latent_dim=3, filters=4, hidden_units=8)
    decoder = vae_nets.build_decoder((28, 28, 1), latent_dim=3, filters=4)
    assert [tuple(s) for s in encoder.output_shape] == [(None, 3), (None, 3)]
    assert decoder.output_shape == (None, 28, 28, 1)
    decoder = vae_nets.build_decoder((32, 32, 3), latent_dim=3, filters=4, num_classes=10)
    assert decoder.output_shape == (None, 32, 32, 3)


def test_kl_matches_numerical_integration_for_a_known_gaussian():
    mu, sigma = 0.7, 0.4
    p, q = stats.norm(mu, sigma), stats.norm(0.0, 1.0)
    numeric, _ = integrate.quad(lambda z: p.pdf(z) * (p.logpdf(z) - q.logpdf(z)), -10, 10)
    value = kl_divergence(np.array([[mu]]), np.array([[np.log(sigma ** 2)]])).numpy()
    np.testing.assert_allclose(value, [numeric], rtol=1e-5)
    # independent dimensions add up; N(0, 1) has zero divergence
    two = kl_divergence(np.array([[mu, 0.0]]), np.array([[np.log(sigma ** 2), 0.0]])).numpy()
    np.testing.assert_allclose(two, [numeric], rtol=1e-5)


def test_bce_reconstruction_is_the_summed_bernoulli_nll():
    x = np.array([[[[0.0], [1.0]], [[0.25], [0.5]]]], "float32")
    logits = np.array([[[[-1.0], [2.0]], [[0.0], [3.0]]]], "float32")
    p = 1.0 / (1.0 + np.exp(-logits))
    expected = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum()
    np.testing.assert_allclose(reconstruction_loss(x, logits, "bce").numpy(), [expected],
                               rtol=1e-5)


def test_reparameterisation_draws_from_the_posterior():
    vae = tiny_vae(latent_dim=1)
    mean = np.full((20000, 1), 1.5, "float32")
    log_var = np.full((20000, 1), np.log(0.25), "float32")
    z = vae.reparameterize(mean, log_var).numpy()
    assert abs(z.mean() - 1.5) < 0.02 and abs(z.std() - 0.5) < 0.02
    assert not np.allclose(z, vae.reparameterize(mean, log_var).numpy())  # the seed advances


@pytest.mark.parametrize("num_classes", [None, 3])
def test_vae_fit_two_steps_changes_weights_and_tracks_both_terms(num_classes):
    vae = tiny_vae(num_classes=num_classes, beta=0.5)
    vae.compile()
    before = [w.copy() for w in vae.get_weights()]
    labels = None if num_classes is None else np.array([0, 1, 2, 0])
    history = vae.fit(images(), labels, batch_size=2, epochs=1, verbose=0).history
    assert vae.optimizer.iterations.numpy() == 2
    assert any(not np.allclose(a, b) for a, b in zip(before, vae.get_weights()))
    loss, recon, kl = (history[k][0] for k in ("loss", "reconstruction_loss", "kl_loss"))
    assert recon > 0 and kl >= 0
    np.testing.assert_allclose(loss, recon + 0.5 * kl, rtol=1e-4)


def test_encode_decode_sample_reconstruct_and_round_trip(tmp_path):
    vae = tiny_vae(num_classes=3)
    x = images(3)
    mean, log_var = vae.encode(x, labels=[0, 1, 2])
    assert mean.shape == (3, 2) and log_var.shape == (3, 2)
    out = vae.decode(mean, labels=[0, 1, 2])
    assert out.shape == (3,) + SHAPE and 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_allclose(vae.reconstruct(x, labels=[0, 1, 2]), out, atol=1e-6)
    samples = vae.sample(4, labels=1, seed=0)
    assert samples.shape == (4,) + SHAPE
    np.testing.assert_array_equal(samples, vae.sample(4, labels=1, seed=0))
    assert_keras_round_trip(vae, tmp_path=tmp_path, call=lambda m: m.sample(4, labels=1, seed=0),
                            expected=samples, atol=1e-6, name="vae")
    assert os.listdir(tmp_path) == ["vae.keras"]


def test_bad_inputs_name_the_argument():
    vae = tiny_vae(num_classes=3)
    with pytest.raises(ValueError, match=r"images with shape=\(2, 28, 28, 1\)"):
        vae.encode(images(2, shape=(28, 28, 1)), labels=[0, 1])
    with pytest.raises(ValueError, match="n=0"):
        vae.sample(0)
    with pytest.raises(ValueError, match="labels=5"):
        vae.sample(2, labels=5)
    with pytest.raises(ValueError, match="z with shape"):
        vae.decode(np.zeros((2, 3)), labels=[0, 0])
    with pytest.raises(ValueError, match="beta"):
        tiny_vae(beta=-1)
    with pytest.raises(ValueError, match="reconstruction"):
        tiny_vae(reconstruction="l1")
    with pytest.raises(ValueError, match="labels"):
        tiny_vae().sample(2, labels=1)
    plain = tiny_vae()
    plain.compile()
    with pytest.raises(ValueError, match="images with shape"):
        plain.fit(images(4, shape=(28, 28, 1)), batch_size=2, epochs=1, verbose=0)


def test_vae_compile_rejects_a_loss():
    with pytest.raises(ValueError, match="loss="):
        tiny_vae().compile(loss="mse")


def test_latent_mixture_prior_is_fitted_sampled_and_saved(tmp_path):
    vae = tiny_vae(num_classes=2, prior_components=2)
    x = images(40)
    labels = np.arange(40) % 2
    with pytest.raises(ValueError, match="fit_latent_prior"):
        vae.sample(4, labels=0, prior="mixture")
    standard = vae.sample(4, labels=0, seed=3)
    assert not vae.has_latent_prior
    vae.fit_latent_prior(x, labels)
    assert vae.has_latent_prior
    # The mixture of class 1 is fitted to the posterior means of class-1 images.
    z_mean, _ = vae.encode(x[labels == 1], labels=1)
    latents = vae.sample_latents(4000, labels=np.ones((4000, 1), int), seed=0)
    np.testing.assert_allclose(latents.mean(0), z_mean.mean(0), atol=0.1 * z_mean.std(0).max() + 0.02)
    mixture = vae.sample(4, labels=0, seed=3)
    assert not np.allclose(mixture, standard)
    np.testing.assert_allclose(vae.sample(4, labels=0, seed=3, prior="standard"), standard, atol=1e-6)
    loaded = assert_keras_round_trip(vae, tmp_path=tmp_path, call=lambda m: m.sample(4, labels=0, seed=3),
                                     expected=mixture, atol=1e-6, name="vae")
    assert loaded.prior_components == 2 and loaded.has_latent_prior


def test_latent_mixture_bad_arguments():
    with pytest.raises(ValueError, match="prior_components=-1"):
        tiny_vae(prior_components=-1)
    with pytest.raises(ValueError, match="prior_components=0"):
        tiny_vae().fit_latent_prior(images(8))
    with pytest.raises(ValueError, match="Received: 3 images"):
        tiny_vae(prior_components=2).fit_latent_prior(images(3))
    with pytest.raises(ValueError, match="prior='gmm'"):
        tiny_vae().sample(2, prior="gmm")


def test_train_vae_fits_the_latent_mixture_and_fine_tunes_from_its_model(tmp_path):
    from tfimage import generation, io

    folder = tmp_path / "digits"
    rng = np.random.default_rng(0)
    for index in range(8):
        io.write_image(str(folder / f"{index}.png"), rng.random(SHAPE))
    out = str(tmp_path / "run")
    history = generation.train_vae(str(folder), out, epochs=1, batch_size=4, latent_dim=2, filters=4,
                                   prior_components=1, verbose=0, samples=4)
    assert np.isfinite(history.history["loss"][-1])
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    assert isinstance(model, VAE) and model.has_latent_prior  # fitted after training, then saved
    tuned = generation.train_vae(str(folder), str(tmp_path / "tuned"), init=os.path.join(out, "model.keras"),
                                 epochs=1, batch_size=4, verbose=0, samples=4).model
    assert tuned.latent_dim == 2 and not np.allclose(tuned.get_weights()[0], model.get_weights()[0])
    with pytest.raises(ValueError, match="prior_components=2"):
        generation.train_vae(str(folder), str(tmp_path / "bad"), init=os.path.join(out, "model.keras"),
                             prior_components=2, epochs=1, batch_size=4, verbose=0)
