import numpy as np
import pytest
import tensorflow as tf

from tfimage import degradations as deg


def _image(shape=(64, 64, 1), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def test_gaussian_noise_is_seeded_and_has_the_right_level():
    image = _image((128, 128, 1))
    a = deg.gaussian_noise(image, 25 / 255, seed=7).numpy()
    b = deg.gaussian_noise(image, 25 / 255, seed=7).numpy()
    c = deg.gaussian_noise(image, 25 / 255, seed=8).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(np.std(a - image) * 255 - 25) < 0.5
    assert a.min() < 0 or a.max() > 1  # not clipped, as in the papers
    clipped = deg.gaussian_noise(image, 25 / 255, seed=7, clip=True).numpy()
    assert clipped.min() >= 0 and clipped.max() <= 1


@pytest.mark.parametrize("bad", [-0.1, 25, float("nan")])
def test_noise_level_errors_name_the_argument(bad):
    with pytest.raises(ValueError, match="noise_stddev="):
        deg.gaussian_noise(_image(), bad, seed=0)


def test_sigma_conversion():
    assert deg.sigma_to_stddev(25) == pytest.approx(25 / 255)
    for bad in (-1, 256):
        with pytest.raises(ValueError, match=f"sigma={bad}"):
            deg.sigma_to_stddev(bad)


def test_random_noise_level_per_image():
    batch = np.stack([_image((64, 64, 1), seed=i) for i in range(8)])
    noisy, level = deg.random_gaussian_noise(batch, (10 / 255, 50 / 255), seed=3)
    level = level.numpy()
    assert level.shape == (8, 1)
    assert np.all(level >= 10 / 255) and np.all(level <= 50 / 255)
    measured = np.std((noisy.numpy() - batch).reshape(8, -1), axis=1)
    np.testing.assert_allclose(measured, level[:, 0], rtol=0.05)
    single, single_level = deg.random_gaussian_noise(batch[0], (0, 55 / 255), seed=3)
    assert single.shape == (64, 64, 1) and single_level.shape == (1,)
    with pytest.raises(ValueError, match="noise_stddev_range"):
        deg.random_gaussian_noise(batch, (0.2, 0.1), seed=0)


def test_poisson_noise_mean_and_variance():
    image = np.full((256, 256, 1), 0.5, np.float32)
    noisy = deg.poisson_noise(image, peak=30, seed=0).numpy()
    assert abs(noisy.mean() - 0.5) < 0.01
    assert abs(noisy.var() - 0.5 / 30) < 0.002
    with pytest.raises(ValueError, match="peak=0"):
        deg.poisson_noise(image, peak=0, seed=0)


def test_blur_keeps_constants_and_smooths():
    flat = np.full((32, 32, 3), 0.3, np.float32)
    np.testing.assert_allclose(deg.gaussian_blur(flat, 2.0).numpy(), flat, atol=1e-6)
    image = _image((32, 32, 1))
    blurred = deg.gaussian_blur(image, 1.5).numpy()
    assert blurred.shape == image.shape and blurred.std() < image.std() / 2
    with pytest.raises(ValueError, match="kernel_stddev=-1"):
        deg.gaussian_blur(image, -1)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_downsample(scale):
    image = _image((50, 37, 3))
    low = deg.bicubic_downsample(image, scale).numpy()
    assert low.shape == (50 // scale, 37 // scale, 3)
    flat = np.full((24, 24, 1), 0.6, np.float32)
    np.testing.assert_allclose(deg.bicubic_downsample(flat, scale).numpy(), 0.6, atol=1e-5)


def test_scale_error():
    with pytest.raises(ValueError, match="scale=5"):
        deg.bicubic_downsample(_image(), 5)


def test_jpeg_compress():
    image = _image((32, 32, 3))
    low = deg.jpeg_compress(image, 10).numpy()
    high = deg.jpeg_compress(image, 95).numpy()
    assert np.mean((low - image) ** 2) > np.mean((high - image) ** 2)
    with pytest.raises(ValueError, match="quality=0"):
        deg.jpeg_compress(image, 0)


@pytest.mark.parametrize("kind", ["strokes", "boxes"])
@pytest.mark.parametrize("size", [32, 64, 256])
@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5])
def test_mask_hits_the_hole_ratio(kind, size, ratio):
    mask = deg.random_mask(size, size, ratio, seed=1, kind=kind)
    assert mask.shape == (size, size, 1)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(mask.mean() - ratio) <= 0.05 * ratio


def test_mask_is_seeded_and_applied():
    a = deg.random_mask(64, 48, 0.25, seed=5)
    np.testing.assert_array_equal(a, deg.random_mask(64, 48, 0.25, seed=5))
    assert not np.array_equal(a, deg.random_mask(64, 48, 0.25, seed=6))
    image = _image((64, 48, 3)) + 0.1
    masked = deg.apply_mask(image, a).numpy()
    assert np.all(masked[a[..., 0] == 1] == 0)
    np.testing.assert_array_equal(masked[a[..., 0] == 0], image[a[..., 0] == 0])


def _hole_width(mask):
    """Mean half-width of the holes: hole area over hole boundary length (in pixels)."""
    import cv2

    mask = mask[..., 0].astype(np.uint8)
    eroded = cv2.erode(mask, np.ones((3, 3), np.uint8))
    return mask.sum() / max(1, int((mask - eroded).sum()))


@pytest.mark.parametrize("kind", ["strokes", "boxes"])
def test_mask_shape_scale_sets_the_hole_size_not_the_ratio(kind):
    thin = [_hole_width(deg.random_mask(96, 96, 0.25, seed=s, kind=kind)) for s in range(8)]
    wide = [_hole_width(deg.random_mask(96, 96, 0.25, seed=s, kind=kind, shape_scale=480)) for s in range(8)]
    assert np.mean(wide) > 2 * np.mean(thin)
    for s in range(4):  # boxes larger than the patch are clipped to it; the ratio still holds
        mask = deg.random_mask(40, 40, 0.25, seed=s, kind=kind, shape_scale=600)
        assert abs(mask.mean() - 0.25) <= 0.05 * 0.25
    np.testing.assert_array_equal(deg.random_mask(64, 64, 0.25, seed=3),
                                  deg.random_mask(64, 64, 0.25, seed=3, shape_scale=64))


def test_mask_errors():
    with pytest.raises(ValueError, match="shape_scale=4"):
        deg.random_mask(32, 32, 0.2, seed=0, shape_scale=4)
    with pytest.raises(ValueError, match="hole_ratio=1.5"):
        deg.random_mask(32, 32, 1.5, seed=0)
    with pytest.raises(ValueError, match="kind='circles'"):
        deg.random_mask(32, 32, 0.2, seed=0, kind="circles")


def test_bad_image_rank():
    with pytest.raises(ValueError, match="shape="):
        deg.gaussian_noise(np.zeros((4, 4), np.float32), 0.1, seed=0)
