"""Tests of the DCGAN builders, the GAN model, its CLI commands and tf.distribute."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import assert_keras_round_trip

keras = pytest.importorskip("keras")

from tfimage.models.gan import GAN  # noqa: E402
from tfimage.networks import dcgan  # noqa: E402

SHAPE = (16, 16, 1)


def tiny_gan(**kwargs):
    options = dict(image_shape=SHAPE, latent_dim=4, generator_filters=4,
                   discriminator_filters=4, seed=1)
    options.update(kwargs)
    return GAN(**options)


def images(n=4, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).random((n,) + shape).astype("float32")


@pytest.mark.parametrize("shape, blocks", [((28, 28, 1), 2), ((32, 32, 3), 3), ((16, 16, 1), 2)])
def test_builders_are_sized_from_the_image_shape(shape, blocks):
    generator = dcgan.build_generator(shape, latent_dim=8, filters=4)
    discriminator = dcgan.build_discriminator(shape, filters=4)
    assert generator.output_shape == (None,) + shape
    assert discriminator.output_shape == (None, 1)
    assert dcgan.discriminator_blocks(discriminator) == blocks
    assert dcgan.num_upsamplings(shape) == blocks


def test_conditional_builders_take_labels():
    generator = dcgan.build_generator(SHAPE, latent_dim=4, filters=4, num_classes=3)
    discriminator = dcgan.build_discriminator(SHAPE, filters=4, num_classes=3)
    z = np.zeros((2, 4), "float32")
    out0 = generator([z, np.array([[0], [1]])], training=False).numpy()
    assert out0.shape == (2,) + SHAPE
    assert not np.allclose(out0[0], out0[1])  # the label changes the image
    assert discriminator([out0, np.array([[0], [2]])]).shape == (2, 1)


@pytest.mark.parametrize("shape", [(7, 7, 1), (28, 28), (5, 6, 1)])
def test_builders_reject_bad_image_shapes(shape):
    with pytest.raises(ValueError, match="image_shape"):
        dcgan.build_generator(shape)


def _changed(before, after):
    return any(not np.allclose(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("loss, num_classes", [("non_saturating", None), ("wgan_gp", 3)])
def test_gan_fit_updates_generator_discriminator_and_ema(loss, num_classes):
    gan = tiny_gan(num_classes=num_classes)
    gan.compile(loss=loss)
    g0 = [w.copy() for w in gan.generator.get_weights()]
    d0 = [w.copy() for w in gan.discriminator.get_weights()]
    e0 = [w.copy() for w in gan.ema_generator.get_weights()]
    labels = None if num_classes is None else np.array([0, 1, 2, 1])
    history = gan.fit(images(), labels, batch_size=2, epochs=1, verbose=0)
    assert gan.d_optimizer.iterations.numpy() == 2
    assert gan.g_optimizer.iterations.numpy() == 2
    assert _changed(g0, gan.generator.get_weights())
    assert _changed(d0, gan.discriminator.get_weights())
    assert _changed(e0, gan.ema_generator.get_weights())
    # the EMA lags behind: it is not a copy of the generator
    assert _changed(gan.generator.get_weights(), gan.ema_generator.get_weights())
    for name in ("d_loss", "g_loss", "d_real", "d_fake", "gradient_penalty"):
        assert np.isfinite(history.history[name][0])
    assert (history.history["gradient_penalty"][0] > 0) == (loss == "wgan_gp")


def test_discriminator_update_depends_on_real_and_fake_images():
    def d_weights_after(real, generator_seed):
        keras.utils.set_random_seed(0)
        gan = tiny_gan(seed=5)
        keras.utils.set_random_seed(generator_seed)
        gan.generator.set_weights([np.random.default_rng(generator_seed).normal(size=w.shape)
                                   .astype("float32") * 0.1 if w.ndim > 1 else w
                                   for w in gan.generator.get_weights()])
        gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.0))
        gan.train_on_batch(real)
        return gan.discriminator.get_weights()

    base = d_weights_after(images(2, seed=0), 1)
    other_real = d_weights_after(images(2, seed=1), 1)
    other_fake = d_weights_after(images(2, seed=0), 2)
    same = d_weights_after(images(2, seed=0), 1)
    assert not _changed(base, same)  # deterministic given the seeds
    assert _changed(base, other_real)  # D saw the real images
    assert _changed(base, other_fake)  # D saw the generated images


def test_freeze_d_keeps_the_first_blocks_fixed():
    gan = tiny_gan(freeze_d=1)
    gan.compile()
    frozen = gan.discriminator.get_layer("block1_conv")
    free = gan.discriminator.get_layer("block2_conv")
    f0, t0 = [w.copy() for w in frozen.get_weights()], [w.copy() for w in free.get_weights()]
    gan.fit(images(), batch_size=2, epochs=1, verbose=0)
    assert not _changed(f0, frozen.get_weights())
    assert _changed(t0, free.get_weights())
    with pytest.raises(ValueError, match="freeze_d"):
        gan.set_freeze_d(3)


def test_gan_keras_round_trip(tmp_path):
    gan = tiny_gan(num_classes=3)
    gan.compile(loss="hinge")
    gan.fit(images(), np.array([0, 1, 2, 0]), batch_size=2, epochs=1, verbose=0)
    loaded = assert_keras_round_trip(gan, tmp_path=tmp_path, call=lambda m: m.sample(5, labels=2, seed=3),
                                     atol=1e-6, name="gan")
    assert isinstance(loaded, GAN) and loaded.num_classes == 3
    assert os.listdir(tmp_path) == ["gan.keras"]  # no temporary file left


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    gan = tiny_gan()

    def broken_save(self, filepath, overwrite=True):
        open(filepath, "wb").close()  # what a crashing keras save leaves
        raise RuntimeError("disk full")

    monkeypatch.setattr(keras.Model, "save", broken_save)
    with pytest.raises(RuntimeError):
        gan.save(str(tmp_path / "gan.keras"))
    assert os.listdir(tmp_path) == []


def test_sample_returns_images_in_unit_range_and_is_seeded():
    gan = tiny_gan()
    a = gan.sample(3, seed=7)
    assert a.shape == (3,) + SHAPE and a.dtype == np.float32
    assert a.min() >= 0.0 and a.max() <= 1.0
    np.testing.assert_array_equal(a, gan.sample(3, seed=7))
    assert not np.allclose(a, gan.sample(3, seed=8))


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_rejects_bad_counts(n):
    with pytest.raises(ValueError, match="n="):
        tiny_gan().sample(n)


def test_sample_rejects_unknown_classes():
    with pytest.raises(ValueError, match="labels=3"):
        tiny_gan(num_classes=3).sample(2, labels=3)
    with pytest.raises(ValueError, match="labels"):
        tiny_gan().sample(2, labels=1)


def test_fit_rejects_images_of_another_size():
    gan = tiny_gan()
    gan.compile()
    with pytest.raises(ValueError, match="images with shape=\\(28, 28, 1\\)"):
        gan.fit(images(shape=(28, 28, 1)), batch_size=2, epochs=1, verbose=0)


def test_compile_rejects_unknown_loss():
    with pytest.raises(ValueError, match="loss='lsgan'"):
        tiny_gan().compile(loss="lsgan")


# ---------------------------------------------------------------- CLI
def test_cli_train_sample_and_refuse_existing_out(tmp_path, monkeypatch):
    from PIL import Image

    from tfimage.cli.main import main

    data = tmp_path / "digits"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray((rng.random((16, 16)) * 255).astype("uint8")).save(data / f"{i}.png")
    out = tmp_path / "run"
    argv = ["train", "gan", "--data", str(data), "--epochs", "1", "--batch-size", "2",
            "--out", str(out)]
    assert main(argv) == 0
    assert os.path.getsize(out / "model.keras") > 0
    assert (out / "samples" / "epoch_001.png").exists()
    record = json.loads((out / "train.json").read_text())
    assert record["epochs"] == 1 and record["images"] == 4
    assert main(argv) == 1  # refuses to overwrite the model
    grid = tmp_path / "grid.png"
    assert main(["sample", "--model", str(out / "model.keras"), "-n", "4", "-o", str(grid),
                 "--seed", "1"]) == 0
    assert Image.open(grid).size == (4 * 16 + 5 * 2, 16 + 2 * 2)


def test_cli_sample_errors_name_the_argument(tmp_path, capsys):
    from tfimage.cli.main import main

    path = str(tmp_path / "gan.keras")
    tiny_gan(num_classes=3).save(path)
    assert main(["sample", "--model", path, "-n", "0", "-o", str(tmp_path / "a.png")]) == 1
    assert "-n=0" in capsys.readouterr().err
    assert main(["sample", "--model", path, "-n", "2", "--class", "7",
                 "-o", str(tmp_path / "a.png")]) == 1
    assert "--class=7" in capsys.readouterr().err
    assert main(["sample", "--model", str(tmp_path / "nope"), "-n", "2",
                 "-o", str(tmp_path / "a.png")]) == 1
    error = capsys.readouterr().err
    assert "Unknown model" in error and "nope'" in error


# ---------------------------------------------------------------- tf.distribute
DISTRIBUTED_SCRIPT = textwrap.dedent("""
    import json
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tfimage.models.gan import GAN
    from tfimage.models.vae import VAE
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    x = np.random.default_rng(0).random((8, 16, 16, 1)).astype("float32")
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    out = {"replicas": strategy.num_replicas_in_sync}
    with strategy.scope():
        gan = GAN(image_shape=(16, 16, 1), latent_dim=4, generator_filters=4,
                  discriminator_filters=4, num_classes=3, seed=1)
        gan.compile(loss="wgan_gp")
        vae = VAE(image_shape=(16, 16, 1), latent_dim=2, filters=4, hidden_units=8, seed=1)
        vae.compile()
    g0 = [w.copy() for w in gan.generator.get_weights()]
    e0 = [w.copy() for w in gan.ema_generator.get_weights()]
    v0 = [w.copy() for w in vae.get_weights()]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    h = gan.fit(ds, epochs=1, verbose=0).history
    out["gan"] = {k: float(v[-1]) for k, v in h.items()}
    out["gan_changed"] = any(not np.allclose(a, b) for a, b in zip(g0, gan.generator.get_weights()))
    out["ema_changed"] = any(not np.allclose(a, b) for a, b in zip(e0, gan.ema_generator.get_weights()))
    h = vae.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0).history
    out["vae"] = {k: float(v[-1]) for k, v in h.items()}
    out["vae_changed"] = any(not np.allclose(a, b) for a, b in zip(v0, vae.get_weights()))
    # loss scaling: one SGD step on the same batch of 8 gives the same weights on
    # 2 replicas (4 images each) as on one device. The posterior std is ~0
    # (log-variance bias -100) and beta=0, so the step is deterministic.
    def deterministic(vae):
        head = vae.encoder.get_layer("z_log_var")
        head.set_weights([np.zeros_like(head.get_weights()[0]),
                          np.full_like(head.get_weights()[1], -100.0)])
    with strategy.scope():
        probe = VAE(image_shape=(16, 16, 1), latent_dim=2, filters=4, hidden_units=8, beta=0.0)
        probe.compile(optimizer=keras.optimizers.SGD(1e-3))
    deterministic(probe)
    plain = VAE(image_shape=(16, 16, 1), latent_dim=2, filters=4, hidden_units=8, beta=0.0)
    plain.compile(optimizer=keras.optimizers.SGD(1e-3))
    plain.set_weights(probe.get_weights())
    start = [w.copy() for w in plain.get_weights()]
    probe.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0, shuffle=False)
    plain.fit(tf.data.Dataset.from_tensor_slices(x).batch(8), epochs=1, verbose=0, shuffle=False)
    out["max_weight_gap"] = max(float(np.abs(a - b).max())
                                for a, b in zip(probe.get_weights(), plain.get_weights()))
    out["max_weight_step"] = max(float(np.abs(a - b).max())
                                 for a, b in zip(start, plain.get_weights()))
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.slow
def test_train_steps_under_mirrored_strategy_with_two_cpus():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", DISTRIBUTED_SCRIPT], capture_output=True,
                          text=True, timeout=300, env=env)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out["replicas"] == 2
    assert out["gan_changed"] and out["ema_changed"] and out["vae_changed"]
    assert all(np.isfinite(v) for v in out["gan"].values())
    assert all(np.isfinite(v) for v in out["vae"].values())
    assert out["max_weight_step"] > 0
    assert out["max_weight_gap"] < 0.01 * out["max_weight_step"], out


