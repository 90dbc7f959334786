import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import keras
import numpy as np
import pytest
from conftest import write_smooth_images

from tfimage import io, training, transfer
from tfimage.tasks import get_task
from tfimage.train_config import CONFIG_VERSION, TrainConfig

TINY = dict(arch="dncnn", depth=3, filters=4, patch_size=16, batch_size=2, validation_images=2, tensorboard=False, verbose=0)


@pytest.fixture
def image_folder(tmp_path):
    return write_smooth_images(tmp_path / "images", 6, 24)


def _epochs_logged(out):
    with open(os.path.join(out, "log.csv")) as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


def test_tiny_run_trains_checkpoints_and_validates(image_folder, tmp_path):
    out = str(tmp_path / "run")
    history = training.train_denoiser(str(image_folder), out, sigma=25, steps=6, steps_per_epoch=3, **TINY)
    assert len(history.history["val_psnr"]) == 2
    assert all(np.isfinite(history.history["val_psnr"]))
    model = keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)
    assert model.inputs[0].shape[-1] == 1
    assert _epochs_logged(out) == [0, 1]
    assert not os.path.exists(os.path.join(out, "backup"))  # removed after a finished run


def test_killed_run_resumes_without_losing_a_finished_epoch(image_folder, tmp_path):
    out = str(tmp_path / "run")
    marker = str(tmp_path / "backed-up")
    # With "kill", the run parks in the middle of epoch 1 right after a backup was written
    # (tfimage's callbacks run before extra ones) and says so through a marker file.
    script = textwrap.dedent(f"""
        import sys, time, keras
        from tfimage import training

        class Park(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_train_batch_end(self, batch, logs=None):
                if sys.argv[1] == "kill" and self.epoch == 1 and batch == 2:
                    open({marker!r}, "w").close()
                    time.sleep(120)

        training.train_denoiser({str(image_folder)!r}, {out!r}, sigma=25, steps=20, steps_per_epoch=5,
                                backup_every=1, callbacks=[Park()], **{TINY!r})
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen([sys.executable, "-c", script, "kill"], env=env)
    deadline = time.monotonic() + 240
    while not os.path.exists(marker) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert os.path.exists(marker), "the run never reached the middle of epoch 1"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _epochs_logged(out) == [0]
    assert os.path.isdir(os.path.join(out, "backup"))
    # A kill that lands while the backup is written leaves a broken file: the run must fall
    # back to the previous backup (double checkpoint) instead of failing.
    latest = os.path.join(out, "backup", "latest.weights.h5")
    with open(latest, "r+b") as stream:
        stream.truncate(64)
    done = subprocess.run([sys.executable, "-c", script, "run"], env=env, timeout=300)
    assert done.returncode == 0
    assert _epochs_logged(out) == [0, 1, 2, 3]  # epoch 0 kept, not redone; the rest finished


@pytest.mark.parametrize("dtype_policy", ["float32", "mixed_bfloat16"])
def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(image_folder, tmp_path, dtype_policy):
    out = str(tmp_path / "run")

    class Poison(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() == self.at_step:  # during epoch 1
                kernel = training.conv_layers(self.model.network)[self.layer].kernel
                kernel.assign(np.full(kernel.shape, np.nan, np.float32))

    # A NaN in the last layer makes the loss NaN (TerminateOnNaN); one in the first layer is
    # hidden from the loss and from the validation graph (oneDNN's ReLU maps NaN to 0): the
    # explicit weight check of ValidationPSNR stops the run, and nothing is checkpointed.
    for layer in (-1, 0):
        poison = Poison()
        poison.at_step, poison.layer = 4, layer
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # (the slow-bfloat16 warning, on some CPUs)
            history = training.train_denoiser(
                str(image_folder), out + str(layer), sigma=25, steps=9, steps_per_epoch=3, callbacks=[poison],
                dtype_policy=dtype_policy, **TINY
            )
        assert len(history.history["loss"]) == 2  # stopped at the end of epoch 1, the poisoned one
        assert np.isfinite(history.history["val_psnr"][0]) and np.isnan(history.history["val_psnr"][1])
        model = keras.saving.load_model(os.path.join(out + str(layer), "model.keras"), compile=False)
        assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_validation_psnr_checks_the_weights_not_only_the_graph_output():
    from tfimage.models.restorer import Restorer
    from tfimage.networks.dncnn import build_dncnn

    network = build_dncnn(depth=3, filters=4)
    restorer = Restorer(network)
    images = [np.random.default_rng(0).random((16, 16, 1)).astype(np.float32)]
    check = training.ValidationPSNR(images, get_task("denoise").validation_degradation(sigma=25))
    check.set_model(restorer)
    restorer.stop_training = False  # (as fit sets it)
    logs = {}
    check.on_epoch_end(0, logs)
    assert np.isfinite(logs["val_psnr"]) and not restorer.stop_training
    kernel = training.conv_layers(network)[0].kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))
    assert not training.weights_are_finite(restorer)
    check.on_epoch_end(1, logs)
    assert np.isnan(logs["val_psnr"]) and restorer.stop_training


def test_bad_training_inputs(tmp_path, image_folder):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no image file.*empty"):
        training.train_denoiser(str(empty), str(tmp_path / "a"), sigma=25, steps=2, **TINY)
    io.write_image(image_folder / "small.png", np.zeros((10, 10, 1), np.float32))
    with pytest.raises(ValueError, match="small.png"):
        training.train_denoiser(str(image_folder), str(tmp_path / "b"), sigma=25, steps=2, **dict(TINY, validation_images=0))
    with pytest.raises(ValueError, match="sigma=-3"):
        training.train_denoiser(str(image_folder), str(tmp_path / "c"), sigma=-3, steps=2, **TINY)


def test_out_dir_with_a_different_model_is_refused(image_folder, tmp_path):
    out = str(tmp_path / "run")
    training.train_denoiser(str(image_folder), out, sigma=25, steps=2, steps_per_epoch=2, **TINY)
    before = open(os.path.join(out, "model.keras"), "rb").read()
    with pytest.raises(ValueError, match="different model.*sigma.*--overwrite"):
        training.train_denoiser(str(image_folder), out, sigma=15, steps=2, steps_per_epoch=2, **TINY)
    assert open(os.path.join(out, "model.keras"), "rb").read() == before
    training.train_denoiser(str(image_folder), out, sigma=15, steps=2, steps_per_epoch=2, overwrite=True, **TINY)
    saved = json.load(open(os.path.join(out, "train_config.json")))
    assert saved["version"] == CONFIG_VERSION and saved["task_options"]["sigma"] == 15
    # Running a finished run again would retrain it from scratch over its best model: refused.
    with pytest.raises(ValueError, match="finished run.*overwrite"):
        training.train_denoiser(str(image_folder), out, sigma=15, steps=2, steps_per_epoch=2, **TINY)


def test_init_from_pretrained_weights_and_freeze(image_folder, tmp_path):
    from tfimage.networks.dncnn import build_dncnn

    source = build_dncnn(depth=3, filters=4)
    path = str(tmp_path / "source.keras")
    source.save(path)
    out = str(tmp_path / "run")
    history = training.train_denoiser(  # arch comes from the init model, whatever arch says
        str(image_folder), out, sigma=25, steps=2, steps_per_epoch=5, init=path, freeze_layers=1,
        learning_rate=0.1, **dict(TINY, arch="ffdnet"))
    assert len(history.history["loss"]) == 1  # steps_per_epoch is capped at steps
    tuned = keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)
    source_convs, tuned_convs = training.conv_layers(source), training.conv_layers(tuned)
    np.testing.assert_array_equal(source_convs[0].get_weights()[0], tuned_convs[0].get_weights()[0])  # frozen
    assert not np.array_equal(source_convs[1].get_weights()[0], tuned_convs[1].get_weights()[0])  # trained


def test_widen_to_color_keeps_gray_behaviour():
    from tfimage.networks.ffdnet import build_ffdnet

    for residual in (False, True):
        gray = build_ffdnet(channels=1, depth=3, filters=4, residual=residual)
        for layer in training.conv_layers(gray):  # non-zero biases too
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.random.default_rng(1).normal(0, 0.1, bias.shape).astype(np.float32)])
        color = transfer.widen_to_color(gray)
        image = np.random.default_rng(0).random((1, 20, 18, 1)).astype(np.float32)
        level = np.array([[0.1]], np.float32)
        expected = gray([image, level]).numpy()
        output = color([np.repeat(image, 3, axis=3), level]).numpy()
        assert output.shape == (1, 20, 18, 3)
        for channel in range(3):
            np.testing.assert_allclose(output[..., channel], expected[..., 0], atol=1e-5)
    with pytest.raises(ValueError, match="gray FFDNet"):
        transfer.widen_to_color(color)


MIRRORED_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from tfimage import training
    from tfimage.models.restorer import Restorer
    from tfimage.networks.dncnn import build_dncnn
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out = {"replicas": strategy.num_replicas_in_sync}
    history = training.train_denoiser(sys.argv[1], sys.argv[2], sigma=25, steps=4, steps_per_epoch=2,
                                      strategy=strategy, arch="dncnn", depth=3, filters=4, patch_size=16,
                                      batch_size=4, validation_images=2, tensorboard=False, verbose=0)
    out["val_psnr"] = history.history["val_psnr"]
    # Loss scaling: one SGD step on a global batch of 8 gives the same weights on
    # 2 replicas (4 patches each) as on one device.
    rng = np.random.default_rng(0)
    clean = rng.random((8, 16, 16, 1)).astype("float32")
    noisy = clean + 0.1 * rng.standard_normal(clean.shape).astype("float32")
    weights = build_dncnn(depth=3, filters=4).get_weights()
    results = []
    for scope in (strategy.scope(), tf.distribute.get_strategy().scope()):
        with scope:
            network = build_dncnn(depth=3, filters=4)
            network.set_weights(weights)
            model = Restorer(network=network)
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        model.fit(tf.data.Dataset.from_tensor_slices((noisy, clean)).batch(8), epochs=1, verbose=0)
        results.append(network.get_weights())
    out["max_difference"] = max(float(np.max(np.abs(a - b))) for a, b in zip(*results))
    out["moved"] = max(float(np.max(np.abs(a - b))) for a, b in zip(results[1], weights))
    print("RESULT " + json.dumps(out))
""")


