"""Restoration with a diffusion model as the prior: DiffPIR-style sampling.

Zhu, Zhang, Liang, Cao, Wen, Timofte and Van Gool, "Denoising Diffusion
Models for Plug-and-Play Image Restoration", CVPR Workshops 2023 (DiffPIR),
put the half-quadratic-splitting (HQS) data step of plug-and-play solvers
(Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior",
TPAMI 2021; `tfimage.pnp`) inside each step of a diffusion sampler. With the
continuous cosine schedule of `tfimage.models.diffusion.DiffusionModel`
(x_t = s_t x_0 + n_t eps, images in [-1, 1]) one step from time t to the next
time t' is:

1. prior step: x0_hat = (x_t - n_t eps_theta(x_t, t)) / s_t, the model's
   clean estimate, whose error is that of a Gaussian denoiser at the
   [0, 1]-scale noise level sigma_t = n_t / (2 s_t);
2. data step: x0_tilde = argmin_x ||y - A x||^2 + rho_t ||x - x0_hat||^2 with
   rho_t = lambda * sigma_n^2 / sigma_t^2 (the operator's closed form,
   `tfimage.operators`);
3. re-noising: eps_hat = (x_t - s_t x0_tilde) / n_t and
   x_t' = s_t' x0_tilde + n_t' (sqrt(1 - zeta) eps_hat + sqrt(zeta) eps),
   eps fresh N(0, I) noise; zeta = 0 is the deterministic DDIM update of Song
   et al., ICLR 2021.

The result is the last x0_tilde. For a class-conditional model the class of
the degraded image is unknown: `labels="search"` runs the sampler once per
class and keeps, per image, the result whose prior estimate fits the
observation best (smallest ||y - A x0_hat||).

Images are float32 (n, H, W, C) in [0, 1]; observations are what
`operator.forward` returns for each image.
"""

import numpy as np

LAMBDA = 7.0
ZETA = 0.3
MIN_RHO = 1e-5


def inpainting_mask(shape, missing, seed=0):
    """A random pixel mask with a fraction `missing` of the pixels dropped.

    Args:
        shape: (H, W) or (H, W, C) (one mask for all channels).
        missing: the fraction of pixels removed, in [0, 1).
        seed: the mask's seed.

    Returns:
        A float32 (H, W, 1) array of 0 (missing) and 1 (observed).
    """
    if isinstance(missing, bool) or not 0.0 <= float(missing) < 1.0:
        raise ValueError(f"missing must be in [0, 1). Received: missing={missing!r}")
    height, width = int(shape[0]), int(shape[1])
    rng = np.random.default_rng(seed)
    return (rng.random((height, width, 1)) >= float(missing)).astype(np.float32)


class PixelMasks:
    """Inpainting with one mask per image: the batched form of `tfimage.operators.Mask`.

    `diffpir` takes it in place of a one-image operator when the masks differ
    between the images.

    Args:
        masks: float32 (n, H, W, 1) or (n, H, W, C) of 0 and 1 (1 = observed).
    """

    batched = True

    def __init__(self, masks):
        masks = np.asarray(masks, np.float32)
        if masks.ndim != 4 or len(masks) == 0:
            raise ValueError(f"masks must be a non-empty (n, H, W, C) array. Received: masks with shape={masks.shape}")
        self.masks = masks

    def __len__(self):
        return len(self.masks)

    def take(self, part):
        return PixelMasks(self.masks[part])

    def forward(self, batch):
        return np.asarray(batch, np.float32) * self.masks

    def prepare(self, observations):
        return np.asarray(observations, np.float32) * self.masks

    def data_step(self, estimates, observations, rho, prepared):
        """(M y + rho z) / (M + rho), pixel by pixel."""
        return (prepared + float(rho) * np.asarray(estimates, np.float32)) / (self.masks + float(rho))