def test_model_names_resolve_in_the_models_dir(tmp_path, monkeypatch):
    from tfimage.cli.generate import load_generative_model
    from tfimage.models.saving import resolve_model_path

    monkeypatch.setenv("TFIMAGE_MODELS_DIR", str(tmp_path))
    tiny_gan().save(str(tmp_path / "tiny-gan.keras"))
    assert resolve_model_path("tiny-gan") == str(tmp_path / "tiny-gan.keras")
    assert isinstance(load_generative_model("tiny-gan", "gan"), GAN)
    with pytest.raises(ValueError, match="not a VAE"):
        load_generative_model("tiny-gan", "vae")
    with pytest.raises(FileNotFoundError, match="shipped: tiny-gan"):
        resolve_model_path("mnist-gan")


CLI_MIRRORED_SCRIPT = textwrap.dedent("""
    import sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfimage.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("kind", ["gan", "vae"])
@pytest.mark.slow
def test_cli_train_under_mirrored_strategy(tmp_path, kind):
    from tfimage import io

    folder = tmp_path / "digits"
    rng = np.random.default_rng(0)
    for index in range(8):
        io.write_image(str(folder / f"{index}.png"), rng.random((16, 16, 1)))
    out = tmp_path / "run"
    sizes = ["--generator-filters", "4", "--discriminator-filters", "4"] if kind == "gan" else ["--filters", "4"]
    argv = ["train", kind, "--data", str(folder), "--epochs", "1", "--batch-size", "4", "--latent-dim", "4",
            "--strategy", "mirrored", "--out", str(out)] + sizes
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", CLI_MIRRORED_SCRIPT] + argv, capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MirroredStrategy: 2 replicas" in proc.stdout
    import csv

    with open(out / "history.csv") as stream:
        last = list(csv.DictReader(stream))[-1]
    losses = {key: float(value) for key, value in last.items() if key.endswith("loss") and not key.startswith("val_")}
    assert losses and all(np.isfinite(value) for value in losses.values()), last
    assert (out / "model.keras").stat().st_size > 0


# ---------------------------------------------------------------- tfimage.generation
def _digit_folder(folder, n=4, shape=(16, 16, 1)):
    from tfimage import io

    rng = np.random.default_rng(0)
    for index in range(n):
        io.write_image(str(folder / f"{index}.png"), rng.random(shape))
    return str(folder)


class _CrashInEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.crash_epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.crash_epoch:
            raise RuntimeError("crash")


def test_train_gan_checkpoints_resumes_with_its_optimizers_and_refuses_other_runs(tmp_path):
    import csv

    from tfimage import generation

    data = _digit_folder(tmp_path / "digits")
    out = str(tmp_path / "run")
    tiny = dict(epochs=3, batch_size=2, latent_dim=4, generator_filters=4, discriminator_filters=4, verbose=0,
                samples=4)
    with pytest.raises(RuntimeError, match="crash"):  # killed at the start of epoch 2
        generation.train_gan(data, out, callbacks=[_CrashInEpoch(2)], **tiny)
    assert os.path.isdir(os.path.join(out, "backup"))
    after_two = keras.saving.load_model(os.path.join(out, "model.keras"))  # written after each epoch
    assert isinstance(after_two, GAN)
    history = generation.train_gan(data, out, **tiny)
    assert history.epoch == [2]  # epochs 0 and 1 came from the backup
    gan = history.model
    assert int(gan.g_optimizer.iterations.numpy()) == 3 * 2  # the optimizer state was restored too
    with open(os.path.join(out, "history.csv")) as stream:
        assert [int(row["epoch"]) for row in csv.DictReader(stream)] == [0, 1, 2]
    assert not os.path.exists(os.path.join(out, "backup"))
    assert sorted(os.listdir(os.path.join(out, "samples"))) == ["epoch_001.png", "epoch_002.png", "epoch_003.png"]
    config = json.loads(open(os.path.join(out, "train_config.json")).read())
    assert config["version"] == 2 and config["kind"] == "gan" and config["epochs"] == 3
    final = keras.saving.load_model(os.path.join(out, "model.keras"))
    np.testing.assert_allclose(final.sample(2, seed=0), gan.sample(2, seed=0), atol=1e-6)
    with pytest.raises(ValueError, match="finished run"):
        generation.train_gan(data, out, **tiny)
    with pytest.raises(ValueError, match="differs in epochs"):
        generation.train_gan(data, out, **dict(tiny, epochs=4))
    with pytest.raises(ValueError, match="batch_size=0"):
        generation.train_gan(data, str(tmp_path / "x"), **dict(tiny, batch_size=0))
    with pytest.raises(ValueError, match="loss='lsgan'"):
        generation.train_gan(data, str(tmp_path / "x"), loss="lsgan", **tiny)
