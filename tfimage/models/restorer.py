"""Restorer: a Keras training wrapper for any image restoration network.

The wrapper owns the training objective (a pixel loss between the network's
output and the clean image) and the progress metrics (loss, PSNR, SSIM); the
network itself only maps degraded images to restored ones. It knows nothing
about files or tasks, so denoising, inpainting and super-resolution share it:
the data decide what "degraded" means.

Reference for the residual-learning denoising setup it was written for:
    K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, "Beyond a Gaussian Denoiser:
    Residual Learning of Deep CNN for Image Denoising", IEEE TIP 26(7), 2017.
Charbonnier loss: P. Charbonnier, L. Blanc-Feraud, G. Aubert, M. Barlaud,
"Two deterministic half-quadratic regularization algorithms for computed
imaging", ICIP 1994.
"""

import keras
import tensorflow as tf

LOSSES = ("l2", "l1", "charbonnier", "psnr")
CHARBONNIER_EPSILON = 1e-3
PSNR_LOSS_MSE_FLOOR = 1e-8  # 80 dB: a perfect patch gives a finite loss and gradient
SSIM_FILTER_SIZE = 11


def per_example_loss(clean, restored, loss="l2"):
    """The pixel loss of each image of a batch.

    Args:
        clean: the targets, float (batch, H, W, C).
        restored: the network outputs, same shape.
        loss: "l2" (mean squared error), "l1" (mean absolute error),
            "charbonnier" (mean of sqrt(d^2 + 1e-6)) or "psnr" (minus each
            image's PSNR in dB, `10 log10(MSE)`: averaged over the batch it is
            the mean PSNR benchmarks report, which weighs an image by the
            log of its error, so smooth images count more than under "l2").

    Returns:
        A float32 tensor of shape (batch,).
    """
    diff = tf.cast(restored, tf.float32) - tf.cast(clean, tf.float32)
    if loss in ("l2", "psnr"):
        values = tf.square(diff)
    elif loss == "l1":
        values = tf.abs(diff)
    elif loss == "charbonnier":
        values = tf.sqrt(tf.square(diff) + CHARBONNIER_EPSILON**2)
    else:
        raise ValueError(f"loss must be one of {LOSSES}. Received: loss={loss!r}")
    per_example = tf.reduce_mean(tf.reshape(values, (tf.shape(values)[0], -1)), axis=1)
    if loss == "psnr":
        per_example = 10.0 * tf.math.log(tf.maximum(per_example, PSNR_LOSS_MSE_FLOOR)) / tf.math.log(10.0)
    return per_example


def per_example_psnr(clean, restored):
    """PSNR in dB of each image, data range 1, on outputs clipped to [0, 1].

    The mean squared error is floored at 1e-10 (100 dB) so identical images
    give a finite value.
    """
    restored = tf.clip_by_value(tf.cast(restored, tf.float32), 0.0, 1.0)
    clean = tf.cast(clean, tf.float32)
    mse = tf.reduce_mean(
        tf.reshape(tf.square(restored - clean), (tf.shape(clean)[0], -1)), axis=1
    )
    mse = tf.maximum(mse, 1e-10)
    return 10.0 * tf.math.log(1.0 / mse) / tf.math.log(10.0)


def per_example_ssim(clean, restored):
    """SSIM of each image (`tf.image.ssim`, max_val 1) on clipped outputs.

    The Gaussian window is 11x11 unless the patches are known to be smaller,
    then it shrinks to the patch size.
    """
    restored = tf.clip_by_value(tf.cast(restored, tf.float32), 0.0, 1.0)
    clean = tf.cast(clean, tf.float32)
    filter_size = SSIM_FILTER_SIZE
    static = [size for size in clean.shape[1:3] if size is not None]
    if static:
        filter_size = max(1, min([filter_size] + static))
    return tf.image.ssim(restored, clean, max_val=1.0, filter_size=filter_size)