class _Batched:
    """Runs a one-image `tfimage.operators` operator on a batch by folding the batch into channels."""

    batched = True

    def __init__(self, operator):
        self.operator = operator

    def take(self, part):
        return self

    @staticmethod
    def _fold(batch):
        batch = np.asarray(batch, np.float32)
        n, height, width, channels = batch.shape
        return np.transpose(batch, (1, 2, 0, 3)).reshape(height, width, n * channels)

    @staticmethod
    def _unfold(image, n):
        image = np.asarray(image, np.float32)
        height, width, folded = image.shape
        return np.transpose(image.reshape(height, width, n, folded // n), (2, 0, 1, 3))

    def forward(self, batch):
        return self._unfold(self.operator.forward(self._fold(batch)), len(batch))

    def prepare(self, observations):
        return self.operator.adjoint_of(self._fold(observations))

    def data_step(self, estimates, observations, rho, prepared):
        folded = self.operator.data_step(self._fold(estimates), self._fold(observations), float(rho), prepared)
        return self._unfold(folded, len(estimates))


def _check_positive_number(name, value, allow_zero=False):
    ok = not isinstance(value, bool) and isinstance(value, (int, float, np.floating, np.integer)) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        kind = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a number {kind}. Received: {name}={value!r}")
    return float(value)


def diffpir(model, operator, observations, steps=20, labels="search", noise_level=0.01, weight=LAMBDA,
            zeta=ZETA, seed=0, batch_size=250):
    """Restores degraded images with a diffusion model in DiffPIR-style sampling (see the module docstring).

    Args:
        model: a `tfimage.models.diffusion.DiffusionModel`.
        operator: a `tfimage.operators` operator shared by the images
            (`Mask`, `BlurDownsample`, `Blur`: `forward`, `adjoint_of`,
            `data_step`), or `PixelMasks` (one mask per image).
        observations: the degraded images, float32 (n, h, w, C), each
            `operator.forward(clean)` (plus noise).
        steps: sampling steps (network evaluations per image and class).
        labels: for a conditional model: "search" (try every class, keep the
            best data fit per image), one class, or n classes; None for an
            unconditional model.
        noise_level: sigma_n, the observation noise level in [0, 1] units
            (a small positive value for noise-free observations).
        weight: lambda of rho_t = lambda * sigma_n^2 / sigma_t^2.
        zeta: the fraction of fresh noise in the re-noising, in [0, 1].
        seed: seed of the initial and fresh noise.
        batch_size: images per network call.

    Returns:
        A dict with "images" (float32 (n, H, W, C) in [0, 1]), "labels" (the
        class used per image, or None) and "residuals" (||y - A x0_hat||^2
        per image of the kept result).
    """
    from tfimage.models.diffusion import DiffusionModel, check_steps

    if not isinstance(model, DiffusionModel):
        raise ValueError(f"model must be a tfimage DiffusionModel. Received: model={type(model).__name__}")
    steps = check_steps(steps)
    noise_level = _check_positive_number("noise_level", noise_level)
    weight = _check_positive_number("weight", weight)
    zeta = _check_positive_number("zeta", zeta, allow_zero=True)
    if zeta > 1.0:
        raise ValueError(f"zeta must be in [0, 1]. Received: zeta={zeta!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer. Received: batch_size={batch_size!r}")
    observations = np.asarray(observations, np.float32)
    if observations.ndim != 4 or len(observations) == 0:
        raise ValueError(f"observations must be a non-empty (n, h, w, C) array. Received: shape={observations.shape}")
    n = len(observations)
    batched = operator if getattr(operator, "batched", False) else _Batched(operator)
    if isinstance(batched, PixelMasks) and len(batched) != n:
        raise ValueError(f"Expected one mask per observation ({n}). Received: operator with {len(batched)} masks")
    if model.num_classes is None:
        if labels not in (None, "search"):
            raise ValueError(f"The model is unconditional: it takes no labels. Received: labels={labels!r}")
        candidates = [None]
    elif isinstance(labels, str):
        if labels != "search":
            raise ValueError(f"labels must be 'search', a class or one class per image. Received: labels={labels!r}")
        candidates = [np.full(n, c, np.int32) for c in range(model.num_classes)]
    else:
        from tfimage.models.gan import check_labels

        candidates = [check_labels(labels, n, model.num_classes).reshape(-1)]
    best_images = best_residuals = best_labels = None
    for candidate in candidates:
        images, residuals = [], []
        for start in range(0, n, batch_size):
            part = slice(start, start + batch_size)
            chunk_labels = None if candidate is None else candidate[part]
            restored, residual = _diffpir_batch(model, batched.take(part), observations[part], chunk_labels, steps,
                                                noise_level, weight, zeta, seed + start)
            images.append(restored)
            residuals.append(residual)
        images, residuals = np.concatenate(images), np.concatenate(residuals)
        if best_images is None:
            best_images, best_residuals = images, residuals
            best_labels = None if candidate is None else candidate.copy()
        else:
            better = residuals < best_residuals
            best_images[better], best_residuals[better] = images[better], residuals[better]
            best_labels[better] = candidate[better]
    return {"images": best_images, "labels": best_labels, "residuals": best_residuals}


def _diffpir_batch(model, operator, observations, labels, steps, noise_level, weight, zeta, seed):
    import tensorflow as tf

    n = len(observations)
    rng = np.random.default_rng(seed)
    noisy = rng.standard_normal((n,) + model.image_shape).astype(np.float32)
    tf_labels = None if labels is None else tf.constant(np.asarray(labels, np.int32).reshape(-1, 1))
    prepared = operator.prepare(observations)
    times = np.linspace(1.0, 0.0, steps + 1).astype(np.float32)
    estimate = prior = None
    for step in range(steps):
        noise_rate, signal_rate = (float(v) for v in model.diffusion_schedule(tf.constant(times[step])))
        rates = tf.fill([n, 1, 1, 1], noise_rate), tf.fill([n, 1, 1, 1], signal_rate)
        _, predicted = model.denoise(tf.constant(noisy), rates[0], rates[1], tf_labels)
        prior = np.clip(predicted.numpy() * 0.5 + 0.5, 0.0, 1.0)  # x0_hat in [0, 1]
        sigma = noise_rate / (2.0 * signal_rate)  # its noise level on the [0, 1] scale
        rho = max(MIN_RHO, weight * noise_level ** 2 / sigma ** 2)
        estimate = operator.data_step(prior, observations, rho, prepared)
        x0 = estimate * 2.0 - 1.0
        if step + 1 < steps:
            next_noise, next_signal = (float(v) for v in model.diffusion_schedule(tf.constant(times[step + 1])))
            eps_hat = (noisy - signal_rate * x0) / noise_rate
            fresh = rng.standard_normal(noisy.shape).astype(np.float32)
            noisy = (next_signal * x0 + next_noise * (np.sqrt(1.0 - zeta) * eps_hat + np.sqrt(zeta) * fresh))
            noisy = noisy.astype(np.float32)
    residual = operator.forward(prior) - observations
    residuals = np.sum(residual.reshape(n, -1) ** 2, axis=1)
    return np.clip(estimate, 0.0, 1.0).astype(np.float32), residuals
