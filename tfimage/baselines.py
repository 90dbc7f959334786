"""Classical baselines behind the same call shape as the networks.

A baseline is a plain object with `task` (the `tfimage.tasks` name it
solves), `channels` (None: any), `noise_level_input`, `description` and
`predict_image(image, **inputs)`: a float32 (H, W, C) image in [0, 1] in, the
restored float32 image out (clipped to [0, 1]); the inputs are the task's
(`noise_level` in [0, 1] units for denoising, `scale` for super-resolution,
`mask` for inpainting). When a denoiser needs a noise level and none is
given, it is estimated from the image with `estimate_noise_stddev`. The
evaluation harness and the CLI call baselines and Keras models the same way
(`tfimage.inference.restore`), so tables compare like with like; each task
module lists its baselines.

References:
    K. Dabov, A. Foi, V. Katkovnik, K. Egiazarian, "Image Denoising by Sparse
    3-D Transform-Domain Collaborative Filtering", IEEE TIP 16(8), 2007 (BM3D;
    the `bm3d` package implements Y. Mäkinen, L. Azzari, A. Foi, "Collaborative
    Filtering of Correlated Noise", IEEE TIP 29, 2020).
    A. Buades, B. Coll, J.-M. Morel, "A non-local algorithm for image
    denoising", CVPR 2005 (non-local means; OpenCV's fastNlMeansDenoising).
    A. Telea, "An Image Inpainting Technique Based on the Fast Marching
    Method", J. Graphics Tools 9(1), 2004.
    M. Bertalmio, A. L. Bertozzi, G. Sapiro, "Navier-Stokes, Fluid Dynamics,
    and Image and Video Inpainting", CVPR 2001.
"""

import numpy as np


def estimate_noise_stddev(image, margin=2.0):
    """Estimates the Gaussian noise level of an image (wavelet MAD, Donoho 1995), ignoring clipped areas.

    The level is the median absolute finest diagonal Daubechies-2 wavelet
    coefficient over 0.6745 (D. L. Donoho, "De-noising by soft-thresholding",
    IEEE Trans. Inf. Theory 1995), as in scikit-image's `estimate_sigma`, but
    computed only where the local mean (the matching approximation
    coefficient) lies more than `margin` noise levels inside [0, 1], found by
    a few fixed-point steps: noise clipped at black or white is smaller than
    the real noise, and on saturated photos the plain estimate comes out low
    (astronaut, sigma 50 clipped: 40.4 instead of 48.4 here). For unclipped
    Gaussian noise the selection changes nothing on average, because the
    diagonal coefficients are independent of the local means.

    Args:
        image: float (H, W, C) or (H, W) image in [0, 1].
        margin: how many noise levels from 0 and 1 a local mean must be.

    Returns:
        The noise standard deviation in [0, 1] units, averaged over channels.
    """
    import pywt

    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        image = image[:, :, None]
    levels = []
    for channel in range(image.shape[2]):
        approx, (_, _, diagonal) = pywt.dwt2(image[:, :, channel], "db2", mode="symmetric")
        magnitudes = np.abs(diagonal).ravel()
        local_mean = (approx / 2.0).ravel()  # the 2-D approximation is twice the local mean
        level = np.median(magnitudes) / 0.6745
        for _ in range(3):
            inside = (local_mean > margin * level) & (local_mean < 1.0 - margin * level)
            if inside.sum() < 64:  # (almost) all saturated: keep the plain estimate
                break
            level = np.median(magnitudes[inside]) / 0.6745
        levels.append(level)
    return float(np.clip(np.mean(levels), 0.0, 1.0))


def _check_image(image):
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        raise ValueError(
            f"Expected a gray or RGB image (H, W, 1|3). Received: image.shape={image.shape}"
        )
    if not np.all(np.isfinite(image)):
        raise ValueError("The image holds NaN or infinite values. Received: image with NaN/inf")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"The image must be at least 8x8. Received: image.shape={image.shape}")
    return image


class Noisy:
    """The identity: the degraded input scored as it is (the floor of every table).

    This one is the denoising floor (the noisy input); a subclass that sets
    `task` and `description` is another task's (`JpegInput`).
    """

    task = "denoise"
    channels = None
    noise_level_input = False
    description = "the noisy input itself (identity): the floor"

    def predict_image(self, image, **inputs):
        return np.clip(_check_image(image), 0.0, 1.0)


