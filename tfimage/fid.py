"""Frechet and kernel distances between image sets, and their feature extractors.

- FID: Heusel, Ramsauer, Unterthiner, Nessler and Hochreiter, "GANs Trained
  by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium",
  NeurIPS 2017. The Frechet distance between Gaussians fitted to two sets of
  features: |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).
- KID: Binkowski, Sutherland, Arbel and Gretton, "Demystifying MMD GANs",
  ICLR 2018. The unbiased MMD^2 estimate with the polynomial kernel
  k(x, y) = (x.y / d + 1)^3, averaged over random subsets.

Feature extractors (`feature_extractor(name)`):

- "mnist-classifier": the penultimate layer of the small classifier shipped
  in `saved_models/mnist-classifier.keras` (see
  `benchmarks/train_mnist_classifier.py`); for 28x28 gray digits.
- "inception": InceptionV3 (Szegedy et al., CVPR 2016) from
  `keras.applications`, global-average-pooled 2048 features; gray images are
  repeated to RGB and resized to at least 75x75. `weights="imagenet"` needs
  the Keras weight file (downloaded once into ~/.keras/models).

Evaluation protocol (`evaluate_samples`): 5,000 generated images against a
fixed half of the real images; the floor is the other real half against the
same fixed half, i.e. the score of a perfect generator with this many samples.
"""

import os

import numpy as np

INCEPTION_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
EXTRACTORS = ("mnist-classifier", "inception")


def _check_features(features, name):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(
            f"Features must be a 2-D array (samples, dimensions). Received: {name} with "
            f"shape={features.shape}"
        )
    if len(features) < 2:
        raise ValueError(
            f"At least 2 feature vectors are needed. Received: {name} with {len(features)}"
        )
    if not np.all(np.isfinite(features)):
        raise ValueError(f"Features hold NaN or infinite values. Received: {name}")
    return features


def _check_pair(features_a, features_b):
    """Both feature sets checked, and of the same dimension."""
    features_a = _check_features(features_a, "features_a")
    features_b = _check_features(features_b, "features_b")
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            "The two feature sets have different dimensions. Received: "
            f"features_a.shape={features_a.shape}, features_b.shape={features_b.shape}"
        )
    return features_a, features_b


def gaussian_statistics(features):
    """Mean and covariance (float64) of a (samples, dimensions) feature array."""
    features = _check_features(features, "features")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b):
    """Frechet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b).

    Tr((S_a S_b)^(1/2)) is computed as Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)),
    which has the same eigenvalues but is symmetric positive semi-definite,
    so it is stable for the singular covariances of dead ReLU features.

    Args:
        mu_a, mu_b: mean vectors of shape (d,).
        sigma_a, sigma_b: covariance matrices of shape (d, d).

    Returns:
        The squared Frechet (2-Wasserstein) distance, a float >= 0.
    """
    mu_a, mu_b = np.atleast_1d(mu_a), np.atleast_1d(mu_b)
    sigma_a, sigma_b = np.atleast_2d(sigma_a), np.atleast_2d(sigma_b)
    if mu_a.shape != mu_b.shape or sigma_a.shape != sigma_b.shape:
        raise ValueError(
            "The two feature sets have different dimensions. Received: "
            f"mu_a.shape={mu_a.shape}, mu_b.shape={mu_b.shape}"
        )
    diff = mu_a - mu_b
    root_a = _psd_sqrt(sigma_a)
    middle = root_a @ sigma_b @ root_a
    trace_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum()
    value = diff.dot(diff) + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * trace_covmean
    return float(max(value, 0.0))


def frechet_distance(features_a, features_b):
    """FID-style Frechet distance between two sets of feature vectors.

    Heusel et al., NeurIPS 2017.

    Args:
        features_a: array (n_a, d).
        features_b: array (n_b, d).

    Returns:
        The Frechet distance between the Gaussians fitted to each set (float).
    """
    features_a, features_b = _check_pair(features_a, features_b)
    return frechet_distance_from_statistics(*gaussian_statistics(features_a),
                                            *gaussian_statistics(features_b))


def polynomial_kernel(x, y, degree=3, gamma=None, coef0=1.0):
    """k(x, y) = (gamma * x.y + coef0) ** degree with gamma = 1 / d by default."""
    gamma = 1.0 / x.shape[1] if gamma is None else gamma
    return (gamma * x.dot(y.T) + coef0) ** degree


