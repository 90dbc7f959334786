"""Image quality metrics the way the restoration papers compute them.

PSNR and SSIM with data range 1 (images in [0, 1]), an optional border crop
and an optional luma (Y) channel:

- Denoising papers (DnCNN, FFDNet, BM3D): PSNR/SSIM on the whole image, gray
  images as they are, color images over the RGB channels.
- Super-resolution papers (SRCNN, VDSR, ESPCN): PSNR/SSIM on the Y channel of
  YCbCr (ITU-R BT.601, MATLAB's `rgb2ycbcr`), after cropping `scale` pixels
  from each border.

SSIM follows Wang et al., "Image Quality Assessment: From Error Visibility to
Structural Similarity", IEEE TIP 2004: an 11x11 Gaussian window of stddev 1.5,
K1 = 0.01, K2 = 0.03, averaged over the valid part of the image and over
channels (the same numbers as skimage's `structural_similarity` with
`gaussian_weights=True, sigma=1.5, use_sample_covariance=False`).
"""

import keras
import tensorflow as tf


def rgb_to_y(image):
    """BT.601 luma of an RGB image in [0, 1], in [16/255, 235/255] (MATLAB `rgb2ycbcr`)."""
    image = tf.convert_to_tensor(image, tf.float32)
    weights = tf.constant([65.481, 128.553, 24.966], tf.float32) / 255.0
    return tf.reduce_sum(image * weights, axis=-1, keepdims=True) + 16.0 / 255.0


def _prepare(reference, estimate, border, y_channel):
    reference = tf.convert_to_tensor(reference)
    estimate = tf.convert_to_tensor(estimate)
    reference = tf.cast(reference, tf.float32)
    estimate = tf.cast(estimate, tf.float32)
    if reference.shape.rank not in (3, 4) or reference.shape.as_list() != estimate.shape.as_list():
        raise ValueError(
            "reference and estimate must have the same shape, (H, W, C) or (N, H, W, C). "
            f"Received: reference.shape={reference.shape}, estimate.shape={estimate.shape}"
        )
    if border < 0:
        raise ValueError(f"border must be >= 0. Received: border={border}")
    if y_channel:
        if reference.shape[-1] == 3:
            reference, estimate = rgb_to_y(reference), rgb_to_y(estimate)
        elif reference.shape[-1] != 1:
            raise ValueError(
                f"y_channel needs RGB or gray images. Received: channels={reference.shape[-1]}"
            )
    if border:
        reference = reference[..., border:-border, border:-border, :]
        estimate = estimate[..., border:-border, border:-border, :]
    return reference, estimate


def psnr(reference, estimate, data_range=1.0, border=0, y_channel=False):
    """Peak signal-to-noise ratio in dB.

    Args:
        reference: the clean image, (H, W, C) or a batch (N, H, W, C).
        estimate: the restored (or degraded) image, same shape.
        data_range: the peak value, 1 for images in [0, 1].
        border: pixels cropped from each side before measuring.
        y_channel: measure the BT.601 luma of RGB images (the SR convention).

    Returns:
        A float32 scalar for one image, or a (N,) tensor for a batch.
    """
    reference, estimate = _prepare(reference, estimate, border, y_channel)
    axes = [-3, -2, -1]
    mse = tf.reduce_mean(
        tf.square(tf.cast(reference, tf.float64) - tf.cast(estimate, tf.float64)), axis=axes
    )
    value = 10.0 * tf.math.log(tf.cast(data_range, tf.float64) ** 2 / mse) / tf.math.log(
        tf.constant(10.0, tf.float64)
    )
    return tf.cast(value, tf.float32)


def ssim(reference, estimate, data_range=1.0, border=0, y_channel=False):
    """Structural similarity (Wang et al. 2004), averaged over pixels and channels.

    Args:
        reference: the clean image, (H, W, C) or a batch (N, H, W, C).
        estimate: the restored image, same shape.
        data_range: the peak value, 1 for images in [0, 1].
        border: pixels cropped from each side before measuring.
        y_channel: measure the BT.601 luma of RGB images (the SR convention).

    Returns:
        A float32 scalar for one image, or a (N,) tensor for a batch.
    """
    reference, estimate = _prepare(reference, estimate, border, y_channel)
    if reference.shape[-3] is not None and min(reference.shape[-3], reference.shape[-2]) < 11:
        raise ValueError(
            f"SSIM needs images of at least 11x11 pixels. Received: shape={reference.shape}"
        )
    return tf.image.ssim(
        reference, estimate, max_val=data_range, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03
    )


class _MeanImageMetric(keras.metrics.Metric):
    """Mean of a per-image metric over every image seen."""

    def __init__(self, data_range=1.0, border=0, y_channel=False, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.data_range = data_range
        self.border = border
        self.y_channel = y_channel
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def _measure(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self._measure(y_true, y_pred)
        values = tf.reshape(tf.cast(values, tf.float32), [-1])
        if sample_weight is not None:
            weights = tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
            self.total.assign_add(tf.reduce_sum(values * weights))
            self.count.assign_add(tf.reduce_sum(weights))
        else:
            self.total.assign_add(tf.reduce_sum(values))
            self.count.assign_add(tf.cast(tf.size(values), tf.float32))

    def result(self):
        return tf.math.divide_no_nan(self.total, self.count)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        config = super().get_config()
        config.update(data_range=self.data_range, border=self.border, y_channel=self.y_channel)
        return config


@keras.saving.register_keras_serializable(package="tfimage")
class PSNR(_MeanImageMetric):
    """Mean PSNR (dB) over images; see `psnr` for the arguments.

    Predictions are clipped to [0, data_range] first, as a saved image would be.
    """

    def __init__(self, data_range=1.0, border=0, y_channel=False, name="psnr", dtype=None):
        super().__init__(data_range=data_range, border=border, y_channel=y_channel, name=name, dtype=dtype)

    def _measure(self, y_true, y_pred):
        y_pred = tf.clip_by_value(tf.cast(y_pred, tf.float32), 0.0, self.data_range)
        return psnr(y_true, y_pred, self.data_range, self.border, self.y_channel)


@keras.saving.register_keras_serializable(package="tfimage")
class SSIM(_MeanImageMetric):
    """Mean SSIM over images; see `ssim` for the arguments."""

    def __init__(self, data_range=1.0, border=0, y_channel=False, name="ssim", dtype=None):
        super().__init__(data_range=data_range, border=border, y_channel=y_channel, name=name, dtype=dtype)

    def _measure(self, y_true, y_pred):
        y_pred = tf.clip_by_value(tf.cast(y_pred, tf.float32), 0.0, self.data_range)
        return ssim(y_true, y_pred, self.data_range, self.border, self.y_channel)
