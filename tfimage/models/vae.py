"""A variational auto-encoder with a custom training step.

Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014; the beta
weight on the KL term follows Higgins et al., "beta-VAE", ICLR 2017, and the
optional class conditioning Sohn et al., NeurIPS 2015 (CVAE).

Sampling from N(0, I) decodes latents the encoder never produces (the
aggregate posterior does not fill the prior), which blurs and mixes digits.
With `prior_components=K`, `fit_latent_prior` fits a K-component Gaussian
mixture to the posterior means of the training images (per class for a
conditional VAE) and `sample` draws from it: the ex-post density estimation
of Ghosh et al., "From Variational to Deterministic Autoencoders", ICLR 2020.
The mixture is stored in the model's weights, so it survives `.keras` saving.

Loss per image = reconstruction + beta * KL(q(z|x) || N(0, I)), where the
reconstruction term is the Bernoulli negative log-likelihood summed over the
pixels ("bce", for images in [0, 1]) or the summed squared error ("mse").
Images are float32 in [0, 1], channels last.
"""

import numpy as np
import keras
import tensorflow as tf

from tfimage.models.gan import _as_labels, _check_count, _global_mean, _unpack, check_labels
from tfimage.networks import vae_nets
from tfimage.models.saving import SaveWithoutOptimizer

RECONSTRUCTIONS = ("bce", "mse")


def kl_divergence(z_mean, z_log_var):
    """KL(N(z_mean, exp(z_log_var)) || N(0, I)) per example, summed over z.

    The closed form 0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2) of Kingma and
    Welling (2014), appendix B.

    Args:
        z_mean: tensor of shape (batch, latent_dim).
        z_log_var: tensor of the same shape, the log-variances.

    Returns:
        A tensor of shape (batch,).
    """
    z_mean = tf.convert_to_tensor(z_mean, "float32")
    z_log_var = tf.convert_to_tensor(z_log_var, "float32")
    return 0.5 * tf.reduce_sum(
        tf.square(z_mean) + tf.exp(z_log_var) - 1.0 - z_log_var, axis=-1)


def reconstruction_loss(images, logits, kind="bce"):
    """Per-image reconstruction loss summed over the pixels.

    Args:
        images: targets in [0, 1], shape (batch, H, W, C).
        logits: decoder outputs (pre-sigmoid), same shape.
        kind: "bce" (Bernoulli NLL) or "mse" (squared error of sigmoid(logits)).

    Returns:
        A tensor of shape (batch,).
    """
    if kind == "bce":
        per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
    elif kind == "mse":
        per_pixel = tf.square(images - tf.sigmoid(logits))
    else:
        raise ValueError(
            f"reconstruction must be one of {', '.join(RECONSTRUCTIONS)}. Received: kind={kind!r}"
        )
    return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=1)


