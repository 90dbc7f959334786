"""Linear degradation operators with the closed-form data step of plug-and-play solvers.

Each operator `A` has `forward(x)` (the degradation, noise-free) and
`data_step(z, y, rho)`, the minimiser of

    ||y - A x||^2 + rho * ||x - z||^2

over x, the half-quadratic-splitting data step. Images are float32 (H, W, C)
tensors in [0, 1]; all channels go through one batched FFT. Like
`tfimage.degradations`, operators know nothing of models.

- `Blur(kernel)`: circular convolution (`ndimage.convolve(x, k, mode="wrap")`),
  solved in the Fourier domain.
- `BlurDownsample(kernel, scale)`: circular blur, then keeping every
  scale-th pixel (`x[0::s, 0::s]`), solved in closed form with the
  Sherman-Morrison-Woodbury identity of Zhao et al. 2016 (DPIR's
  `utils_sisr.data_solution`).
- `Mask(mask)`: keeps the pixels where mask is 1 (inpainting, demosaicing).
- `bayer_mask(height, width)`: the RGGB colour filter array as a 3-channel mask.

References:
    N. Zhao, Q. Wei, A. Basarab, N. Dobigeon, D. Kouame, J.-Y. Tourneret,
    "Fast Single Image Super-Resolution Using a New Analytical Solution for
    l2-l2 Problems", IEEE TIP 25(8), 2016.
    K. Zhang, Y. Li, W. Zuo, L. Zhang, L. Van Gool, R. Timofte, "Plug-and-Play
    Image Restoration with Deep Denoiser Prior", IEEE TPAMI 44(10), 2021.
"""

import numpy as np
import tensorflow as tf

from tfimage import kernels as kernel_specs

BAYER_PATTERNS = ("RGGB",)


