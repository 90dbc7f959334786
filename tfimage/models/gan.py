"""A generative adversarial network with a custom training step.

Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014; the networks
are DCGAN ones (Radford, Metz and Chintala, ICLR 2016, see
`tfimage.networks.dcgan`). Three objectives are available:

- "non_saturating": the original GAN loss with the non-saturating generator
  loss -log D(G(z)) (Goodfellow et al., 2014),
- "hinge": the hinge loss (Lim and Ye 2017; Miyato et al., ICLR 2018),
- "wgan_gp": the Wasserstein loss with gradient penalty (Gulrajani et al.,
  "Improved Training of Wasserstein GANs", NeurIPS 2017).

The public API works with float32 images in [0, 1], channels last; the
generator works in [-1, 1] (tanh) internally. An exponential moving average
(EMA) of the generator weights (Yazici et al., "The Unusual Effectiveness of
Averaging in GAN Training", ICLR 2019) is kept for sampling.
"""

import numpy as np
import keras
import tensorflow as tf

from tfimage.networks import dcgan
from tfimage.models.saving import SaveWithoutOptimizer

LOSSES = ("non_saturating", "hinge", "wgan_gp")


def _global_mean(per_example):
    """Mean over the global batch: the right scale for tf.distribute.

    Each replica divides its sum by the global batch size, and the optimizer
    sums the gradients over the replicas.
    """
    return tf.nn.compute_average_loss(tf.reshape(per_example, [-1]))


def _unpack(data):
    """(images, labels or None) from a batch `images` or `(images, labels[, ...])`."""
    if isinstance(data, (tuple, list)):
        images = data[0]
        labels = data[1] if len(data) > 1 else None
        return images, labels
    return data, None


def _as_labels(labels):
    labels = tf.cast(tf.reshape(labels, [-1, 1]), "int32")
    return labels