def test_training_under_a_mirrored_strategy(image_folder, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT, str(image_folder), str(tmp_path / "run")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = [l for l in done.stdout.splitlines() if l.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    assert out["replicas"] == 2
    assert len(out["val_psnr"]) == 2 and all(np.isfinite(out["val_psnr"]))
    assert out["moved"] > 1e-4  # the step did something
    assert out["max_difference"] < 1e-5  # and the same thing on 2 replicas as on 1


def test_gray_to_color_fine_tuning_on_bundled_photos(tmp_path):
    from tfimage.networks.ffdnet import build_ffdnet

    gray = build_ffdnet(channels=1, depth=3, filters=4, residual=True)
    out = str(tmp_path / "color")
    history = training.train_denoiser(  # the widened network is the init: its channels win
        "bundled-color", out, init=transfer.widen_to_color(gray), sigma=25, steps=2, steps_per_epoch=2,
        **dict(TINY, validation_images=1))
    assert np.isfinite(history.history["val_psnr"][0])
    color = keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)
    assert color.inputs[0].shape[-1] == 3 and len(color.inputs) == 2
    assert json.load(open(os.path.join(out, "train_config.json")))["channels"] == 3
    # The widen option itself (an experiment) left training.
    with pytest.raises(ValueError, match="widen.*removed.*Received: widen=True"):
        training.train_denoiser("bundled-color", str(tmp_path / "x"), init=gray, widen=True, sigma=25, steps=2,
                                **TINY)


class _LearningRates(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))