@keras.saving.register_keras_serializable(package="tfimage")
class VAE(SaveWithoutOptimizer, keras.Model):
    """A convolutional VAE with optional class conditioning.

    Example:

    ```python
    vae = VAE(image_shape=(28, 28, 1), latent_dim=16)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(dataset_of_images_in_0_1, epochs=10)
    images = vae.sample(16)          # float32 in [0, 1]
    z_mean, z_log_var = vae.encode(images)
    ```

    Args:
        image_shape: (height, width, channels) of the images.
        latent_dim: size of z.
        num_classes: None (unconditional) or the number of classes; batches
            are then `(images, labels)`.
        filters: `filters` of the encoder and decoder builders.
        hidden_units: width of the encoder's dense layer.
        beta: weight of the KL term.
        reconstruction: "bce" or "mse" (see `reconstruction_loss`).
        seed: seed of the SeedGenerator used for the reparameterisation.
        encoder: optional prebuilt encoder returning `[z_mean, z_log_var]`.
        decoder: optional prebuilt decoder returning logits.
        prior_components: 0 (sample z ~ N(0, I)) or the number of Gaussian
            mixture components `fit_latent_prior` fits to the posterior means
            (per class when conditional); `sample` then draws from it.
        **kwargs: `keras.Model` arguments such as `name`.
    """

    def __init__(self, image_shape=(28, 28, 1), latent_dim=16, num_classes=None, filters=32,
                 hidden_units=128, beta=1.0, reconstruction="bce", seed=None, encoder=None,
                 decoder=None, prior_components=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(prior_components, bool) or int(prior_components) < 0:
            raise ValueError(f"prior_components must be >= 0. Received: prior_components={prior_components}")
        if float(beta) < 0:
            raise ValueError(f"beta must be >= 0. Received: beta={beta}")
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(
                f"reconstruction must be one of {', '.join(RECONSTRUCTIONS)}. "
                f"Received: reconstruction={reconstruction!r}"
            )
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = int(latent_dim)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.filters = int(filters)
        self.hidden_units = int(hidden_units)
        self.beta = float(beta)
        self.reconstruction = reconstruction
        self.seed = seed
        if isinstance(encoder, dict):
            encoder = keras.saving.deserialize_keras_object(encoder)
        if isinstance(decoder, dict):
            decoder = keras.saving.deserialize_keras_object(decoder)
        self._custom_networks = encoder is not None or decoder is not None
        self.encoder = encoder or vae_nets.build_encoder(
            self.image_shape, self.latent_dim, self.filters, self.hidden_units, self.num_classes)
        self.decoder = decoder or vae_nets.build_decoder(
            self.image_shape, self.latent_dim, self.filters, self.num_classes)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        self.prior_components = int(prior_components)
        if self.prior_components:
            groups, k, d = self.num_classes or 1, self.prior_components, self.latent_dim
            self.prior_means = self.add_weight(shape=(groups, k, d), initializer="zeros", trainable=False,
                                               name="prior_means")
            self.prior_scale_tril = self.add_weight(
                shape=(groups, k, d, d), initializer="zeros", trainable=False, name="prior_scale_tril")
            self.prior_log_weights = self.add_weight(shape=(groups, k), initializer="zeros", trainable=False,
                                                     name="prior_log_weights")
            self.prior_fitted = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                                name="prior_fitted")
        self.built = True  # the sub-networks are built; fit never calls self(...)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def compile(self, optimizer=None, **kwargs):
        """Configures the optimizer (default Adam(1e-3)); the loss is built in."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                "The VAE loss is built in (reconstruction + beta * KL). "
                f"Received: loss={kwargs['loss']!r}"
            )
        kwargs.pop("loss", None)
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), **kwargs)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), latent_dim=self.latent_dim,
            num_classes=self.num_classes, filters=self.filters,
            hidden_units=self.hidden_units, beta=self.beta,
            reconstruction=self.reconstruction, seed=self.seed,
            prior_components=self.prior_components,
        )
        if self._custom_networks:
            config["encoder"] = keras.saving.serialize_keras_object(self.encoder)
            config["decoder"] = keras.saving.serialize_keras_object(self.decoder)
        return config

    # -------------------------------------------------------------- networks
    def _encode(self, images, labels, training=False):
        if self.num_classes is not None:
            return self.encoder([images, labels], training=training)
        return self.encoder(images, training=training)

    def _decode(self, z, labels, training=False):
        if self.num_classes is not None:
            return self.decoder([z, labels], training=training)
        return self.decoder(z, training=training)

    def reparameterize(self, z_mean, z_log_var):
        """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I) from the SeedGenerator."""
        eps = keras.random.normal(tf.shape(z_mean), seed=self.seed_generator)
        return z_mean + tf.exp(0.5 * z_log_var) * eps

    def call(self, inputs, training=False):
        """Reconstructs images in [0, 1] through the posterior mean.

        Args:
            inputs: images, or `[images, labels]` for a conditional VAE.
        """
        if self.num_classes is not None:
            images, labels = inputs
            labels = _as_labels(labels)
        else:
            images, labels = inputs, None
        z_mean, _ = self._encode(images, labels, training)
        return tf.sigmoid(self._decode(z_mean, labels, training))

    def _check_batch(self, images, labels):
        shape = tuple(images.shape[1:])
        if None not in shape and shape != self.image_shape:
            raise ValueError(
                f"This VAE was built for images of shape {self.image_shape}. "
                f"Received: images with shape={shape}"
            )
        if self.num_classes is not None and labels is None:
            raise ValueError(
                "A conditional VAE (num_classes set) needs (images, labels) batches. "
                "Received: labels=None"
            )

    def _loss_terms(self, images, labels, training):
        z_mean, z_log_var = self._encode(images, labels, training)
        z = self.reparameterize(z_mean, z_log_var)
        logits = self._decode(z, labels, training)
        recon = reconstruction_loss(images, logits, self.reconstruction)
        kl = kl_divergence(z_mean, z_log_var)
        return recon, kl

    def train_step(self, data):
        images, labels = _unpack(data)
        self._check_batch(images, labels)
        images = tf.cast(images, "float32")
        labels = _as_labels(labels) if self.num_classes is not None else None
        with tf.GradientTape() as tape:
            recon, kl = self._loss_terms(images, labels, training=True)
            loss = _global_mean(recon + self.beta * kl)
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        self.loss_tracker.update_state(tf.reduce_mean(recon + self.beta * kl))
        self.reconstruction_tracker.update_state(tf.reduce_mean(recon))
        self.kl_tracker.update_state(tf.reduce_mean(kl))
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        images, labels = _unpack(data)
        self._check_batch(images, labels)
        images = tf.cast(images, "float32")
        labels = _as_labels(labels) if self.num_classes is not None else None
        recon, kl = self._loss_terms(images, labels, training=False)
        self.loss_tracker.update_state(tf.reduce_mean(recon + self.beta * kl))
        self.reconstruction_tracker.update_state(tf.reduce_mean(recon))
        self.kl_tracker.update_state(tf.reduce_mean(kl))
        return {metric.name: metric.result() for metric in self.metrics}

    # ------------------------------------------------------------ public API
    def _images_in(self, images):
        images = np.asarray(images, dtype="float32")
        if images.ndim == 3 and len(self.image_shape) == 3:
            images = images[None]
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(
                f"This VAE was built for images of shape {self.image_shape}. "
                f"Received: images with shape={images.shape}"
            )
        if len(images) == 0:
            raise ValueError("No images. Received: images with shape=" + str(images.shape))
        return images

    def _labels_in(self, n, labels):
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    "This VAE is unconditional (num_classes=None): it takes no labels. "
                    f"Received: labels={labels!r}"
                )
            return None
        return check_labels(labels, n, self.num_classes)

    def _batched(self, fn, arrays, batch_size):
        n = len(arrays[0])
        outs = []
        for start in range(0, n, batch_size):
            parts = [None if a is None else a[start:start + batch_size] for a in arrays]
            outs.append(fn(*parts))
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate([o[i] for o in outs]) for i in range(len(outs[0])))
        return np.concatenate(outs)

    def encode(self, images, labels=None, batch_size=256):
        """Posterior parameters of images in [0, 1].

        Args:
            images: array of shape (n, H, W, C) (or one (H, W, C) image).
            labels: class labels for a conditional VAE (see `sample`).
            batch_size: images per forward pass.

        Returns:
            `(z_mean, z_log_var)`, NumPy arrays of shape (n, latent_dim).
        """
        images = self._images_in(images)
        labels = self._labels_in(len(images), labels)

        def run(x, y):
            mean, log_var = self._encode(x, y)
            return keras.ops.convert_to_numpy(mean), keras.ops.convert_to_numpy(log_var)

        return self._batched(run, [images, labels], batch_size)

    def decode(self, z, labels=None, batch_size=256):
        """Decodes latent vectors (n, latent_dim) to images in [0, 1]."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z must have shape (n, {self.latent_dim}). Received: z with shape={z.shape}"
            )
        labels = self._labels_in(len(z), labels)

        def run(zz, y):
            return keras.ops.convert_to_numpy(tf.sigmoid(self._decode(zz, y)))

        return self._batched(run, [z, labels], batch_size).astype("float32")

    @property
    def has_latent_prior(self):
        """True once `fit_latent_prior` has fitted the mixture that `sample` draws from."""
        return bool(self.prior_components) and float(keras.ops.convert_to_numpy(self.prior_fitted)) > 0

    def fit_latent_prior(self, images, labels=None, seed=0, batch_size=256):
        """Fits the latent mixture to the posterior means of `images` (ex-post density estimation).

        Args:
            images: training images (n, H, W, C) in [0, 1].
            labels: their classes, for a conditional VAE.
            seed: seeds the mixture fit (scikit-learn's `GaussianMixture`,
                full covariances, k-means initialisation).
            batch_size: images per forward pass.

        Returns:
            The mean log-likelihood of the posterior means under the fitted
            mixture (per latent vector).
        """
        if not self.prior_components:
            raise ValueError(
                "This VAE has no latent mixture: build it with prior_components=K. "
                f"Received: prior_components={self.prior_components}")
        try:
            from sklearn.mixture import GaussianMixture
        except ImportError as error:  # pragma: no cover - scikit-learn is a requirement
            raise ImportError("fit_latent_prior needs scikit-learn: pip install scikit-learn") from error
        z_mean, _ = self.encode(images, labels=labels, batch_size=batch_size)
        labels = self._labels_in(len(z_mean), labels)
        if labels is not None:
            labels = np.asarray(labels).reshape(-1)
        groups = self.num_classes or 1
        k, d = self.prior_components, self.latent_dim
        means = np.zeros((groups, k, d), np.float32)
        trils = np.zeros((groups, k, d, d), np.float32)
        log_weights = np.zeros((groups, k), np.float32)
        scores = []
        for group in range(groups):
            points = z_mean if labels is None else z_mean[labels == group]
            if len(points) < 2 * k:
                raise ValueError(
                    f"Too few images to fit {k} mixture components (need {2 * k}). "
                    f"Received: {len(points)} images" + ("" if labels is None else f" of class {group}"))
            mixture = GaussianMixture(k, covariance_type="full", reg_covar=1e-5, random_state=seed)
            mixture.fit(points)
            means[group] = mixture.means_
            trils[group] = np.linalg.cholesky(mixture.covariances_)
            log_weights[group] = np.log(mixture.weights_)
            scores.append(mixture.score(points) * len(points))
        self.prior_means.assign(means)
        self.prior_scale_tril.assign(trils)
        self.prior_log_weights.assign(log_weights)
        self.prior_fitted.assign(1.0)
        return float(np.sum(scores) / len(z_mean))

    def sample_latents(self, n, labels=None, seed=None, prior="auto"):
        """Latent vectors for `sample`: from the fitted mixture, or N(0, I).

        Args:
            n: number of vectors.
            labels: classes (conditional VAE), already checked.
            seed: integer seed (None: the model's SeedGenerator, or fresh
                NumPy entropy for the mixture).
            prior: "auto" (the mixture when fitted), "mixture" or "standard".

        Returns:
            A float32 array (n, latent_dim).
        """
        if prior not in ("auto", "mixture", "standard"):
            raise ValueError(f"prior must be 'auto', 'mixture' or 'standard'. Received: prior={prior!r}")
        if prior == "mixture" and not self.has_latent_prior:
            raise ValueError("The latent mixture is not fitted: call fit_latent_prior first. Received: prior='mixture'")
        if prior == "standard" or not self.has_latent_prior:
            if seed is not None:
                z = np.random.default_rng(int(seed)).standard_normal((n, self.latent_dim))
            else:
                z = keras.ops.convert_to_numpy(
                    keras.random.normal((n, self.latent_dim), seed=self.seed_generator))
            return z.astype("float32")
        rng = np.random.default_rng(None if seed is None else int(seed))
        means = keras.ops.convert_to_numpy(self.prior_means)
        trils = keras.ops.convert_to_numpy(self.prior_scale_tril)
        weights = np.exp(keras.ops.convert_to_numpy(self.prior_log_weights))
        groups = np.zeros(n, np.int64) if labels is None else np.asarray(labels).astype(np.int64).reshape(n)
        cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)[groups]
        components = np.minimum((rng.random((n, 1)) > cumulative).sum(axis=1), self.prior_components - 1)
        eps = rng.standard_normal((n, self.latent_dim))
        z = means[groups, components] + np.einsum("nij,nj->ni", trils[groups, components], eps)
        return z.astype(np.float32)

    def sample(self, n, labels=None, seed=None, batch_size=256, prior="auto"):
        """Draws `n` images in [0, 1] by decoding z from the latent mixture or N(0, I).

        Args:
            n: number of images (positive integer).
            labels: for a conditional VAE, one class or `n` classes (default:
                cycling 0, 1, 2, ...); None for an unconditional VAE.
            seed: integer seed (None: the model's SeedGenerator).
            batch_size: images per forward pass.
            prior: "auto" (the fitted mixture if any, see `fit_latent_prior`),
                "mixture" or "standard" (N(0, I)).

        Returns:
            A float32 array of shape (n, H, W, C).
        """
        n = _check_count(n)
        labels = self._labels_in(n, labels)
        z = self.sample_latents(n, labels, seed=seed, prior=prior)
        return self.decode(z, labels=labels, batch_size=batch_size)

    def reconstruct(self, images, labels=None, batch_size=256):
        """Encodes and decodes images through the posterior mean; returns [0, 1] images."""
        z_mean, _ = self.encode(images, labels=labels, batch_size=batch_size)
        return self.decode(z_mean, labels=labels, batch_size=batch_size)
