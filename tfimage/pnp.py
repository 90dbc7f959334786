"""Plug-and-play image restoration: a pretrained denoiser as the prior of a half-quadratic-splitting solver.

For a linear degradation y = A x + n (blur, blur + downsampling, a mask,
a Bayer mosaic; `tfimage.operators`) the solver alternates

1. the data step, in closed form: x = argmin ||y - A x||^2 + rho_k ||x - z||^2;
2. the prior step: z = denoiser(x, sigma_k),

with DPIR's schedule: sigma_k log-spaced from 49/255 down to the image's
noise level, and rho_k = lambda * sigma^2 / sigma_k^2 (lambda 0.23). Any
denoiser that takes a noise level (FFDNet, FDnCNN, ...) is the prior, with
no training for the new task. With `self_ensemble`, iteration k denoises
the k-th of the 8 flips/turns of x (and undoes it), DPIR's "x8" at the
cost of one denoiser pass per iteration.

References:
    K. Zhang, W. Zuo, S. Gu, L. Zhang, "Learning Deep CNN Denoiser Prior for
    Image Restoration", CVPR 2017 (IRCNN).
    K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play
    Image Restoration with Deep Denoiser Prior", IEEE TPAMI 44(10), 2021 (DPIR).
"""

import math

import numpy as np

SIGMA_START = 49.0 / 255.0
LAMBDA = 0.23
# rho's noise level never goes below this (DPIR: max(0.255 / 255, noise level)).
MIN_DATA_NOISE = 0.255 / 255.0


def schedule(noise_level, iterations, sigma_start=SIGMA_START, sigma_end=None, weight=LAMBDA):
    """DPIR's denoiser noise levels and data-step weights.

    Args:
        noise_level: the image's noise standard deviation (sigma / 255).
        iterations: the number of HQS iterations.
        sigma_start: the first denoiser noise level (49 / 255).
        sigma_end: the last one (default: `noise_level`, at least 0.255 / 255).
        weight: lambda in rho_k = lambda * noise_level^2 / sigma_k^2.

    Returns:
        A pair of float32 arrays (sigmas, rhos), each of length `iterations`.
    """
    from tfimage.tasks.denoise import check_noise_level

    noise_level = check_noise_level(noise_level)
    if isinstance(iterations, bool) or int(iterations) != iterations or iterations < 1:
        raise ValueError(f"iterations must be a positive int. Received: iterations={iterations!r}")
    floor = max(MIN_DATA_NOISE, noise_level)
    sigma_end = floor if sigma_end is None else float(sigma_end)
    if not (0 < sigma_end <= 1 and 0 < sigma_start <= 1):
        raise ValueError(f"The schedule's noise levels must be positive. Received: sigma_start={sigma_start}, sigma_end={sigma_end}")
    sigmas = np.logspace(math.log10(sigma_start), math.log10(sigma_end), int(iterations)).astype(np.float32)
    rhos = (weight * floor**2 / sigmas.astype(np.float64) ** 2).astype(np.float32)
    return sigmas, rhos


def _view(image, index):
    """The index-th (0-7) flip/quarter turn of an (H, W, C) array: 2 * turns + flip."""
    turns, flip = divmod(index % 8, 2)
    view = np.rot90(image, turns)
    return np.ascontiguousarray(view[:, ::-1] if flip else view)


def _unview(image, index):
    turns, flip = divmod(index % 8, 2)
    image = image[:, ::-1] if flip else image
    return np.ascontiguousarray(np.rot90(image, -turns))


def is_denoiser(model):
    """Whether a Keras model maps an image to one of the same size (a denoiser for the solver)."""
    from tfimage import execution

    network = execution.network_of(model)
    inputs = network.inputs
    if len(inputs) > 1 and len(inputs[1].shape) == 4:
        return False  # [image, mask]: an inpainting network
    channels = inputs[0].shape[-1] or 3
    probe = [np.zeros((1, 16, 16, channels), np.float32)]
    if len(inputs) > 1:
        probe.append(np.zeros((1, 1), np.float32))
    output = network(probe if len(probe) > 1 else probe[0], training=False)
    return tuple(output.shape[1:3]) == (16, 16)


def denoiser_of(model):
    """`(image, sigma) -> denoised` for a zoo denoiser, run as a graph (`tfimage.tasks.denoise`).

    A gray denoiser restores each channel of a color image; a color
    denoiser restores a gray image as three equal channels.

    Args:
        model: a Keras denoiser (with or without a noise-level input).

    Returns:
        A function of a float32 (H, W, C) array and a noise level.
    """
    from tfimage import execution
    from tfimage.tasks import denoise

    denoise.check_denoiser(model)
    channels, _ = execution.model_signature(model)
    task = denoise.TASK

    def run(image, sigma):
        return task.run_network(model, image, None, 32, False, False, noise_level=float(sigma))

    def apply(image, sigma):
        image = np.asarray(image, np.float32)
        if channels == 1 and image.shape[2] == 3:
            return np.concatenate([run(image[:, :, c : c + 1], sigma) for c in range(3)], axis=2)
        if channels == 3 and image.shape[2] == 1:
            return np.mean(run(np.repeat(image, 3, axis=2), sigma), axis=2, keepdims=True)
        return run(image, sigma)

    return apply


def solve(operator, observation, denoiser, noise_level, iterations, sigma_start=SIGMA_START, sigma_end=None,
          weight=LAMBDA, self_ensemble=False, initial=None, clip=True):
    """Plug-and-play HQS: restores `observation` = operator.forward(x) + noise.

    Args:
        operator: a `tfimage.operators` operator (`data_step`, `adjoint_of`,
            `initial`).
        observation: the degraded image (float32 (h, w, C)).
        denoiser: `(image, sigma) -> image` (`denoiser_of(model)`).
        noise_level: the observation's noise standard deviation (sigma / 255).
        iterations, sigma_start, sigma_end, weight: see `schedule`.
        self_ensemble: denoise iteration k's k-th flip/turn (DPIR's x8).
        initial: the starting estimate (default `operator.initial(observation)`).
        clip: clip the result to [0, 1].

    Returns:
        The restored float32 (H, W, C) NumPy array.
    """
    import tensorflow as tf

    sigmas, rhos = schedule(noise_level, iterations, sigma_start, sigma_end, weight)
    observation = tf.convert_to_tensor(np.asarray(observation, np.float32))
    prepared = operator.adjoint_of(observation)
    estimate = operator.initial(observation) if initial is None else tf.convert_to_tensor(initial, tf.float32)
    for index, (sigma, rho) in enumerate(zip(sigmas, rhos)):
        estimate = operator.data_step(estimate, observation, float(rho), prepared).numpy()
        if self_ensemble:
            estimate = _unview(denoiser(_view(estimate, index), sigma), index)
        else:
            estimate = denoiser(estimate, sigma)
    estimate = np.asarray(estimate, np.float32)
    return np.clip(estimate, 0.0, 1.0) if clip else estimate
