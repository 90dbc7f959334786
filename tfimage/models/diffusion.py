"""A denoising diffusion model with deterministic DDIM or DPM-Solver++ sampling and a custom training step.

The model follows the DDIM example of keras-io (Beres, "Denoising Diffusion
Implicit Models", 2022):

- forward process x_t = s(t) x_0 + n(t) eps with s^2 + n^2 = 1 and a
  continuous cosine schedule (Nichol and Dhariwal, "Improved Denoising
  Diffusion Probabilistic Models", ICML 2021): s(t) = cos(a(t)),
  n(t) = sin(a(t)), a(t) linear in t in [0, 1] between acos(max_signal_rate)
  and acos(min_signal_rate);
- the network predicts the noise eps (Ho et al., "Denoising Diffusion
  Probabilistic Models", NeurIPS 2020), trained with the mean absolute or
  squared error at times t ~ U(0, 1);
- an exponential moving average (EMA) of the network weights is used for
  sampling;
- sampling is the deterministic DDIM update (eta = 0) of Song, Meng and
  Ermon, "Denoising Diffusion Implicit Models", ICLR 2021: from pure noise,
  each of `steps` steps predicts x_0 and eps and re-noises x_0 to the next,
  lower noise level with the predicted eps; or the second-order multistep
  DPM-Solver++(2M) of Lu et al., "DPM-Solver++: Fast Solver for Guided
  Sampling of Diffusion Probabilistic Models", 2022, which takes the same
  network evaluations and extrapolates the x_0 estimate from the last two.

Class conditioning feeds integer labels to the network (label embedding).
Images are float32 in [0, 1], channels last; the network works in [-1, 1].
"""

import math

import numpy as np
import keras
import tensorflow as tf

from tfimage.models.gan import _as_labels, _check_count, _global_mean, _unpack, check_labels
from tfimage.models.saving import SaveWithoutOptimizer
from tfimage.networks import diffusion_unet

LOSSES = ("mae", "mse")
SAMPLERS = ("ddim", "dpm-solver++")
DEFAULT_SAMPLER = "dpm-solver++"


def _check_rate(name, value):
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1). Received: {name}={value}")
    return value


def check_steps(steps):
    """A positive integer number of sampling steps."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"steps must be a positive integer. Received: steps={steps!r}")
    return int(steps)


def check_sampler(sampler):
    """One of `SAMPLERS`."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}. Received: sampler={sampler!r}")
    return sampler


