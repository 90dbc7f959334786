import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import require_set
from tfimage import degradations, evaluation, export, io, metrics
from tfimage.cli.main import main
from tfimage.networks.dncnn import build_dncnn
from tfimage.networks.ffdnet import build_ffdnet


@pytest.fixture(scope="module")
def set12_image():
    """The first Set12 image, float32 (256, 256, 1) in [0, 1]."""
    return io.read_image(io.list_images(require_set("set12"))[0], channels=1)


# Tiny networks exported with small tiles (max_size 40, overlap 16), so every image
# above 40 pixels on a side also exercises the tiling inside the signatures.
TILING = {"max_size": 40, "overlap": 16}


@pytest.fixture(scope="module")
def tiny_dncnn(tmp_path_factory):
    keras_model = build_dncnn(depth=3, filters=4)
    base = tmp_path_factory.mktemp("dncnn")
    version_dir = export.export_model(keras_model, base, **TILING)
    return keras_model, base, tf.saved_model.load(version_dir)


@pytest.fixture(scope="module")
def tiny_ffdnet(tmp_path_factory):
    keras_model = build_ffdnet(depth=3, filters=4)
    base = tmp_path_factory.mktemp("ffdnet")
    version_dir = export.export_model(keras_model, base, **TILING)
    return keras_model, base, tf.saved_model.load(version_dir)


def _keras_uint8(keras_model, pixels, sigma=None):
    images = pixels.astype(np.float32) / 255.0
    inputs = images if sigma is None else [images, np.asarray(sigma, np.float32)[:, None] / 255.0]
    return np.clip(keras_model(inputs, training=False).numpy(), 0.0, 1.0)


def test_layout_is_versioned_and_complete(tiny_dncnn):
    _, base, _ = tiny_dncnn
    assert sorted(os.listdir(base)) == ["1"]  # no staging folder left behind
    assert {"saved_model.pb", "variables"} <= set(os.listdir(base / "1"))


@pytest.mark.parametrize("size", [(64, 80), (57, 91)])
@pytest.mark.data
def test_dncnn_serving_default_matches_keras(tiny_dncnn, set12_image, size):
    keras_model, _, loaded = tiny_dncnn
    pixels = io.to_uint(set12_image[: size[0], 50 : 50 + size[1]])[None]
    served = loaded.signatures["serving_default"](images=tf.constant(pixels))["restored"].numpy()
    assert served.dtype == np.uint8 and served.shape == pixels.shape
    expected = _keras_uint8(keras_model, pixels)
    assert np.max(np.abs(served / 255.0 - expected)) <= 1 / 255 + 1e-6
    floats = loaded.signatures["serving_float"](images=tf.constant(pixels / np.float32(255)))
    np.testing.assert_allclose(floats["restored"].numpy(), expected, atol=1e-5)


@pytest.mark.data
def test_ffdnet_takes_one_sigma_per_image(tiny_ffdnet, set12_image):
    keras_model, _, loaded = tiny_ffdnet
    pixels = io.to_uint(np.stack([set12_image[:45, :61], set12_image[100:145, 30:91]]))
    sigma = np.array([15.0, 50.0], np.float32)
    served = loaded.signatures["serving_default"](images=tf.constant(pixels), sigma=tf.constant(sigma))
    served = served["restored"].numpy()
    assert served.shape == pixels.shape
    expected = _keras_uint8(keras_model, pixels, sigma)
    assert np.max(np.abs(served / 255.0 - expected)) <= 1 / 255 + 1e-6
    with pytest.raises(tf.errors.InvalidArgumentError, match="one noise level per image"):
        loaded.signatures["serving_default"](images=tf.constant(pixels), sigma=tf.constant([25.0]))


@pytest.mark.parametrize("fixture", ["tiny_dncnn", "tiny_ffdnet"])
@pytest.mark.data
def test_tiles_inside_the_signature_match_the_whole_image(fixture, request, set12_image):
    keras_model, _, loaded = request.getfixturevalue(fixture)
    noisy = degradations.gaussian_noise(set12_image[:75, :61], 25 / 255, seed=0).numpy()[None]
    inputs = {"images": tf.constant(noisy)}
    reference = noisy
    if len(keras_model.inputs) == 2:
        inputs["sigma"] = tf.constant([25.0])
        reference = [noisy, np.full((1, 1), 25 / 255, np.float32)]
    served = loaded.signatures["serving_float"](**inputs)["restored"].numpy()
    expected = np.clip(keras_model(reference, training=False).numpy(), 0.0, 1.0)
    np.testing.assert_allclose(served, expected, atol=1e-5)