class JpegInput(Noisy):
    """The decoded JPEG itself (the identity): the floor of JPEG deblocking."""

    task = "jpeg"
    description = "the decoded JPEG itself (identity): the floor"


class BM3D:
    """BM3D denoising with the `bm3d` package (gray: `bm3d.bm3d`, color: `bm3d.bm3d_rgb`).

    Args:
        profile: the bm3d package's parameter profile, "np" (normal) or
            "refilter".
    """

    task = "denoise"
    channels = None
    noise_level_input = True
    description = "BM3D (Dabov et al. 2007), the bm3d package; sigma given or estimated"

    def __init__(self, profile="np"):
        self.profile = profile

    def predict_image(self, image, noise_level=None):
        try:
            import bm3d
        except ImportError as error:
            raise ImportError(f"The bm3d baseline needs the bm3d package: pip install bm3d ({error})") from None
        image = _check_image(image)
        if noise_level is None:
            noise_level = estimate_noise_stddev(image)
        noise_level = max(float(noise_level), 1e-4)
        if image.shape[2] == 3:
            output = bm3d.bm3d_rgb(image, noise_level, profile=self.profile)
        else:
            output = bm3d.bm3d(image[:, :, 0], noise_level, profile=self.profile)[:, :, None]
        return np.clip(np.asarray(output, dtype=np.float32), 0.0, 1.0)


class NLM:
    """OpenCV non-local means (fastNlMeansDenoising / fastNlMeansDenoisingColored).

    OpenCV works on 8-bit images, so the input is clipped and rounded to
    uint8 first. The filter strength follows sigma (0-255 units) with 7x7
    patches and a 21x21 search window: gray `h = sigma` up to sigma 30 and
    `h = 0.8 * sigma` above (clipping to uint8 already removes part of
    strong noise); color `h = hColor = 0.6 * sigma`. These factors were the
    best of {0.6, 0.8, 1.0, 1.2} (gray: 6 Set12 images; color: 4 CBSD68
    images) at sigma 15, 25 and 50, with seeded noise.

    Args:
        h_per_sigma: None for the rule above, or a fixed factor.
        template_window: patch size (odd).
        search_window: search window size (odd).
    """

    task = "denoise"
    channels = None
    noise_level_input = True
    description = "non-local means (Buades et al. 2005), OpenCV; h set from sigma"

    def __init__(self, h_per_sigma=None, template_window=7, search_window=21):
        self.h_per_sigma = h_per_sigma
        self.template_window = template_window
        self.search_window = search_window

    def predict_image(self, image, noise_level=None):
        import cv2

        image = _check_image(image)
        if noise_level is None:
            noise_level = estimate_noise_stddev(image)
        sigma = float(noise_level) * 255.0
        factor = self.h_per_sigma
        if factor is None:
            factor = 0.6 if image.shape[2] == 3 else (1.0 if sigma <= 30 else 0.8)
        h = max(factor * sigma, 1.0)
        pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        if image.shape[2] == 3:
            output = cv2.fastNlMeansDenoisingColored(
                np.ascontiguousarray(pixels[:, :, ::-1]), None, h, h,
                self.template_window, self.search_window,
            )[:, :, ::-1]
        else:
            output = cv2.fastNlMeansDenoising(
                np.ascontiguousarray(pixels[:, :, 0]), None, h, self.template_window, self.search_window
            )[:, :, None]
        return output.astype(np.float32) / 255.0



INPAINT_RADIUS = 3


class _OpenCVInpainting:
    task = "inpaint"
    channels = None
    noise_level_input = False
    flag_name = None

    def __init__(self, radius=INPAINT_RADIUS):
        if int(radius) != radius or radius < 1:
            raise ValueError(f"radius must be a positive int. Received: radius={radius}")
        self.radius = int(radius)

    def predict_image(self, image, mask=None):
        """Fills the holes (mask == 1) of `image`; known pixels are returned unchanged.

        Args:
            image: float (H, W, C) in [0, 1], C 1 or 3 (hole pixels are ignored).
            mask: (H, W) or (H, W, 1) of zeros and ones, 1 = hole (checked by
                the inpainting task, `tfimage.tasks.inpainting.check_mask`).

        Returns:
            The inpainted float32 image, clipped to [0, 1].
        """
        import cv2

        image = _check_image(image)
        if mask is None:
            raise ValueError("An inpainting mask is required (white/1 = hole). Received: mask=None")
        mask = np.asarray(mask, dtype=np.float32).reshape(image.shape[:2] + (1,))
        known = image * (1.0 - mask)
        pixels = np.round(np.clip(known, 0.0, 1.0) * 255.0).astype(np.uint8)
        holes = np.ascontiguousarray(mask[:, :, 0].astype(np.uint8))
        flag = getattr(cv2, self.flag_name)
        if image.shape[2] == 3:
            filled = cv2.inpaint(np.ascontiguousarray(pixels), holes, self.radius, flag)
        else:
            filled = cv2.inpaint(np.ascontiguousarray(pixels[:, :, 0]), holes, self.radius, flag)[:, :, None]
        filled = filled.astype(np.float32) / 255.0
        return np.clip(known + mask * filled, 0.0, 1.0).astype(np.float32)