@keras.saving.register_keras_serializable(package="tfimage")
class DiffusionModel(SaveWithoutOptimizer, keras.Model):
    """A DDIM diffusion model with an EMA network and optional class conditioning.

    Example:

    ```python
    model = DiffusionModel(image_shape=(28, 28, 1), num_classes=10)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4))
    model.fit(dataset_of_images_and_labels, epochs=10)
    digits = model.sample(16, steps=20, seed=0, labels=7)   # float32 in [0, 1]
    ```

    Args:
        image_shape: (height, width, channels) of the images.
        num_classes: None (unconditional) or the number of classes; batches
            are then `(images, labels)`.
        widths: channels per resolution of the U-Net (see
            `tfimage.networks.diffusion_unet.build_diffusion_unet`).
        block_depth: residual blocks per resolution.
        embedding_dims: size of the noise and label embeddings.
        ema_decay: decay of the EMA network, in [0, 1); a warm-up
            `min(ema_decay, (1 + t) / (10 + t))` is applied.
        min_signal_rate, max_signal_rate: the signal rates s(1) and s(0) of
            the cosine schedule.
        loss: "mae" or "mse" on the predicted noise.
        seed: seed of the SeedGenerator (training noise and times).
        network: optional prebuilt noise-prediction network with the inputs
            of `build_diffusion_unet`.
        **kwargs: `keras.Model` arguments such as `name`.
    """

    def __init__(self, image_shape=(28, 28, 1), num_classes=None, widths=(32, 64, 96), block_depth=2,
                 embedding_dims=32, ema_decay=0.999, min_signal_rate=0.02, max_signal_rate=0.95,
                 loss="mae", seed=None, network=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(ema_decay) < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1). Received: ema_decay={ema_decay}")
        self.min_signal_rate = _check_rate("min_signal_rate", min_signal_rate)
        self.max_signal_rate = _check_rate("max_signal_rate", max_signal_rate)
        if self.min_signal_rate >= self.max_signal_rate:
            raise ValueError(
                "min_signal_rate must be below max_signal_rate. "
                f"Received: min_signal_rate={min_signal_rate}")
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}. Received: loss={loss!r}")
        self.image_shape = tuple(int(s) for s in image_shape)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.widths = tuple(int(w) for w in widths)
        self.block_depth = int(block_depth)
        self.embedding_dims = int(embedding_dims)
        self.ema_decay = float(ema_decay)
        self.loss_name = loss
        self.seed = seed
        if isinstance(network, dict):
            network = keras.saving.deserialize_keras_object(network)
        self._custom_network = network is not None
        self.network = network or diffusion_unet.build_diffusion_unet(
            self.image_shape, self.widths, self.block_depth, self.num_classes, self.embedding_dims)
        out_shape = tuple(self.network.output_shape[1:])
        if out_shape != self.image_shape:
            raise ValueError(
                f"The network predicts noise of shape {out_shape}, not image_shape. "
                f"Received: image_shape={self.image_shape}")
        self.ema_network = keras.models.clone_model(self.network)
        self.ema_network.set_weights(self.network.get_weights())
        self.ema_network.trainable = False
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.noise_loss_tracker = keras.metrics.Mean(name="loss")
        self.image_loss_tracker = keras.metrics.Mean(name="image_loss")
        self._sampler = None
        self.built = True  # the networks are built; fit never calls self(...)

    # ------------------------------------------------------------------ setup
    @property
    def metrics(self):
        return [self.noise_loss_tracker, self.image_loss_tracker]

    def compile(self, optimizer=None, **kwargs):
        """Configures the optimizer (default AdamW(1e-3, weight_decay=1e-4)); the loss is built in."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                "The diffusion loss is built in (set loss= when creating the model). "
                f"Received: loss={kwargs['loss']!r}")
        kwargs.pop("loss", None)
        kwargs.setdefault("jit_compile", False)
        super().compile(optimizer=optimizer or keras.optimizers.AdamW(1e-3, weight_decay=1e-4), **kwargs)
        if not self.optimizer.built:  # built outside the (possibly distributed) train function
            self.optimizer.build(self.network.trainable_variables)

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape), num_classes=self.num_classes, widths=list(self.widths),
            block_depth=self.block_depth, embedding_dims=self.embedding_dims, ema_decay=self.ema_decay,
            min_signal_rate=self.min_signal_rate, max_signal_rate=self.max_signal_rate,
            loss=self.loss_name, seed=self.seed,
        )
        if self._custom_network:
            config["network"] = keras.saving.serialize_keras_object(self.network)
        return config

    # -------------------------------------------------------------- schedule
    def diffusion_schedule(self, diffusion_times):
        """Noise and signal rates of the continuous cosine schedule at times in [0, 1].

        Args:
            diffusion_times: a float tensor of any shape; 0 is the clean end.

        Returns:
            `(noise_rates, signal_rates)`, with noise^2 + signal^2 = 1.
        """
        start_angle = math.acos(self.max_signal_rate)
        end_angle = math.acos(self.min_signal_rate)
        angles = start_angle + tf.cast(diffusion_times, "float32") * (end_angle - start_angle)
        return tf.sin(angles), tf.cos(angles)

    # -------------------------------------------------------------- networks
    def predict_noise(self, noisy_images, noise_rates, labels=None, training=False, use_ema=True):
        """The network's noise estimate for images in [-1, 1] at the given noise rates (batch, 1, 1, 1)."""
        network = self.ema_network if use_ema else self.network
        inputs = [noisy_images, tf.square(noise_rates)]
        if self.num_classes is not None:
            inputs.append(labels)
        return network(inputs, training=training)

    def denoise(self, noisy_images, noise_rates, signal_rates, labels=None, training=False, use_ema=True):
        """Predicted noise and clean images: x_0 = (x_t - n eps) / s (Song et al. 2021, eq. 12).

        Args:
            noisy_images: x_t in the network's [-1, 1] range, (batch, H, W, C).
            noise_rates, signal_rates: n(t) and s(t), (batch, 1, 1, 1).
            labels: int labels (batch, 1) for a conditional model.
            training: run the network in training mode.
            use_ema: use the EMA network (sampling) or the online one.

        Returns:
            `(pred_noises, pred_images)`, both in the network's range.
        """
        pred_noises = self.predict_noise(noisy_images, noise_rates, labels, training, use_ema)
        pred_images = (noisy_images - noise_rates * pred_noises) / signal_rates
        return pred_noises, pred_images

    def call(self, inputs, training=False):
        """Denoises `[noisy_images, noise_rates]` (+ labels) in [0, 1]: returns the x_0 estimate in [0, 1].

        Args:
            inputs: `[noisy_images, noise_rates]` or `[noisy_images,
                noise_rates, labels]`, where noisy_images = s x_0 + n eps
                is in the network's range ([-1, 1] for clean images) and
                noise_rates has shape (batch, 1, 1, 1).
        """
        noisy, noise_rates = inputs[0], tf.cast(inputs[1], "float32")
        labels = _as_labels(inputs[2]) if self.num_classes is not None else None
        signal_rates = tf.sqrt(1.0 - tf.square(noise_rates))
        _, images = self.denoise(tf.cast(noisy, "float32"), noise_rates, signal_rates, labels, training)
        return images * 0.5 + 0.5

    # -------------------------------------------------------------- training
    def _check_batch(self, images, labels):
        shape = tuple(images.shape[1:])
        if None not in shape and shape != self.image_shape:
            raise ValueError(
                f"This diffusion model was built for images of shape {self.image_shape}. "
                f"Received: images with shape={shape}")
        if self.num_classes is not None and labels is None:
            raise ValueError(
                "A conditional diffusion model (num_classes set) needs (images, labels) batches. "
                "Received: labels=None")

    def _diffusion_losses(self, data, training):
        images, labels = _unpack(data)
        self._check_batch(images, labels)
        images = tf.cast(images, "float32") * 2.0 - 1.0
        labels = _as_labels(labels) if self.num_classes is not None else None
        batch = tf.shape(images)[0]
        noises = keras.random.normal(tf.shape(images), seed=self.seed_generator)
        times = keras.random.uniform((batch, 1, 1, 1), seed=self.seed_generator)
        noise_rates, signal_rates = self.diffusion_schedule(times)
        noisy = signal_rates * images + noise_rates * noises
        pred_noises, pred_images = self.denoise(noisy, noise_rates, signal_rates, labels, training=training,
                                                use_ema=not training)
        error = pred_noises - noises
        per_pixel = tf.abs(error) if self.loss_name == "mae" else tf.square(error)
        noise_loss = tf.reduce_mean(tf.reshape(per_pixel, [batch, -1]), axis=1)
        image_loss = tf.reduce_mean(tf.reshape(tf.abs(pred_images - images), [batch, -1]), axis=1)
        return noise_loss, image_loss

    def train_step(self, data):
        if self.optimizer is None:
            raise ValueError("Call compile() before fit(). Received: optimizer=None")
        with tf.GradientTape() as tape:
            noise_loss, image_loss = self._diffusion_losses(data, training=True)
            loss = _global_mean(noise_loss)
        variables = self.network.trainable_variables
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        self._update_ema()
        self.noise_loss_tracker.update_state(tf.reduce_mean(noise_loss))
        self.image_loss_tracker.update_state(tf.reduce_mean(image_loss))
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        noise_loss, image_loss = self._diffusion_losses(data, training=False)
        self.noise_loss_tracker.update_state(tf.reduce_mean(noise_loss))
        self.image_loss_tracker.update_state(tf.reduce_mean(image_loss))
        return {metric.name: metric.result() for metric in self.metrics}

    def _update_ema(self):
        step = tf.cast(self.optimizer.iterations, "float32")
        decay = tf.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        # All weights, batch-norm statistics included (as in the keras-io example).
        pairs = list(zip(self.ema_network.weights, self.network.weights))
        context = tf.distribute.get_replica_context()
        if tf.distribute.has_strategy() and context is not None:
            from tfimage.models.gan import _ema_cross_replica

            context.merge_call(_ema_cross_replica, args=(pairs, decay))
        else:
            for ema, weight in pairs:
                ema.assign(decay * ema + (1.0 - decay) * weight)

    # -------------------------------------------------------------- sampling
    def initial_noise(self, n, seed=None):
        """Standard normal x_1 for `sample`: NumPy-seeded when `seed` is given, else the SeedGenerator."""
        shape = (int(n),) + self.image_shape
        if seed is not None:
            return np.random.default_rng(int(seed)).standard_normal(shape).astype("float32")
        return keras.ops.convert_to_numpy(keras.random.normal(shape, seed=self.seed_generator))

    def _reverse_diffusion(self, noise, labels, steps, use_ema, sampler):
        """The deterministic sampling loop from x_1 = noise; returns x_0 in [-1, 1].

        Both samplers evaluate the network at t = 1, 1 - 1/steps, ..., 1/steps
        and return the x_0 estimate of the last evaluation. DDIM re-noises the
        current x_0 estimate D_i with the predicted noise: x_next = s_next D_i +
        n_next eps_i, which equals (n_next / n) x_t + s_next (1 - e^-h) D_i with h
        the step in log(s / n). DPM-Solver++(2M) puts, from the second step on,
        (1 + 1 / (2 r)) D_i - 1 / (2 r) D_(i-1) in place of D_i, r = h_prev / h.
        """
        batch = tf.shape(noise)[0]
        step_size = 1.0 / steps
        noisy = noise
        pred_images = noise
        previous_images, previous_h = None, None
        for step in range(steps):
            times = tf.fill([batch, 1, 1, 1], 1.0 - step * step_size)
            noise_rates, signal_rates = self.diffusion_schedule(times)
            pred_noises, pred_images = self.denoise(noisy, noise_rates, signal_rates, labels, use_ema=use_ema)
            next_noise_rates, next_signal_rates = self.diffusion_schedule(times - step_size)
            if sampler == "ddim":
                noisy = next_signal_rates * pred_images + next_noise_rates * pred_noises
                continue
            h = tf.math.log(next_signal_rates / next_noise_rates) - tf.math.log(signal_rates / noise_rates)
            estimate = pred_images
            if previous_images is not None:
                ratio = previous_h / h
                estimate = (1.0 + 0.5 / ratio) * pred_images - (0.5 / ratio) * previous_images
            noisy = (next_noise_rates / noise_rates) * noisy + next_signal_rates * (1.0 - tf.exp(-h)) * estimate
            previous_images, previous_h = pred_images, h
        return pred_images

    def _sampling_function(self):
        if self._sampler is None:
            self._sampler = tf.function(self._reverse_diffusion, reduce_retracing=True)
        return self._sampler

    def _sample_labels(self, n, labels):
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    "This diffusion model is unconditional (num_classes=None): it takes no labels. "
                    f"Received: labels={labels!r}")
            return None
        return check_labels(labels, n, self.num_classes)

    def sample(self, n, steps=20, seed=None, labels=None, batch_size=500, use_ema=True, sampler=DEFAULT_SAMPLER):
        """Generates `n` images in [0, 1] with a deterministic sampler (DDIM or DPM-Solver++(2M)).

        The same `seed` (and labels) gives the same images.

        Args:
            n: number of images (positive integer).
            steps: sampling steps (network evaluations per image).
            seed: integer seed of the initial noise (None: the model's
                SeedGenerator).
            labels: for a conditional model, one class or `n` classes
                (default: cycling 0, 1, 2, ...); None for an unconditional one.
            batch_size: images per batch.
            use_ema: sample with the EMA network (True) or the online one.
            sampler: "dpm-solver++" (second-order multistep) or "ddim"
                (first order); both cost one network evaluation per step.

        Returns:
            A float32 NumPy array of shape (n, H, W, C).
        """
        n = _check_count(n)
        sampler = check_sampler(sampler)
        steps = check_steps(steps)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
        labels = self._sample_labels(n, labels)
        noise = self.initial_noise(n, seed)
        return self.generate(noise, labels=labels, steps=steps, batch_size=batch_size, use_ema=use_ema,
                             sampler=sampler)

    def generate(self, noise, labels=None, steps=20, batch_size=500, use_ema=True, sampler=DEFAULT_SAMPLER):
        """Runs a sampler (see `sample`) from given initial noise (n, H, W, C); returns images in [0, 1]."""
        noise = np.asarray(noise, dtype="float32")
        if noise.ndim != 4 or tuple(noise.shape[1:]) != self.image_shape:
            raise ValueError(
                f"noise must have shape (n, {', '.join(map(str, self.image_shape))}). "
                f"Received: noise with shape={noise.shape}")
        steps = check_steps(steps)
        sampler = check_sampler(sampler)
        labels = self._sample_labels(len(noise), labels)
        loop = self._sampling_function()
        out = []
        for start in range(0, len(noise), batch_size):
            chunk = tf.constant(noise[start:start + batch_size])
            chunk_labels = None if labels is None else tf.constant(labels[start:start + batch_size])
            out.append(keras.ops.convert_to_numpy(loop(chunk, chunk_labels, steps, use_ema, sampler)))
        images = np.concatenate(out, axis=0) * 0.5 + 0.5
        return np.clip(images, 0.0, 1.0).astype("float32")
