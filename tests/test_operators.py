"""Tests of the degradation operators and their closed-form data steps (`tfimage.operators`)."""

import numpy as np
import pytest
import scipy.ndimage as ndimage

from tfimage import kernels, operators


def _image(shape, seed=0):
    return np.random.default_rng(seed).random(shape)


def _convolve(image, kernel):
    return np.stack([ndimage.convolve(image[..., c], kernel, mode="wrap") for c in range(image.shape[2])], axis=2)


def _correlate(image, kernel):
    return np.stack([ndimage.correlate(image[..., c], kernel, mode="wrap") for c in range(image.shape[2])], axis=2)


def test_blur_is_scipys_circular_convolution_and_its_data_step_is_the_minimiser():
    kernel = kernels.from_spec("motion:7,30").astype(np.float64)
    image = _image((20, 24, 3))
    operator = operators.Blur(kernel, 20, 24)
    blurred = _convolve(image, kernel)
    np.testing.assert_allclose(operator.forward(image.astype(np.float32)).numpy(), blurred, atol=1e-5)
    estimate, rho = _image((20, 24, 3), seed=1), 0.05
    solution = operator.data_step(estimate.astype(np.float32), blurred.astype(np.float32), rho).numpy()
    solution = solution.astype(np.float64)
    gradient = _correlate(_convolve(solution, kernel) - blurred, kernel) + rho * (solution - estimate)
    assert np.abs(gradient).max() < 1e-5
    assert np.abs(solution - estimate).max() > 0.01  # the step moved


@pytest.mark.parametrize("scale", [2, 3])
def test_blur_downsample_is_zhaos_closed_form(scale):
    kernel = kernels.from_spec("gaussian:1.2").astype(np.float64)
    size = 16 * scale
    image = _image((size, size, 2))
    operator = operators.BlurDownsample(kernel, scale, size, size)
    low = _convolve(image, kernel)[::scale, ::scale]
    np.testing.assert_allclose(operator.forward(image.astype(np.float32)).numpy(), low, atol=1e-5)
    estimate, rho = _image(image.shape, seed=2), 0.02
    solution = operator.data_step(estimate.astype(np.float32), low.astype(np.float32), rho).numpy().astype(np.float64)
    residual = _convolve(solution, kernel)[::scale, ::scale] - low
    placed = np.zeros_like(solution)
    placed[::scale, ::scale] = residual
    gradient = _correlate(placed, kernel) + rho * (solution - estimate)
    assert np.abs(gradient).max() < 1e-5
    assert operator.initial(low.astype(np.float32)).shape == image.shape


def test_mask_step_and_the_bayer_mosaic():
    mask = operators.bayer_mask(4, 6)
    assert mask.sum(axis=2).min() == mask.sum(axis=2).max() == 1  # one color per pixel
    assert mask[0, 0, 0] == mask[1, 1, 2] == mask[0, 1, 1] == mask[1, 0, 1] == 1
    image = _image((4, 6, 3)).astype(np.float32)
    mosaic = operators.mosaic(image)
    assert mosaic.shape == (4, 6, 1) and mosaic[0, 0, 0] == image[0, 0, 0] and mosaic[1, 1, 0] == image[1, 1, 2]
    operator = operators.Mask(mask)
    estimate, rho = _image((4, 6, 3), seed=3).astype(np.float32), 0.5
    step = operator.data_step(estimate, mosaic * mask, rho).numpy()
    np.testing.assert_allclose(step, np.where(mask > 0, (image + rho * estimate) / (1 + rho), estimate), atol=1e-6)
    with pytest.raises(ValueError, match="even"):
        operators.bayer_mask(5, 6)
    with pytest.raises(ValueError, match="RGB"):
        operators.mosaic(image[..., :1])


def test_a_kernel_larger_than_the_image_is_refused():
    with pytest.raises(ValueError, match="smaller than the image"):
        operators.Blur("gaussian:2", 16, 16)
    with pytest.raises(ValueError, match="multiple of the scale"):
        operators.BlurDownsample("gaussian:1", 2, 51, 50)
    with pytest.raises(ValueError, match="rho"):
        operators.Blur("motion:5,0", 16, 16).data_step(np.zeros((16, 16, 1)), np.zeros((16, 16, 1)), -1)