def test_warmup_raises_the_learning_rate_linearly_then_decays(image_folder, tmp_path):
    rates = {}
    for warmup in (0, 2):
        recorder = _LearningRates()
        training.train_denoiser(
            str(image_folder), str(tmp_path / f"run{warmup}"), sigma=25, steps=6, steps_per_epoch=3,
            learning_rate=0.1, warmup_steps=warmup, callbacks=[recorder], **TINY)
        rates[warmup] = recorder.rates
    assert len(rates[2]) == 6
    np.testing.assert_allclose(rates[2][:3], [0.0, 0.05, 0.1], rtol=1e-5)
    assert rates[2][3] < 0.1 and rates[2][5] < rates[2][3]  # the cosine runs over the other 4 steps
    assert rates[0][0] == pytest.approx(0.1) and rates[0][5] < rates[0][1] < rates[0][0]  # the cosine from step 0
    config = json.load(open(tmp_path / "run2" / "train_config.json"))
    assert config["warmup_steps"] == 2 and json.load(open(tmp_path / "run0" / "train_config.json"))["warmup_steps"] == 0
    with pytest.raises(ValueError, match="warmup_steps=6"):
        training.train_denoiser(str(image_folder), str(tmp_path / "bad"), sigma=25, steps=6, warmup_steps=6, **TINY)