@keras.saving.register_keras_serializable(package="tfimage")
class Restorer(keras.Model):
    """Trains a restoration network on (degraded, clean) image pairs.

    Batches are `(degraded, clean)`, or `((degraded, noise_level), clean)`
    when the network takes a noise level (`noise_level_input=True`; the noise
    level is sigma in [0, 1] units, shape (batch,) or (batch, 1)); a
    per-pixel second input, such as an inpainting mask (batch, H, W, 1),
    goes to the network as it is. An
    optional third element, per-example sample weights, is accepted.
    Images are float32 in [0, 1], channels last. `fit` and `evaluate` report
    "loss", "psnr" (dB, on outputs clipped to [0, 1]) and "ssim".

    The loss is computed per example and averaged with
    `tf.nn.compute_average_loss`, so under a `tf.distribute` strategy each
    replica's loss is divided by the global batch size and the summed
    gradients are those of the global mean.

    Example:
        ```python
        restorer = Restorer(network=build_dncnn(), loss="l2")
        restorer.compile(optimizer=keras.optimizers.Adam(1e-3))
        restorer.fit(dataset_of_noisy_clean_pairs, epochs=10)
        ```

    Args:
        network: the Keras model that maps the degraded image (and, with
            `noise_level_input`, the noise level) to the restored image.
        loss: the pixel loss, "l2", "l1", "charbonnier" or "psnr" (see
            `per_example_loss`).
        noise_level_input: whether the network takes `[image, noise_level]`.
        name: the model name.
        **kwargs: passed to `keras.Model`.
    """

    def __init__(self, network, loss="l2", noise_level_input=False, name="restorer", **kwargs):
        super().__init__(name=name, **kwargs)
        if isinstance(network, dict):
            network = keras.saving.deserialize_keras_object(network)
        if not isinstance(network, keras.Model):
            raise ValueError(
                f"network must be a keras.Model. Received: network={network!r}"
            )
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}. Received: loss={loss!r}")
        self.network = network
        # `self.loss` belongs to keras.Model.compile, hence another attribute.
        self.restoration_loss = loss
        self.noise_level_input = bool(noise_level_input)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")
        self.ssim_tracker = keras.metrics.Mean(name="ssim")

    @property
    def metrics(self):
        """The trackers reset by Keras at the start of each epoch."""
        return [self.loss_tracker, self.psnr_tracker, self.ssim_tracker]

    def _network_inputs(self, x):
        if not self.noise_level_input:
            if isinstance(x, (tuple, list)):
                raise ValueError(
                    "This Restorer takes the degraded image alone "
                    "(noise_level_input=False). Received: x with "
                    f"{len(x)} elements"
                )
            return x
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            raise ValueError(
                "This Restorer takes (degraded, noise_level) inputs "
                f"(noise_level_input=True). Received: x={x!r}"
            )
        image, noise_level = x
        noise_level = tf.cast(noise_level, image.dtype)
        if noise_level.shape.rank is None or noise_level.shape.rank <= 2:  # one level per image
            noise_level = tf.reshape(noise_level, (-1, 1))
        return [image, noise_level]  # else a per-pixel input (e.g. an inpainting mask), as it is

    def call(self, inputs, training=None):
        """Runs the network: `inputs` is the image or `[image, noise_level]`."""
        return self.network(self._network_inputs(inputs), training=training)

    def _per_example_loss(self, clean, restored):
        return per_example_loss(clean, restored, loss=self.restoration_loss)

    def _update_trackers(self, per_example, clean, restored, sample_weight):
        self.loss_tracker.update_state(per_example, sample_weight=sample_weight)
        self.psnr_tracker.update_state(
            per_example_psnr(clean, restored), sample_weight=sample_weight
        )
        self.ssim_tracker.update_state(
            per_example_ssim(clean, restored), sample_weight=sample_weight
        )
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        """One optimisation step on a batch of (degraded, clean) pairs."""
        x, clean, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            restored = self(x, training=True)
            per_example = self._per_example_loss(clean, restored)
            loss = tf.nn.compute_average_loss(per_example, sample_weight=sample_weight)
            if self.losses:  # weight regularisers, scaled like the loss
                loss += tf.nn.scale_regularization_loss(
                    tf.cast(tf.add_n(self.losses), loss.dtype)
                )
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._update_trackers(per_example, clean, restored, sample_weight)

    def test_step(self, data):
        """Scores a batch of (degraded, clean) pairs without training."""
        x, clean, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        restored = self(x, training=False)
        per_example = self._per_example_loss(clean, restored)
        return self._update_trackers(per_example, clean, restored, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "network": keras.saving.serialize_keras_object(self.network),
                "loss": self.restoration_loss,
                "noise_level_input": self.noise_level_input,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(
            config["network"], custom_objects=custom_objects
        )
        return cls(**config)