def _mmd2_unbiased(x, y, **kernel):
    m = len(x)
    k_xx = polynomial_kernel(x, x, **kernel)
    k_yy = polynomial_kernel(y, y, **kernel)
    k_xy = polynomial_kernel(x, y, **kernel)
    sum_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    sum_yy = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return sum_xx + sum_yy - 2.0 * k_xy.mean()


def kernel_inception_distance(features_a, features_b, num_subsets=100, subset_size=1000,
                              degree=3, gamma=None, coef0=1.0, seed=0):
    """KID: unbiased polynomial-kernel MMD^2, averaged over random subsets.

    Binkowski et al., "Demystifying MMD GANs", ICLR 2018.

    Args:
        features_a: array (n_a, d).
        features_b: array (n_b, d).
        num_subsets: number of random subsets (>= 1).
        subset_size: samples per subset; capped at the smaller set size.
        degree, gamma, coef0: the polynomial kernel (gamma None: 1 / d).
        seed: seed of the subset draws.

    Returns:
        `(mean, std)` of the MMD^2 estimates over the subsets (floats; the
        mean can be slightly negative since the estimator is unbiased).
    """
    features_a, features_b = _check_pair(features_a, features_b)
    if int(num_subsets) < 1:
        raise ValueError(f"num_subsets must be >= 1. Received: num_subsets={num_subsets}")
    if int(subset_size) < 2:
        raise ValueError(f"subset_size must be >= 2. Received: subset_size={subset_size}")
    size = min(int(subset_size), len(features_a), len(features_b))
    rng = np.random.default_rng(seed)
    kernel = dict(degree=degree, gamma=gamma, coef0=coef0)
    values = []
    for _ in range(int(num_subsets)):
        x = features_a[rng.choice(len(features_a), size, replace=False)]
        y = features_b[rng.choice(len(features_b), size, replace=False)]
        values.append(_mmd2_unbiased(x, y, **kernel))
    return float(np.mean(values)), float(np.std(values))


# ------------------------------------------------------------ feature extractors
def _as_batch(images):
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected images of shape (n, height, width, 1|3) in [0, 1]. "
            f"Received: images with shape={images.shape}"
        )
    if len(images) == 0:
        raise ValueError("No images. Received: images with shape=" + str(images.shape))
    return images


class FeatureExtractor:
    """Maps batches of images in [0, 1] to feature vectors (a NumPy array).

    Args:
        model: a Keras model from images to (batch, d) features.
        name: a short name for reports.
        image_shape: the (height, width, channels) the model expects, or None
            when `preprocess` adapts any input.
        preprocess: optional function applied to each float batch.
    """

    def __init__(self, model, name, image_shape=None, preprocess=None):
        self.model = model
        self.name = name
        self.image_shape = image_shape
        self.preprocess = preprocess

    def __call__(self, images, batch_size=250):
        images = _as_batch(images)
        if self.image_shape is not None and tuple(images.shape[1:]) != tuple(self.image_shape):
            raise ValueError(
                f"The {self.name} feature extractor takes images of shape "
                f"{tuple(self.image_shape)}. Received: images with shape={images.shape[1:]}"
            )
        out = []
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            if self.preprocess is not None:
                batch = self.preprocess(batch)
            out.append(np.asarray(self.model(batch, training=False)))
        return np.concatenate(out).reshape(len(images), -1)


def mnist_classifier_extractor(path=None):
    """The penultimate-layer features of the shipped MNIST classifier.

    Args:
        path: a `.keras` classifier file (default: the shipped
            `saved_models/mnist-classifier.keras`).
    """
    from tfimage import zoo
    from tfimage.networks.classifier import features_model

    classifier = zoo.load(path or "mnist-classifier")
    model = features_model(classifier)
    return FeatureExtractor(model, "mnist-classifier", tuple(classifier.input_shape[1:]))