class Telea(_OpenCVInpainting):
    """Fast-marching inpainting (Telea 2004), OpenCV's INPAINT_TELEA.

    Args:
        radius: the neighbourhood radius in pixels.
    """

    description = "Telea 2004 fast-marching inpainting (OpenCV INPAINT_TELEA, radius 3)"
    flag_name = "INPAINT_TELEA"


class NavierStokes(_OpenCVInpainting):
    """Navier-Stokes inpainting (Bertalmio et al. 2001), OpenCV's INPAINT_NS.

    Args:
        radius: the neighbourhood radius in pixels.
    """

    description = "Navier-Stokes inpainting (Bertalmio et al. 2001, OpenCV INPAINT_NS, radius 3)"
    flag_name = "INPAINT_NS"


class Bicubic:
    """Bicubic upsampling (TensorFlow's bicubic resize): the super-resolution floor."""

    task = "sr"
    channels = None
    noise_level_input = False
    description = "bicubic upsampling (TensorFlow tf.image.resize), the SR baseline"

    def predict_image(self, image, scale=None):
        """Upsamples a low-resolution image by `scale` (2, 3 or 4).

        Returns:
            The float32 (H * scale, W * scale, C) image, clipped to [0, 1].
        """
        from tfimage import degradations

        image = np.asarray(image, dtype=np.float32)
        image = image[:, :, None] if image.ndim == 2 else image
        upsampled = degradations.bicubic_upsample(image, scale).numpy()
        return np.clip(upsampled, 0.0, 1.0).astype(np.float32)


def _per_channel(function, image):
    """`function` on each channel of an (H, W, C) float64 image, stacked back."""
    return np.stack([function(image[:, :, c]) for c in range(image.shape[2])], axis=2)


class _Deconvolution:
    """Non-blind deconvolution of a circularly blurred image with scikit-image (per channel)."""

    task = "deblur"
    channels = None
    noise_level_input = True

    def predict_image(self, image, kernel=None, noise_level=None):
        """Deblurs `image` (blurred by `kernel` with circular boundaries, noise `noise_level`).

        Args:
            image: float (H, W, C) in [0, 1].
            kernel: the (h, w) blur kernel, summing to 1.
            noise_level: the noise standard deviation (sigma / 255); estimated when None.

        Returns:
            The deblurred float32 image, clipped to [0, 1].
        """
        from tfimage import kernels

        image = _check_image(image)
        if kernel is None:
            raise ValueError(f"{type(self).__name__} needs the blur kernel. Received: kernel=None")
        kernel = kernels.check_kernel(kernel).astype(np.float64)
        if noise_level is None:
            noise_level = estimate_noise_stddev(image)
        restored = self.deconvolve(image.astype(np.float64), kernel, float(noise_level))
        return np.clip(restored, 0.0, 1.0).astype(np.float32)


class Wiener(_Deconvolution):
    """Wiener-Hunt deconvolution (scikit-image `restoration.wiener`, Laplacian regulariser).

    Its balance is 100 * noise_level^2 (at least 1e-4): 0.01 at noise
    2.55 / 255, 0.09 at 7.65 / 255, the best values on Kodak24 images for
    Gaussian and motion kernels.

    Reference: B. R. Hunt, "A matrix theory proof of the discrete convolution
    theorem", IEEE Trans. Audio Electroacoustics 19(4), 1971; F. Orieux,
    J.-F. Giovannelli, T. Rodet, "Bayesian estimation of regularization and
    point spread function parameters for Wiener-Hunt deconvolution", JOSA A
    27(7), 2010.
    """

    description = "Wiener-Hunt deconvolution (scikit-image, Laplacian prior, balance 100 sigma^2)"

    def deconvolve(self, image, kernel, noise_level):
        from skimage import restoration

        balance = max(1e-4, 100.0 * noise_level**2)
        return _per_channel(lambda plane: restoration.wiener(plane, kernel, balance, clip=False), image)