def test_validation_repeats_average_several_degradations_per_image(image_folder, tmp_path):
    images = [np.random.default_rng(index).random((16, 16, 1)).astype(np.float32) for index in range(2)]
    degradation = get_task("inpaint").validation_degradation(hole_ratio=0.25)
    once = training.ValidationPSNR(images, degradation)
    thrice = training.ValidationPSNR(images, degradation, repeats=3)
    assert len(thrice.noisy) == 6 and len(thrice.images) == 6
    for first, again in zip(once.noisy, thrice.noisy[:2]):  # repeat 0 keeps the single-draw seeds
        np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(thrice.noisy[0][1], thrice.noisy[2][1])  # image 0's second mask differs
    np.testing.assert_array_equal(thrice.images[2], images[0])
    with pytest.raises(ValueError, match="repeats=0"):
        training.ValidationPSNR(images, degradation, repeats=0)
    with pytest.raises(ValueError, match="validation_repeats=0"):
        training.train_denoiser(str(image_folder), str(tmp_path / "bad"), sigma=25, steps=2, validation_repeats=0, **TINY)
    history = training.train_denoiser(
        str(image_folder), str(tmp_path / "run"), sigma=25, steps=2, steps_per_epoch=2, validation_repeats=2, **TINY)
    assert np.isfinite(history.history["val_psnr"][0])
    assert json.load(open(tmp_path / "run" / "train_config.json"))["validation_repeats"] == 2


class _StopAt(keras.callbacks.Callback):
    """Raises in the middle of epoch `epoch`, after at least one backup (backup_every=1): a crash."""

    def __init__(self, epoch):
        super().__init__()
        self.stop_epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == self.stop_epoch and batch == 1:
            raise RuntimeError("crash")


# What tfimage 0.x (no "version" key) wrote for train_denoiser(sigma=25, steps=6, steps_per_epoch=3, **TINY).
V1_CONFIG = {
    "data": None, "arch": "dncnn", "init": "scratch", "sigma": 25, "sigma_range": None, "channels": 1, "depth": 3,
    "filters": 4, "residual": True, "patch_size": 16, "batch_size": 2, "steps": 6, "steps_per_epoch": 3,
    "learning_rate": 0.001, "final_learning_rate": None, "loss": "l2", "freeze_layers": 0, "widen": False,
    "validation_images": 2, "validation_sigma": 25, "seed": 0,
}