@keras.saving.register_keras_serializable(package="tfimage")
class GAN(SaveWithoutOptimizer, keras.Model):
    """A DCGAN-style GAN with optional class conditioning and an EMA generator.

    `train_step` alternates `d_steps` discriminator updates, each on a real
    batch and a batch of generated images, with one generator update, then
    updates the EMA generator. All randomness comes from a
    `keras.random.SeedGenerator`.

    Example:

    ```python
    gan = GAN(image_shape=(28, 28, 1), latent_dim=64)
    gan.compile(loss="non_saturating")
    gan.fit(dataset_of_images_in_0_1, epochs=5)
    images = gan.sample(16)  # float32 in [0, 1], shape (16, 28, 28, 1)
    ```

    Args:
        image_shape: (height, width, channels) of the images.
        latent_dim: size of the latent vector.
        num_classes: None (unconditional) or the number of classes; batches
            are then `(images, labels)` with integer labels.
        generator_filters: `filters` of `dcgan.build_generator`.
        discriminator_filters: `filters` of `dcgan.build_discriminator`.
        discriminator_dropout: dropout rate in the discriminator.
        ema_decay: decay of the EMA generator (0 copies the generator each
            step); a warm-up `min(ema_decay, (1 + t) / (10 + t))` is applied.
        d_steps: discriminator updates per generator update.
        gp_weight: weight of the WGAN-GP gradient penalty.
        freeze_d: freeze the first `freeze_d` discriminator blocks (FreezeD,
            Mo et al. 2020) for fine-tuning.
        seed: seed of the SeedGenerator (None for a random one).
        generator: optional prebuilt generator (overrides the builder
            arguments above); must map z (and labels) to tanh images.
        discriminator: optional prebuilt discriminator.
        **kwargs: `keras.Model` arguments such as `name`.
    """

    def __init__(self, image_shape=(28, 28, 1), latent_dim=64, num_classes=None,
                 generator_filters=32, discriminator_filters=32, discriminator_dropout=0.0,
                 ema_decay=0.999, d_steps=1, gp_weight=10.0, freeze_d=0, seed=None,
                 generator=None, discriminator=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1). Received: ema_decay={ema_decay}")
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be a positive integer. Received: d_steps={d_steps}")
        if float(gp_weight) < 0:
            raise ValueError(f"gp_weight must be >= 0. Received: gp_weight={gp_weight}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.latent_dim = int(latent_dim)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.generator_filters = int(generator_filters)
        self.discriminator_filters = int(discriminator_filters)
        self.discriminator_dropout = float(discriminator_dropout)
        self.ema_decay = float(ema_decay)
        self.d_steps = int(d_steps)
        self.gp_weight = float(gp_weight)
        self.seed = seed
        if isinstance(generator, dict):
            generator = keras.saving.deserialize_keras_object(generator)
        if isinstance(discriminator, dict):
            discriminator = keras.saving.deserialize_keras_object(discriminator)
        self._custom_networks = generator is not None or discriminator is not None
        self.generator = generator or dcgan.build_generator(
            self.image_shape, self.latent_dim, self.generator_filters, self.num_classes)
        self.discriminator = discriminator or dcgan.build_discriminator(
            self.image_shape, self.discriminator_filters, self.num_classes,
            self.discriminator_dropout)
        out_shape = tuple(self.generator.output_shape[1:])
        if out_shape != self.image_shape:
            raise ValueError(
                f"The generator makes images of shape {out_shape}, not image_shape. "
                f"Received: image_shape={self.image_shape}"
            )
        self.ema_generator = keras.models.clone_model(self.generator)
        self.ema_generator.set_weights(self.generator.get_weights())
        self.ema_generator.trainable = False
        self.freeze_d = 0
        self.set_freeze_d(freeze_d)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.gp_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.loss_name = "non_saturating"
        self.d_optimizer = None
        self.g_optimizer = None
        self.built = True  # every sub-network is built; fit never calls self(...)

    # ------------------------------------------------------------------ setup
    def set_freeze_d(self, freeze_d):
        """Freezes the first `freeze_d` discriminator blocks (0 unfreezes).

        Call `compile` again after changing it during training.
        """
        dcgan.freeze_blocks(self.discriminator, int(freeze_d) if freeze_d is not None else 0)
        self.freeze_d = int(freeze_d or 0)

    def compile(self, d_optimizer=None, g_optimizer=None, loss="non_saturating", **kwargs):
        """Configures the two optimizers and the adversarial loss.

        Args:
            d_optimizer: discriminator optimizer (default Adam(2e-4, beta_1=0.5)).
            g_optimizer: generator optimizer (default Adam(2e-4, beta_1=0.5)).
            loss: "non_saturating", "hinge" or "wgan_gp".
            **kwargs: passed to `keras.Model.compile` (e.g. `run_eagerly`).
        """
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}. Received: loss={loss!r}")
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=None, **kwargs)
        self.loss_name = loss
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        # Built here, outside the (possibly distributed) train function: an
        # optimizer whose slots are created inside a replica context fails.
        if not self.d_optimizer.built:
            self.d_optimizer.build(self.discriminator.trainable_variables)
        if not self.g_optimizer.built:
            self.g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker,
                self.d_fake_tracker, self.gp_tracker]

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), latent_dim=self.latent_dim,
            num_classes=self.num_classes, generator_filters=self.generator_filters,
            discriminator_filters=self.discriminator_filters,
            discriminator_dropout=self.discriminator_dropout, ema_decay=self.ema_decay,
            d_steps=self.d_steps, gp_weight=self.gp_weight, freeze_d=self.freeze_d,
            seed=self.seed,
        )
        if self._custom_networks:
            config["generator"] = keras.saving.serialize_keras_object(self.generator)
            config["discriminator"] = keras.saving.serialize_keras_object(self.discriminator)
        return config

    # -------------------------------------------------------------- networks
    def _generate(self, network, z, labels, training):
        if self.num_classes is not None:
            return network([z, labels], training=training)
        return network(z, training=training)

    def _discriminate(self, images, labels, training=True):
        if self.num_classes is not None:
            return self.discriminator([images, labels], training=training)
        return self.discriminator(images, training=training)

    def call(self, inputs, training=False):
        """Generates images in [0, 1] with the EMA generator.

        Args:
            inputs: z of shape (batch, latent_dim), or `[z, labels]` for a
                conditional GAN.
        """
        if self.num_classes is not None:
            z, labels = inputs
            images = self.ema_generator([z, _as_labels(labels)], training=training)
        else:
            images = self.ema_generator(inputs, training=training)
        return images * 0.5 + 0.5

    # -------------------------------------------------------------- training
    def _d_losses(self, d_real, d_fake):
        if self.loss_name == "non_saturating":
            return tf.nn.softplus(-d_real) + tf.nn.softplus(d_fake)
        if self.loss_name == "hinge":
            return tf.nn.relu(1.0 - d_real) + tf.nn.relu(1.0 + d_fake)
        return d_fake - d_real

    def _g_losses(self, d_fake):
        if self.loss_name == "non_saturating":
            return tf.nn.softplus(-d_fake)
        return -d_fake

    def _gradient_penalty(self, real, fake, labels):
        batch = tf.shape(real)[0]
        alpha = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
        mixed = real + alpha * (fake - real)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self._discriminate(mixed, labels, training=True)
        grads = tape.gradient(scores, mixed)
        norms = tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(grads, [batch, -1])), axis=1) + 1e-12)
        return tf.square(norms - 1.0)

    def _check_batch(self, images, labels):
        shape = tuple(images.shape[1:])
        if None not in shape and shape != self.image_shape:
            raise ValueError(
                f"This GAN was built for images of shape {self.image_shape}. "
                f"Received: images with shape={shape}"
            )
        if self.num_classes is not None and labels is None:
            raise ValueError(
                "A conditional GAN (num_classes set) needs (images, labels) batches. "
                "Received: labels=None"
            )

    def train_step(self, data):
        if self.d_optimizer is None:
            raise ValueError("Call compile() before fit(). Received: d_optimizer=None")
        real, labels = _unpack(data)
        self._check_batch(real, labels)
        real = tf.cast(real, "float32") * 2.0 - 1.0
        labels = _as_labels(labels) if self.num_classes is not None else None
        batch = tf.shape(real)[0]

        for _ in range(self.d_steps):
            z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
            fake = self._generate(self.generator, z, labels, training=True)
            with tf.GradientTape() as tape:
                d_real = self._discriminate(real, labels)
                d_fake = self._discriminate(fake, labels)
                per_example = self._d_losses(d_real, d_fake)
                if self.loss_name == "wgan_gp":
                    penalty = self._gradient_penalty(real, fake, labels)
                    per_example = tf.reshape(per_example, [-1]) + self.gp_weight * penalty
                else:
                    penalty = tf.zeros([batch])
                d_loss = _global_mean(per_example)
            variables = self.discriminator.trainable_variables
            grads = tape.gradient(d_loss, variables)
            self.d_optimizer.apply(grads, variables)

        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            fake = self._generate(self.generator, z, labels, training=True)
            g_fake = self._discriminate(fake, labels)
            g_loss = _global_mean(self._g_losses(g_fake))
        variables = self.generator.trainable_variables
        grads = tape.gradient(g_loss, variables)
        self.g_optimizer.apply(grads, variables)
        self._update_ema()

        self.d_loss_tracker.update_state(tf.reduce_mean(per_example))
        self.g_loss_tracker.update_state(tf.reduce_mean(self._g_losses(g_fake)))
        self.d_real_tracker.update_state(tf.reduce_mean(d_real))
        self.d_fake_tracker.update_state(tf.reduce_mean(d_fake))
        self.gp_tracker.update_state(tf.reduce_mean(penalty))
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        real, labels = _unpack(data)
        self._check_batch(real, labels)
        real = tf.cast(real, "float32") * 2.0 - 1.0
        labels = _as_labels(labels) if self.num_classes is not None else None
        batch = tf.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        fake = self._generate(self.ema_generator, z, labels, training=False)
        d_real = self._discriminate(real, labels, training=False)
        d_fake = self._discriminate(fake, labels, training=False)
        self.d_loss_tracker.update_state(tf.reduce_mean(self._d_losses(d_real, d_fake)))
        self.g_loss_tracker.update_state(tf.reduce_mean(self._g_losses(d_fake)))
        self.d_real_tracker.update_state(tf.reduce_mean(d_real))
        self.d_fake_tracker.update_state(tf.reduce_mean(d_fake))
        return {metric.name: metric.result() for metric in self.metrics}

    def _ema_decay_now(self):
        step = tf.cast(self.g_optimizer.iterations, "float32")
        return tf.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))

    def _update_ema(self):
        decay = self._ema_decay_now()
        pairs = list(zip(self.ema_generator.weights, self.generator.weights))
        context = tf.distribute.get_replica_context()
        if tf.distribute.has_strategy() and context is not None:
            context.merge_call(_ema_cross_replica, args=(pairs, decay))
        else:
            for ema, weight in pairs:
                ema.assign(decay * ema + (1.0 - decay) * weight)

    # -------------------------------------------------------------- sampling
    def sample(self, n, labels=None, seed=None, use_ema=True, batch_size=256):
        """Generates `n` images in [0, 1].

        Args:
            n: number of images (positive integer).
            labels: for a conditional GAN, one class or a sequence of `n`
                classes (default: cycling 0, 1, 2, ...); must be None for an
                unconditional GAN.
            seed: integer seed of the latent vectors (None: the model's
                SeedGenerator).
            use_ema: sample with the EMA generator (True) or the raw one.
            batch_size: images generated per forward pass.

        Returns:
            A float32 NumPy array of shape (n, height, width, channels).
        """
        n = _check_count(n)
        labels = self._sample_labels(n, labels)
        if seed is not None:
            z = np.random.default_rng(int(seed)).standard_normal((n, self.latent_dim))
            z = z.astype("float32")
        else:
            z = keras.ops.convert_to_numpy(
                keras.random.normal((n, self.latent_dim), seed=self.seed_generator))
        return self.generate(z, labels=labels, use_ema=use_ema, batch_size=batch_size)

    def generate(self, z, labels=None, use_ema=True, batch_size=256):
        """Maps latent vectors (n, latent_dim) to images in [0, 1]."""
        z = np.asarray(z, dtype="float32")
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(
                f"z must have shape (n, {self.latent_dim}). Received: z with shape={z.shape}"
            )
        labels = self._sample_labels(len(z), labels)
        network = self.ema_generator if use_ema else self.generator
        out = []
        for start in range(0, len(z), batch_size):
            chunk = z[start:start + batch_size]
            if labels is not None:
                images = network([chunk, labels[start:start + batch_size]], training=False)
            else:
                images = network(chunk, training=False)
            out.append(keras.ops.convert_to_numpy(images))
        images = np.concatenate(out, axis=0) * 0.5 + 0.5
        return np.clip(images, 0.0, 1.0).astype("float32")

    def _sample_labels(self, n, labels):
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    "This GAN is unconditional (num_classes=None): it takes no labels. "
                    f"Received: labels={labels!r}"
                )
            return None
        return check_labels(labels, n, self.num_classes)


def _ema_cross_replica(strategy, pairs, decay):
    for ema, weight in pairs:
        strategy.extended.update(
            ema.value, lambda e, w, d: e.assign(d * e + (1.0 - d) * w),
            args=(weight.value, decay),
        )


def _check_count(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer. Received: n={n!r}")
    return int(n)


def check_labels(labels, n, num_classes):
    """Integer labels of shape (n, 1), checked against `num_classes`.

    None cycles through the classes; one integer repeats it.
    """
    if labels is None:
        labels = np.arange(n) % num_classes
    else:
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full(n, labels)
        labels = labels.reshape(-1)
        if labels.dtype.kind not in "iu":
            raise ValueError(f"labels must be integers. Received: labels={labels!r}")
        if len(labels) != n:
            raise ValueError(
                f"Expected one label per image ({n}). Received: labels with {len(labels)} entries"
            )
        bad = labels[(labels < 0) | (labels >= num_classes)]
        if len(bad):
            raise ValueError(
                f"Unknown class: classes are 0..{num_classes - 1}. Received: labels={bad[0]}"
            )
    return labels.astype("int32").reshape(-1, 1)
