"""Tests of FID, KID and the feature extractors."""

import os

import numpy as np
import pytest

from tfimage import fid


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 8))
    assert fid.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_fid_from_statistics_matches_the_closed_form_for_diagonal_gaussians():
    mu_a, mu_b = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    var_a, var_b = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum(var_a + var_b - 2 * np.sqrt(var_a * var_b))
    value = fid.frechet_distance_from_statistics(mu_a, np.diag(var_a), mu_b, np.diag(var_b))
    assert value == pytest.approx(expected, rel=1e-9)


def test_fid_of_two_sampled_gaussians_approaches_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal([0.0, 0.0], [1.0, 2.0], size=(200000, 2))
    b = rng.normal([1.0, -1.0], [2.0, 1.0], size=(200000, 2))
    expected = 2.0 + (1 + 4 - 2 * 2) + (4 + 1 - 2 * 2)
    assert fid.frechet_distance(a, b) == pytest.approx(expected, rel=0.02)


def test_fid_handles_non_commuting_covariances():
    # 1-D projections aside, sqrtm(S_a S_b) is not symmetric here; the
    # result must equal the symmetric form Tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2)
    from scipy import linalg

    s_a = np.array([[2.0, 0.9], [0.9, 1.0]])
    s_b = np.array([[1.0, -0.3], [-0.3, 0.5]])
    root_a = linalg.sqrtm(s_a)
    expected = np.trace(s_a + s_b - 2 * linalg.sqrtm(root_a @ s_b @ root_a)).real
    value = fid.frechet_distance_from_statistics(np.zeros(2), s_a, np.zeros(2), s_b)
    assert value == pytest.approx(expected, rel=1e-8)


def test_kid_is_the_unbiased_mmd_of_a_brute_force_computation():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 3)), rng.normal(0.5, 1.0, size=(6, 3))

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    m = 6
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    mean, std = fid.kernel_inception_distance(x, y, num_subsets=3, subset_size=6)
    assert mean == pytest.approx(xx + yy - 2 * xy, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-12)  # every subset is the whole set


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(1000, 4)), rng.normal(size=(1000, 4))
    c = rng.normal(0.5, 1.0, size=(1000, 4))
    same, _ = fid.kernel_inception_distance(a, b, num_subsets=20, subset_size=500)
    different, _ = fid.kernel_inception_distance(a, c, num_subsets=20, subset_size=500)
    assert abs(same) < 0.01 < different


@pytest.mark.parametrize("a, b, match", [
    (np.zeros((5, 3)), np.zeros((5, 4)), "features_b.shape"),
    (np.zeros((1, 3)), np.zeros((5, 3)), "features_a"),
    (np.zeros(5), np.zeros((5, 3)), "features_a"),
])
def test_distances_reject_bad_features(a, b, match):
    with pytest.raises(ValueError, match=match):
        fid.frechet_distance(a, b)
    with pytest.raises(ValueError, match=match):
        fid.kernel_inception_distance(a, b)


def test_evaluate_samples_reports_score_and_floor():
    rng = np.random.default_rng(4)
    real = rng.random((40, 4, 4, 1)).astype("float32")

    def flatten(images):
        return np.asarray(images).reshape(len(images), -1)

    good = fid.evaluate_samples(rng.random((20, 4, 4, 1)), real, flatten, kid_subsets=5,
                                kid_subset_size=10)
    bad = fid.evaluate_samples(rng.random((20, 4, 4, 1)) * 0.2, real, flatten, kid_subsets=5,
                               kid_subset_size=10)
    assert good["images"] == 20 and good["reference_images"] == 20
    assert good["fid_floor"] == bad["fid_floor"]  # the floor does not depend on the samples
    assert bad["fid"] > good["fid"] and bad["kid"] > good["kid"]
    reference, other = fid.real_halves(40)
    assert len(set(reference) & set(other)) == 0 and len(reference) == len(other) == 20


def test_unknown_extractor_is_named():
    with pytest.raises(ValueError, match="feature_extractor='vgg'"):
        fid.feature_extractor("vgg")


def test_inception_extractor_shapes_with_random_weights():
    pytest.importorskip("keras")
    extractor = fid.inception_extractor(weights=None, size=75)
    gray = np.random.default_rng(0).random((2, 28, 28, 1)).astype("float32")
    assert extractor(gray).shape == (2, 2048)


def test_inception_imagenet_fails_fast_and_clearly_offline(tmp_path, monkeypatch):
    keras = pytest.importorskip("keras")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no cached weights here

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    assert not fid.inception_weights_available()
    with pytest.raises(FileNotFoundError, match="weights='imagenet'"):
        fid.inception_extractor(weights="imagenet")


SHIPPED = os.path.join(os.path.dirname(__file__), "..", "saved_models", "mnist-classifier.keras")


@pytest.mark.skipif(not os.path.isfile(SHIPPED), reason="the shipped classifier is not built")
def test_shipped_mnist_classifier_features():
    extractor = fid.feature_extractor("mnist-classifier")
    features = extractor(np.zeros((3, 28, 28, 1), "float32"))
    assert features.shape[0] == 3 and features.shape[1] >= 64
    with pytest.raises(ValueError, match="shape=\\(16, 16, 1\\)"):
        extractor(np.zeros((3, 16, 16, 1), "float32"))