def kernel_to_otf(kernel, height, width):
    """The optical transfer function (H, W) complex64 of a convolution kernel (MATLAB's `psf2otf`).

    The kernel is zero-padded to the image size and rolled so that its
    centre pixel (index size // 2) sits at the origin.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    kh, kw = kernel.shape
    padded = np.zeros((height, width), np.float32)
    padded[:kh, :kw] = kernel
    padded = np.roll(padded, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return tf.signal.fft2d(tf.complex(tf.constant(padded), tf.zeros_like(padded)))


def _to_fourier(image):
    """(H, W, C) real -> (C, H, W) complex64 spectrum."""
    planes = tf.transpose(tf.convert_to_tensor(image, tf.float32), [2, 0, 1])
    return tf.signal.fft2d(tf.complex(planes, tf.zeros_like(planes)))


def _from_fourier(spectrum):
    """(C, H, W) complex spectrum -> (H, W, C) real image."""
    return tf.transpose(tf.math.real(tf.signal.ifft2d(spectrum)), [1, 2, 0])


def _check_size(kernel, height, width, name):
    if kernel.shape[0] > height or kernel.shape[1] > width:
        raise ValueError(
            f"The blur kernel must be smaller than the image. Received: kernel with shape={kernel.shape} "
            f"for {name} of {height}x{width}"
        )


def _check_rho(rho):
    rho = float(rho)
    if not np.isfinite(rho) or rho <= 0:
        raise ValueError(f"The data step's weight must be positive. Received: rho={rho}")
    return rho


class Blur:
    """Circular convolution by `kernel`, for images of one size.

    Args:
        kernel: a (h, w) kernel (normalised to sum 1, see
            `tfimage.kernels.check_kernel`) or a kernel spec.
        height, width: the image size (the FFTs are precomputed for it).
    """

    def __init__(self, kernel, height, width):
        self.kernel = kernel_specs.from_spec(kernel)
        _check_size(self.kernel, height, width, "an image")
        self.shape = (int(height), int(width))
        self.otf = kernel_to_otf(self.kernel, height, width)
        self.otf_power = tf.cast(tf.abs(self.otf) ** 2, tf.complex64)

    def _check(self, image, name):
        image = tf.convert_to_tensor(image, tf.float32)
        if tuple(image.shape[:2]) != self.shape:
            raise ValueError(f"The operator was built for {self.shape[0]}x{self.shape[1]} images. Received: {name} with shape={tuple(image.shape)}")
        return image

    def forward(self, image):
        """The blurred image (H, W, C), circular boundary."""
        return _from_fourier(_to_fourier(self._check(image, "image")) * self.otf)

    def adjoint_of(self, observation):
        """The spectrum of A^T y, precomputed once per observation (`data_step`'s `prepared`)."""
        return tf.math.conj(self.otf) * _to_fourier(self._check(observation, "observation"))

    def data_step(self, estimate, observation, rho, prepared=None):
        """argmin_x ||y - k * x||^2 + rho ||x - z||^2, in the Fourier domain."""
        rho = _check_rho(rho)
        adjoint = prepared if prepared is not None else self.adjoint_of(observation)
        numerator = adjoint + rho * _to_fourier(self._check(estimate, "estimate"))
        return _from_fourier(numerator / (self.otf_power + rho))

    def initial(self, observation):
        """The solver's starting point: the blurred image itself."""
        return tf.convert_to_tensor(observation, tf.float32)


def _blocks_mean(spectrum, scale):
    """The mean over the scale x scale blocks of a (C, H, W) spectrum: (C, H / s, W / s)."""
    channels = tf.shape(spectrum)[0]
    height, width = spectrum.shape[1] // scale, spectrum.shape[2] // scale
    blocks = tf.reshape(spectrum, [channels, scale, height, scale, width])
    return tf.reduce_mean(blocks, axis=[1, 3])


class BlurDownsample:
    """Circular blur by `kernel`, then keeping every `scale`-th pixel from (0, 0).

    Args:
        kernel: a kernel or kernel spec (`bicubic` needs this scale).
        scale: the downsampling factor (2, 3 or 4).
        height, width: the high-resolution size (multiples of `scale`).
    """

    def __init__(self, kernel, scale, height, width):
        from tfimage.degradations import check_scale

        self.scale = check_scale(scale)
        if height % self.scale or width % self.scale:
            raise ValueError(f"The image size must be a multiple of the scale. Received: {height}x{width}, scale={scale}")
        self.kernel = kernel_specs.from_spec(kernel, scale=self.scale)
        _check_size(self.kernel, height, width, "a high-resolution image")
        self.shape = (int(height), int(width))
        self.otf = kernel_to_otf(self.kernel, height, width)
        self.otf_conj = tf.math.conj(self.otf)
        self.otf_power = tf.cast(tf.abs(self.otf) ** 2, tf.complex64)
        self.power_blocks = _blocks_mean(self.otf_power[None], self.scale)

    def forward(self, image):
        """The low-resolution image (H / s, W / s, C)."""
        image = tf.convert_to_tensor(image, tf.float32)
        blurred = _from_fourier(_to_fourier(image) * self.otf)
        return blurred[:: self.scale, :: self.scale]

    def upsample_zeros(self, observation):
        """S^T y: the low-resolution pixels placed at (s i, s j), zeros elsewhere."""
        observation = tf.convert_to_tensor(observation, tf.float32)
        height, width, channels = observation.shape
        if (height * self.scale, width * self.scale) != self.shape:
            raise ValueError(
                f"The operator was built for {self.shape[0]}x{self.shape[1]} high-resolution images, "
                f"x{self.scale}. Received: observation with shape={tuple(observation.shape)}"
            )
        placed = tf.reshape(observation, [height, 1, width, 1, channels])
        placed = tf.pad(placed, [[0, 0], [0, self.scale - 1], [0, 0], [0, self.scale - 1], [0, 0]])
        return tf.reshape(placed, [height * self.scale, width * self.scale, channels])

    def adjoint_of(self, observation):
        """The spectrum of A^T y (`data_step`'s `prepared`)."""
        return self.otf_conj * _to_fourier(self.upsample_zeros(observation))

    def data_step(self, estimate, observation, rho, prepared=None):
        """argmin_x ||y - S(k * x)||^2 + rho ||x - z||^2 (Zhao et al. 2016, eq. 21)."""
        rho = _check_rho(rho)
        adjoint = prepared if prepared is not None else self.adjoint_of(observation)
        right = adjoint + rho * _to_fourier(tf.convert_to_tensor(estimate, tf.float32))
        blurred_right = _blocks_mean(self.otf * right, self.scale)
        solved = blurred_right / (self.power_blocks + rho)
        tiled = tf.tile(solved, [1, self.scale, self.scale])
        return _from_fourier((right - self.otf_conj * tiled) / rho)

    def initial(self, observation):
        """The solver's start: bicubic upsampling, shifted onto the kernel's sampling grid (DPIR's `shift_pixel`)."""
        import cv2

        observation = np.asarray(observation, np.float32)
        height, width = self.shape
        upsampled = cv2.resize(observation, (width, height), interpolation=cv2.INTER_CUBIC)
        if upsampled.ndim == 2:
            upsampled = upsampled[:, :, None]
        shift = (self.scale - 1) / 2.0
        matrix = np.float32([[1, 0, -shift], [0, 1, -shift]])
        shifted = cv2.warpAffine(upsampled, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
        if shifted.ndim == 2:
            shifted = shifted[:, :, None]
        return tf.constant(shifted)


class Mask:
    """Keeps the pixels (and channels) where `mask` is 1: inpainting and the Bayer mosaic.

    Args:
        mask: (H, W, 1) or (H, W, C) array of 0 and 1 (1 = observed).
    """

    def __init__(self, mask):
        self.mask = tf.constant(np.asarray(mask, np.float32))

    def forward(self, image):
        return tf.convert_to_tensor(image, tf.float32) * self.mask

    def adjoint_of(self, observation):
        return tf.convert_to_tensor(observation, tf.float32) * self.mask

    def data_step(self, estimate, observation, rho, prepared=None):
        """(M y + rho z) / (M + rho), pixel by pixel."""
        rho = _check_rho(rho)
        adjoint = prepared if prepared is not None else self.adjoint_of(observation)
        return (adjoint + rho * tf.convert_to_tensor(estimate, tf.float32)) / (self.mask + rho)

    def initial(self, observation):
        """The solver's default start: the observed pixels, zeros elsewhere."""
        return self.adjoint_of(observation)


def bayer_mask(height, width, pattern="RGGB"):
    """The (H, W, 3) 0/1 mask of a Bayer colour filter array (RGGB: red at (0, 0), blue at (1, 1)).

    Raises:
        ValueError: an odd size or an unknown pattern.
    """
    if pattern not in BAYER_PATTERNS:
        raise ValueError(f"Expected a Bayer pattern in {BAYER_PATTERNS}. Received: pattern={pattern!r}")
    if height % 2 or width % 2:
        raise ValueError(f"A Bayer mosaic has an even height and width. Received: image of {height}x{width}")
    mask = np.zeros((height, width, 3), np.float32)
    mask[0::2, 0::2, 0] = 1.0
    mask[0::2, 1::2, 1] = 1.0
    mask[1::2, 0::2, 1] = 1.0
    mask[1::2, 1::2, 2] = 1.0
    return mask


def mosaic(image, pattern="RGGB"):
    """The single-channel (H, W, 1) Bayer mosaic of an RGB image (what a camera sensor records)."""
    image = np.asarray(image, np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"A Bayer mosaic is made from an RGB image. Received: image with shape={image.shape}")
    mask = bayer_mask(image.shape[0], image.shape[1], pattern)
    return np.sum(image * mask, axis=2, keepdims=True)