class UnsupervisedWiener(_Deconvolution):
    """Unsupervised Wiener-Hunt deconvolution: the balance estimated by Gibbs sampling (scikit-image).

    Args:
        seed: the sampler's seed.
    """

    description = "unsupervised Wiener-Hunt deconvolution (Orieux et al. 2010, scikit-image)"

    def __init__(self, seed=0):
        self.seed = int(seed)

    def deconvolve(self, image, kernel, noise_level):
        from skimage import restoration

        def run(plane):
            return restoration.unsupervised_wiener(plane, kernel, clip=False, rng=np.random.default_rng(self.seed))[0]

        return _per_channel(run, image)


class RichardsonLucy(_Deconvolution):
    """Richardson-Lucy deconvolution (scikit-image), on the image padded circularly.

    scikit-image convolves with zero boundaries, so the image is first
    extended by wrapping (the circular blur's own boundary) and cropped back.

    Args:
        iterations: the number of Richardson-Lucy iterations.

    Reference: W. H. Richardson, "Bayesian-Based Iterative Method of Image
    Restoration", JOSA 62(1), 1972; L. B. Lucy, "An iterative technique for
    the rectification of observed distributions", AJ 79, 1974.
    """

    description = "Richardson-Lucy deconvolution, 30 iterations (scikit-image)"

    def __init__(self, iterations=30):
        if isinstance(iterations, bool) or int(iterations) != iterations or iterations < 1:
            raise ValueError(f"iterations must be a positive int. Received: iterations={iterations!r}")
        self.iterations = int(iterations)

    def deconvolve(self, image, kernel, noise_level):
        from skimage import restoration

        pad_h, pad_w = kernel.shape[0], kernel.shape[1]
        padded = np.pad(np.clip(image, 0.0, None), ((pad_h, pad_h), (pad_w, pad_w), (0, 0)), mode="wrap")

        def run(plane):
            return restoration.richardson_lucy(plane, kernel, num_iter=self.iterations, clip=False)

        return _per_channel(run, padded)[pad_h:-pad_h, pad_w:-pad_w]


class _OpenCVDemosaicing:
    """OpenCV's demosaicing of an RGGB Bayer mosaic (`cv2.demosaicing` on 16-bit values)."""

    task = "demosaic"
    channels = None
    noise_level_input = False
    code_name = None

    def predict_image(self, image, pattern="RGGB"):
        """The RGB image of a single-channel RGGB mosaic (H, W, 1) in [0, 1].

        Returns:
            The float32 (H, W, 3) image, clipped to [0, 1].
        """
        import cv2

        image = np.asarray(image, dtype=np.float32)
        image = image[:, :, None] if image.ndim == 2 else image
        if image.ndim != 3 or image.shape[2] != 1:
            raise ValueError(f"A Bayer mosaic has one channel. Received: image with shape={image.shape}")
        if pattern != "RGGB":
            raise ValueError(f"Expected pattern='RGGB'. Received: pattern={pattern!r}")
        raw = np.round(np.clip(image[:, :, 0], 0.0, 1.0) * 65535.0).astype(np.uint16)
        # OpenCV names a Bayer layout by the second row's second and third pixels: RGGB is its "BG".
        rgb = cv2.demosaicing(raw, getattr(cv2, self.code_name))
        return np.clip(rgb.astype(np.float32) / 65535.0, 0.0, 1.0)


class BilinearDemosaicing(_OpenCVDemosaicing):
    """Bilinear demosaicing (OpenCV COLOR_BayerBG2RGB)."""

    description = "bilinear demosaicing (OpenCV cv2.demosaicing, COLOR_BayerBG2RGB)"
    code_name = "COLOR_BayerBG2RGB"


class EdgeAwareDemosaicing(_OpenCVDemosaicing):
    """Edge-aware demosaicing (OpenCV COLOR_BayerBG2RGB_EA)."""

    description = "edge-aware demosaicing (OpenCV cv2.demosaicing, COLOR_BayerBG2RGB_EA)"
    code_name = "COLOR_BayerBG2RGB_EA"