def inception_weights_available():
    """Whether the ImageNet InceptionV3 (no top) weights are in the Keras cache."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.isfile(os.path.join(keras_home, "models", INCEPTION_WEIGHTS_FILE))


def inception_extractor(weights="imagenet", size=75):
    """InceptionV3 pool features (2048) of images resized to `size` x `size` RGB.

    Args:
        weights: "imagenet" (needs the Keras weight file, downloaded once) or
            None (random weights, for tests of shapes only).
        size: input side, >= 75 (InceptionV3's minimum); 299 is the usual FID
            setting.

    Raises:
        FileNotFoundError: weights="imagenet" and the weights are neither
            cached nor downloadable.
    """
    import keras
    import tensorflow as tf

    if int(size) < 75:
        raise ValueError(f"InceptionV3 needs inputs of at least 75x75. Received: size={size}")
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None. Received: weights={weights!r}")
    if weights == "imagenet" and not inception_weights_available():
        try:
            model = keras.applications.InceptionV3(
                include_top=False, weights="imagenet", pooling="avg",
                input_shape=(size, size, 3))
        except Exception as error:  # the download failed: offline or blocked
            raise FileNotFoundError(
                f"The InceptionV3 ImageNet weights are not cached ({INCEPTION_WEIGHTS_FILE} in "
                f"~/.keras/models) and could not be downloaded ({type(error).__name__}). "
                "Download them once while online, or use the 'mnist-classifier' extractor. "
                f"Received: weights={weights!r}"
            ) from None
    else:
        model = keras.applications.InceptionV3(
            include_top=False, weights=weights, pooling="avg", input_shape=(size, size, 3))

    def preprocess(batch):
        if batch.shape[-1] == 1:
            batch = np.repeat(batch, 3, axis=-1)
        batch = tf.image.resize(batch, (size, size), method="bilinear")
        return batch * 2.0 - 1.0  # keras.applications.inception_v3.preprocess_input

    return FeatureExtractor(model, "inception", None, preprocess)


def feature_extractor(name="mnist-classifier", path=None, weights="imagenet", size=75):
    """A feature extractor by name: "mnist-classifier" or "inception".

    Args:
        name: which extractor (see the module docstring).
        path: for "mnist-classifier", an optional classifier `.keras` file.
        weights: for "inception", "imagenet" or None.
        size: for "inception", the resize side.

    Returns:
        A `FeatureExtractor`.
    """
    if name == "mnist-classifier":
        return mnist_classifier_extractor(path)
    if name == "inception":
        return inception_extractor(weights=weights, size=size)
    raise ValueError(
        f"Unknown feature extractor. Expected one of {', '.join(EXTRACTORS)}. "
        f"Received: feature_extractor={name!r}"
    )


def real_halves(n, seed=0):
    """The fixed split of n real images: (reference half, other half) indices."""
    order = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return np.sort(order[:half]), np.sort(order[half:2 * half])


def evaluate_samples(generated, real, extractor, kid_subsets=100, kid_subset_size=1000,
                     seed=0):
    """FID and KID of generated images, with the real-vs-real floor.

    The real images are split once (fixed `seed`) into a reference half and
    another half. The score compares the generated images with the
    reference half; the floor compares the other real half with the same
    reference half, so it is what a perfect generator would get with as
    many samples.

    Args:
        generated: images (n, H, W, C) in [0, 1] (5,000 in the protocol).
        real: real images (N, H, W, C) in [0, 1], N >= 4.
        extractor: a `FeatureExtractor` (or any callable images -> features).
        kid_subsets, kid_subset_size: see `kernel_inception_distance`.
        seed: seed of the real split and of the KID subsets.

    Returns:
        A dict with "fid", "kid", "kid_std", "fid_floor", "kid_floor",
        "kid_floor_std", "images" (the number of generated images) and
        "reference_images".
    """
    generated = _as_batch(generated)
    real = _as_batch(real)
    if len(real) < 4:
        raise ValueError(f"Need at least 4 real images. Received: real with {len(real)}")
    reference, other = real_halves(len(real), seed)
    feats_ref = extractor(real[reference])
    feats_other = extractor(real[other])
    feats_gen = extractor(generated)
    kid, kid_std = kernel_inception_distance(feats_gen, feats_ref, kid_subsets,
                                             kid_subset_size, seed=seed)
    kid_floor, kid_floor_std = kernel_inception_distance(feats_other, feats_ref, kid_subsets,
                                                         kid_subset_size, seed=seed)
    return {
        "fid": frechet_distance(feats_gen, feats_ref),
        "fid_floor": frechet_distance(feats_other, feats_ref),
        "kid": kid,
        "kid_std": kid_std,
        "kid_floor": kid_floor,
        "kid_floor_std": kid_floor_std,
        "images": int(len(generated)),
        "reference_images": int(len(reference)),
        "feature_extractor": getattr(extractor, "name", "custom"),
    }
