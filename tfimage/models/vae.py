"""A variational auto-encoder with a custom training step.

Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014; the beta
weight on the KL term follows Higgins et al., "beta-VAE", ICLR 2017, and the
optional class conditioning Sohn et al., NeurIPS 2015 (CVAE).

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
        **kwargs: `keras.Model` arguments such as `name`.
    """

    def __init__(self, image_shape=(28, 28, 1), latent_dim=16, num_classes=None, filters=32,
                 hidden_units=128, beta=1.0, reconstruction="bce", seed=None, encoder=None,
                 decoder=None, **kwargs):
        super().__init__(**kwargs)
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

    def sample(self, n, labels=None, seed=None, batch_size=256):
        """Draws `n` images in [0, 1] by decoding z ~ N(0, I).

        Args:
            n: number of images (positive integer).
            labels: for a conditional VAE, one class or `n` classes (default:
                cycling 0, 1, 2, ...); None for an unconditional VAE.
            seed: integer seed (None: the model's SeedGenerator).
            batch_size: images per forward pass.

        Returns:
            A float32 array of shape (n, H, W, C).
        """
        n = _check_count(n)
        labels = self._labels_in(n, labels)
        if seed is not None:
            z = np.random.default_rng(int(seed)).standard_normal((n, self.latent_dim))
        else:
            z = keras.ops.convert_to_numpy(
                keras.random.normal((n, self.latent_dim), seed=self.seed_generator))
        return self.decode(z.astype("float32"), labels=labels, batch_size=batch_size)

    def reconstruct(self, images, labels=None, batch_size=256):
        """Encodes and decodes images through the posterior mean; returns [0, 1] images."""
        z_mean, _ = self.encode(images, labels=labels, batch_size=batch_size)
        return self.decode(z_mean, labels=labels, batch_size=batch_size)