def test_an_unversioned_run_folder_is_migrated_and_resumes(image_folder, tmp_path):
    out = str(tmp_path / "run")
    run = dict(sigma=25, steps=6, steps_per_epoch=3, backup_every=1, **TINY)
    with pytest.raises(RuntimeError, match="crash"):
        training.train_denoiser(str(image_folder), out, callbacks=[_StopAt(1)], **run)
    assert _epochs_logged(out) == [0] and os.path.isdir(os.path.join(out, "backup"))
    with open(os.path.join(out, "train_config.json"), "w") as stream:  # as an earlier version left it
        json.dump(dict(V1_CONFIG, data=str(image_folder)), stream)
    history = training.train_denoiser(str(image_folder), out, **run)
    assert len(history.history["loss"]) == 1  # epoch 1 only: epoch 0 came from the backup
    assert _epochs_logged(out) == [0, 1]
    saved = json.load(open(os.path.join(out, "train_config.json")))
    assert saved["version"] == CONFIG_VERSION and "widen" not in saved and "sigma" not in saved
    assert saved["task_options"] == {"sigma": 25, "sigma_range": None, "validation_sigma": 25}
    assert TrainConfig.from_dict(dict(V1_CONFIG, data=str(image_folder))).to_dict() == saved


def test_a_run_folder_of_a_removed_option_or_a_newer_version_is_refused(image_folder, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "train_config.json").write_text(json.dumps(dict(V1_CONFIG, data=str(image_folder), widen=True)))
    with pytest.raises(ValueError, match="used widen=True.*overwrite"):
        training.train_denoiser(str(image_folder), str(out), sigma=25, steps=6, steps_per_epoch=3, **TINY)
    (out / "train_config.json").write_text(json.dumps({"version": CONFIG_VERSION + 1, "task": "denoise"}))
    with pytest.raises(ValueError, match=f"version={CONFIG_VERSION + 1}"):
        training.train_denoiser(str(image_folder), str(out), sigma=25, steps=6, steps_per_epoch=3, **TINY)


def test_train_config_checks_each_field_and_round_trips():
    config = TrainConfig(task="sr", data="train400", task_options={"scale": 2}, steps=250, steps_per_epoch=100)
    assert config.total_steps == 200 and config.epochs == 2
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.replace(learning_rate=1e-4, scale=3).task_options == {"scale": 3}
    legacy = TrainConfig.from_options(data="x", task="inpaint", mask_kind="boxes", mask_scale=(64, 256))
    assert legacy.task_options == {"hole_ratio": 0.25, "kind": "boxes", "shape_scale": [64.0, 256.0]}
    for field, value in [("channels", 2), ("patch_size", 4), ("steps", 0), ("learning_rate", -1.0),
                         ("loss", "l3"), ("dtype_policy", "float16"), ("validation_repeats", 0),
                         ("freeze_layers", 1.5), ("residual", "yes")]:
        with pytest.raises(ValueError, match=f"Received: {field}={value!r}"):
            TrainConfig(data="x", task_options={"sigma": 25}, **{field: value})
    with pytest.raises(ValueError, match="takes the training options sigma, sigma_range, validation_sigma.*scale=4"):
        TrainConfig(data="x", task_options={"sigma": 25, "scale": 4})
    with pytest.raises(ValueError, match="needs scale"):
        TrainConfig(data="x", task="sr")
    with pytest.raises(ValueError, match="exactly one of sigma and sigma_range"):
        TrainConfig(data="x")
    with pytest.raises(ValueError, match="opponent_color .* needs task='denoise' and a gray init"):
        TrainConfig(data="x", task_options={"sigma": 25}, opponent_color=True)