def test_saved_model_cli_lists_both_signatures(tiny_ffdnet):
    _, base, _ = tiny_ffdnet
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run(
        [cli, "show", "--all", "--dir", str(base / "1")],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr
    for text in ("signature_def['serving_default']", "signature_def['serving_float']",
                 "inputs['images']", "inputs['sigma']", "DT_UINT8", "outputs['restored']"):
        assert text in result.stdout


@pytest.mark.data
def test_rest_body_is_accepted_and_matches_the_signature(tiny_ffdnet, tiny_dncnn, set12_image):
    pixels = io.to_uint(np.stack([set12_image[:40, :48], set12_image[40:80, :48]]))
    _, base, loaded = tiny_ffdnet
    body = export.rest_request(pixels, sigma=25)
    assert body["signature_name"] == "serving_default"
    assert set(body["instances"][0]) == {"images", "sigma"}
    assert isinstance(body["instances"][0]["images"][0][0][0], int)
    response = export.rest_predict_locally(base, json.loads(json.dumps(body)))
    direct = loaded.signatures["serving_default"](
        images=tf.constant(pixels), sigma=tf.constant([25.0, 25.0]))["restored"].numpy()
    np.testing.assert_array_equal(np.asarray(response["predictions"], np.uint8), direct)

    _, base, loaded = tiny_dncnn
    floats = pixels[:1] / np.float32(255)
    body = export.rest_request(floats[0], signature_name="serving_float")  # one (H, W, 1) image
    response = export.rest_predict_locally(base, body)
    direct = loaded.signatures["serving_float"](images=tf.constant(floats))["restored"].numpy()
    np.testing.assert_allclose(np.asarray(response["predictions"], np.float32), direct, atol=1e-6)


def test_rest_request_rejects_what_the_signature_would_not_take():
    with pytest.raises(ValueError, match="serving_default takes uint8"):
        export.rest_request(np.zeros((8, 8, 1), np.float32))
    with pytest.raises(ValueError, match="serving_float takes float"):
        export.rest_request(np.zeros((8, 8, 1), np.uint8), signature_name="serving_float")
    with pytest.raises(ValueError, match="one per image"):
        export.rest_request(np.zeros((3, 8, 8, 1), np.uint8), sigma=[10, 20])
    with pytest.raises(ValueError, match="signature_name"):
        export.rest_request(np.zeros((8, 8, 1), np.uint8), signature_name="predict")


def test_wrong_rank_or_channels_fail_inside_the_graph(tiny_dncnn):
    _, base, loaded = tiny_dncnn
    serve = loaded.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible"):
        serve(images=tf.zeros((1, 16, 16, 3), tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible"):
        serve(images=tf.zeros((16, 16, 1), tf.uint8))
    # The server path: gray images sent without their channel axis.
    body = {"instances": np.zeros((2, 16, 16), np.uint8).tolist()}
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible"):
        export.rest_predict_locally(base, body)


def test_uint8_dtype_is_enforced(tiny_dncnn):
    _, base, loaded = tiny_dncnn
    with pytest.raises((TypeError, ValueError, tf.errors.InvalidArgumentError), match="uint8"):
        loaded.signatures["serving_default"](images=tf.zeros((1, 16, 16, 1), tf.float32))
    body = {"instances": np.full((1, 16, 16, 1), 0.5).tolist()}
    with pytest.raises(ValueError, match="uint8"):
        export.rest_predict_locally(base, body)
    body = {"instances": np.full((1, 16, 16, 1), 300).tolist()}
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        export.rest_predict_locally(base, body)


def test_existing_version_is_refused_and_failures_leave_nothing(tiny_dncnn, tmp_path, monkeypatch):
    keras_model, base, _ = tiny_dncnn
    stamp = os.path.getmtime(base / "1" / "saved_model.pb")
    with pytest.raises(ValueError, match="version folder exists"):
        export.export_model(keras_model, base)
    assert os.path.getmtime(base / "1" / "saved_model.pb") == stamp

    def broken_save(*args, **kwargs):
        raise RuntimeError("disk full")

    target = tmp_path / "models"
    monkeypatch.setattr(tf.saved_model, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export.export_model(keras_model, target, version=3)
    assert os.listdir(target) == []
    with pytest.raises(ValueError, match="classical baselines"):
        export.export_model("nlm", target)
    with pytest.raises(ValueError, match="version"):
        export.export_model(keras_model, target, version=0)


def test_cli_export_writes_and_refuses_to_overwrite(tmp_path, capsys):
    model_path = tmp_path / "tiny.keras"
    build_dncnn(depth=3, filters=4).save(model_path)
    out = tmp_path / "served"
    args = ["export", "--model", str(model_path), "--out", str(out), "--version", "2"]
    assert main(args) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["export_dir"] == str(out / "2")
    assert os.path.isfile(out / "2" / "saved_model.pb")
    assert main(args) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    assert sorted(os.listdir(out)) == ["2"]


@pytest.mark.data
def test_exported_dncnn_s25_scores_like_keras(tmp_path):
    require_set("dncnn_matconvnet")
    require_set("set12")
    version_dir = export.export_model("dncnn-s25", tmp_path)
    serve = tf.saved_model.load(version_dir).signatures["serving_float"]
    keras_result = evaluation.evaluate("dncnn-s25", "set12", sigma=25, limit=2)
    for index, record in enumerate(keras_result["per_image"]):
        clean = io.read_image(record["name"], channels=1)
        noisy = degradations.gaussian_noise(clean, 25 / 255, seed=(0, index)).numpy()
        restored = serve(images=tf.constant(noisy[None]))["restored"].numpy()[0]
        assert float(metrics.psnr(clean, restored)) == pytest.approx(record["psnr"], abs=0.01)


# ---------------------------------------------------------------- generators
def _tiny_generator(kind, num_classes):
    if kind == "gan":
        from tfimage.models.gan import GAN

        return GAN(image_shape=(16, 16, 1), latent_dim=4, num_classes=num_classes,
                   generator_filters=4, discriminator_filters=4, seed=1)
    from tfimage.models.vae import VAE

    return VAE(image_shape=(16, 16, 1), latent_dim=2, num_classes=num_classes, filters=4,
               hidden_units=8, seed=1)


@pytest.mark.parametrize("kind,num_classes", [("gan", 3), ("gan", None), ("vae", 3), ("vae", None)])
def test_generator_export_matches_keras_and_checks_inputs(kind, num_classes, tmp_path):
    model = _tiny_generator(kind, num_classes)
    version_dir = export.export_model(model, tmp_path)
    assert export.exported_signatures(tmp_path) == ["serving_default"]
    serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    latents = np.random.default_rng(0).standard_normal((5, model.latent_dim)).astype(np.float32)
    inputs = {"latents": tf.constant(latents)}
    labels = None
    if num_classes is not None:
        labels = np.array([0, 1, 2, 1, 0], np.int32)
        inputs["classes"] = tf.constant(labels)
    served = serve(**inputs)["images"].numpy()
    assert served.dtype == np.uint8 and served.shape == (5, 16, 16, 1)
    keras_images = model.generate(latents, labels=labels) if kind == "gan" else model.decode(
        latents, labels=labels)
    expected = np.round(keras_images * 255.0).astype(np.uint8)
    assert np.max(np.abs(served.astype(int) - expected.astype(int))) <= 1

    wrong = dict(inputs, latents=tf.zeros((5, model.latent_dim + 1), tf.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible"):
        serve(**wrong)
    if num_classes is not None:
        for bad in ([0, 1, 2, 3, 0], [0, -1, 0, 0, 0]):
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"classes must lie in \[0, 3\)"):
                serve(latents=tf.constant(latents), classes=tf.constant(bad, tf.int32))
        with pytest.raises(tf.errors.InvalidArgumentError, match="one class per latent"):
            serve(latents=tf.constant(latents), classes=tf.constant([0, 1], tf.int32))
        # The REST path, as TF Serving answers it.
        body = {"instances": [{"latents": z.tolist(), "classes": int(c)}
                              for z, c in zip(latents, labels)]}
        response = export.rest_predict_locally(tmp_path, body)
        np.testing.assert_array_equal(np.asarray(response["predictions"], np.uint8), served)


def test_cli_exports_the_shipped_mnist_gan(tmp_path, capsys):
    out = tmp_path / "gan"
    assert main(["export", "--model", "mnist-gan", "--out", str(out), "--name", "mnist-gan"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert record["signatures"] == ["serving_default"]
    serve = tf.saved_model.load(record["export_dir"]).signatures["serving_default"]
    latents = np.random.default_rng(1).standard_normal((3, 64)).astype(np.float32)
    images = serve(latents=tf.constant(latents), classes=tf.constant([7, 0, 9]))["images"].numpy()
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.uint8
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0, 10\)"):
        serve(latents=tf.constant(latents), classes=tf.constant([7, 0, 10]))
