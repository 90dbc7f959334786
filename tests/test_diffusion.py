"""Tests of the DDIM diffusion model, its U-Net, its training run and its restoration sampler."""

import json
import os

import numpy as np
import pytest
from conftest import assert_keras_round_trip

keras = pytest.importorskip("keras")

from tfimage.models.diffusion import DiffusionModel  # noqa: E402
from tfimage.networks import diffusion_unet  # noqa: E402

SHAPE = (8, 8, 1)


def tiny(**kwargs):
    options = dict(image_shape=SHAPE, widths=(4, 8), block_depth=1, embedding_dims=4, seed=1)
    options.update(kwargs)
    return DiffusionModel(**options)


def batch(n=2, seed=0, labels=False):
    rng = np.random.default_rng(seed)
    images = rng.random((n,) + SHAPE).astype("float32")
    if labels:
        return images, (np.arange(n) % 3).astype("int32")
    return images


def dataset(images, labels=None, repeat=1):
    import tensorflow as tf

    data = (images, labels) if labels is not None else images
    return tf.data.Dataset.from_tensor_slices(data).batch(len(images)).repeat(repeat)


# ---------------------------------------------------------------- the U-Net
def test_unet_shapes_and_conditional_inputs():
    net = diffusion_unet.build_diffusion_unet((28, 28, 1), widths=(4, 8, 8), block_depth=1, embedding_dims=4)
    assert net.output_shape == (None, 28, 28, 1)
    assert [tuple(i.shape) for i in net.inputs] == [(None, 28, 28, 1), (None, 1, 1, 1)]
    net = diffusion_unet.build_diffusion_unet((16, 16, 3), widths=(4, 8), num_classes=5, embedding_dims=4)
    assert len(net.inputs) == 3 and net.output_shape == (None, 16, 16, 3)


@pytest.mark.parametrize("kwargs, name", [
    (dict(image_shape=(28, 28, 1), widths=(4, 8, 8, 8)), "image_shape"),
    (dict(widths=()), "widths"),
    (dict(block_depth=0), "block_depth"),
    (dict(embedding_dims=3), "embedding_dims"),
    (dict(num_classes=0), "num_classes"),
])
def test_unet_rejects_bad_arguments_naming_them(kwargs, name):
    options = dict(image_shape=(8, 8, 1), widths=(4, 8), embedding_dims=4)
    options.update(kwargs)
    with pytest.raises(ValueError, match=f"Received: {name}="):
        diffusion_unet.build_diffusion_unet(**options)


# ---------------------------------------------------------------- the model
def test_cosine_schedule_is_variance_preserving_and_monotone():
    model = tiny()
    times = np.linspace(0, 1, 11).astype("float32")
    noise, signal = (x.numpy() for x in model.diffusion_schedule(times))
    np.testing.assert_allclose(noise ** 2 + signal ** 2, 1.0, atol=1e-6)
    assert np.all(np.diff(noise) > 0) and np.all(np.diff(signal) < 0)
    np.testing.assert_allclose([signal[0], signal[-1]], [0.95, 0.02], atol=1e-6)


def test_train_step_moves_the_network_and_the_ema_lags_behind():
    model = tiny()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = [w.copy() for w in model.network.get_weights()]
    model.fit(dataset(batch()), epochs=1, verbose=0)
    after = model.network.get_weights()
    ema = model.ema_network.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert any(not np.allclose(a, e) for a, e in zip(after, ema))  # EMA != online after a step
    assert int(model.optimizer.iterations.numpy()) == 1


def test_training_lowers_the_loss_on_a_fixed_batch():
    model = tiny(widths=(8, 8), ema_decay=0.0, loss="mse")
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    images = batch(8)
    data = dataset(images, repeat=1)
    first = model.evaluate(dataset(images, repeat=20), verbose=0, return_dict=True)["loss"]
    model.fit(data.repeat(150), epochs=1, verbose=0)
    last = model.evaluate(dataset(images, repeat=20), verbose=0, return_dict=True)["loss"]
    assert last < 0.8 * first, (first, last)


def test_ddim_sampling_is_deterministic_for_a_seed():
    model = tiny()
    a = model.sample(3, steps=4, seed=7)
    b = model.sample(3, steps=4, seed=7)
    c = model.sample(3, steps=4, seed=8)
    assert a.shape == (3,) + SHAPE and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # batching does not change the images
    np.testing.assert_allclose(model.sample(3, steps=4, seed=7, batch_size=2), a, atol=1e-6)


def test_dpm_solver_follows_the_exact_flow_of_gaussian_data_closer_than_ddim():
    """With the exact denoiser of N(mean, std^2) data the sampling ODE is known in closed form; both samplers
    start from the same update, and DPM-Solver++(2M) gets closer than DDIM as steps grow."""
    import tensorflow as tf

    model = tiny()
    mean, std = 0.1, 0.3  # in the network's [-1, 1] range

    def exact_noise(noisy, noise_rates, labels=None, training=False, use_ema=True):
        signal_rates = tf.sqrt(1.0 - tf.square(noise_rates))
        spread = tf.square(signal_rates * std) + tf.square(noise_rates)
        clean = mean + signal_rates * std**2 / spread * (noisy - signal_rates * mean)
        return (noisy - signal_rates * clean) / noise_rates

    model.predict_noise = exact_noise
    noise = model.initial_noise(64, seed=3)

    def exact(steps):
        rates = [model.diffusion_schedule(tf.constant(t)) for t in (1.0, 1.0 / steps)]
        (n1, s1), (n, s) = [(float(a), float(b)) for a, b in rates]
        spread1, spread = (s1 * std) ** 2 + n1**2, (s * std) ** 2 + n**2
        x = s * mean + np.sqrt(spread / spread1) * (noise - s1 * mean)
        clean = mean + s * std**2 / spread * (x - s * mean)
        return np.clip(clean * 0.5 + 0.5, 0.0, 1.0)

    errors = {}
    for steps in (1, 4, 16):
        for sampler in ("ddim", "dpm-solver++"):
            errors[sampler, steps] = np.abs(model.generate(noise, steps=steps, sampler=sampler) - exact(steps)).mean()
    assert errors["ddim", 1] == errors["dpm-solver++", 1]  # one step: the same update
    assert errors["dpm-solver++", 4] < errors["ddim", 4], errors
    assert errors["dpm-solver++", 16] < 0.25 * errors["ddim", 16], errors
    assert errors["dpm-solver++", 16] < errors["dpm-solver++", 4] / 3, errors  # second order
    with pytest.raises(ValueError, match="sampler"):
        model.sample(2, steps=2, sampler="euler")


def test_conditional_sampling_checks_the_class_input():
    model = tiny(num_classes=3)
    model.compile()
    model.fit(dataset(*batch(labels=True)), epochs=1, verbose=0)
    assert model.sample(4, steps=2, seed=0, labels=2).shape == (4,) + SHAPE
    by_class = model.sample(3, steps=2, seed=0, labels=[0, 1, 2])
    assert not np.array_equal(by_class[0], by_class[1])  # the label changes the sample
    with pytest.raises(ValueError, match="Unknown class"):
        model.sample(2, steps=2, labels=3)
    with pytest.raises(ValueError, match="one label per image"):
        model.sample(3, steps=2, labels=[0, 1])
    with pytest.raises(ValueError, match="labels=None"):
        model.fit(dataset(batch()), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="unconditional"):
        tiny().sample(2, steps=2, labels=1)


def test_keras_round_trip_gives_identical_samples(tmp_path):
    model = tiny(num_classes=3)
    model.compile()
    model.fit(dataset(*batch(labels=True)), epochs=1, verbose=0)
    loaded = assert_keras_round_trip(model, tmp_path=tmp_path, call=lambda m: m.sample(4, steps=3, seed=5, labels=1))
    assert isinstance(loaded, DiffusionModel) and loaded.num_classes == 3
    np.testing.assert_array_equal(loaded.ema_network.get_weights()[0], model.ema_network.get_weights()[0])


@pytest.mark.parametrize("kwargs, name", [
    (dict(ema_decay=1.0), "ema_decay"),
    (dict(loss="l1"), "loss"),
    (dict(min_signal_rate=0.0), "min_signal_rate"),
    (dict(max_signal_rate=1.5), "max_signal_rate"),
    (dict(min_signal_rate=0.9, max_signal_rate=0.5), "min_signal_rate"),
])
def test_model_rejects_bad_arguments_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        tiny(**kwargs)


@pytest.mark.parametrize("kwargs, name", [
    (dict(n=0), "n"), (dict(n=2, steps=0), "steps"), (dict(n=2, steps=2.5), "steps"),
    (dict(n=2, batch_size=0), "batch_size"),
])
def test_sample_rejects_bad_arguments_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"Received: {name}="):
        tiny().sample(**kwargs)


def test_compile_refuses_a_loss():
    with pytest.raises(ValueError, match="Received: loss="):
        tiny().compile(loss="mse")


# ---------------------------------------------------------------- training runs
def _digit_folder(folder, n=4, shape=SHAPE):
    from tfimage import io

    folder.mkdir()
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


def test_train_diffusion_resumes_after_a_crash_and_refuses_bad_arguments(tmp_path):
    import csv

    from tfimage import generation

    data = _digit_folder(tmp_path / "digits")
    out = str(tmp_path / "run")
    small = dict(epochs=3, batch_size=2, widths=(4, 8), block_depth=1, embedding_dims=4, verbose=0, samples=2)
    with pytest.raises(RuntimeError, match="crash"):
        generation.train_diffusion(data, out, callbacks=[_CrashInEpoch(2)], **small)
    assert isinstance(keras.saving.load_model(os.path.join(out, "model.keras")), DiffusionModel)
    history = generation.train_diffusion(data, out, **small)
    assert history.epoch == [2]  # epochs 0 and 1 came from the backup
    assert int(history.model.optimizer.iterations.numpy()) == 3 * 2
    with open(os.path.join(out, "history.csv")) as stream:
        assert [int(row["epoch"]) for row in csv.DictReader(stream)] == [0, 1, 2]
    config = json.loads(open(os.path.join(out, "train_config.json")).read())
    assert config["kind"] == "diffusion" and config["widths"] == [4, 8]
    final = keras.saving.load_model(os.path.join(out, "model.keras"))
    np.testing.assert_array_equal(final.sample(2, steps=2, seed=0), history.model.sample(2, steps=2, seed=0))
    bad = str(tmp_path / "bad")
    for kwargs, name in [(dict(widths=(4, 0)), "widths"), (dict(block_depth=0), "block_depth"),
                         (dict(loss="l1"), "loss"), (dict(ema_decay=2.0), "ema_decay"),
                         (dict(batch_size=0), "batch_size"), (dict(weight_decay=-1.0), "weight_decay")]:
        with pytest.raises(ValueError, match=f"Received: {name}="):
            generation.train_diffusion(data, bad, **dict(small, **kwargs))


def test_cli_train_sample_and_evaluate_diffusion(tmp_path, capsys):
    from PIL import Image

    from tfimage import generation
    from tfimage.cli.main import main

    data = _digit_folder(tmp_path / "digits", n=8)
    out = tmp_path / "run"
    assert main(["train", "diffusion", "--data", data, "--epochs", "1", "--batch-size", "4", "--widths", "4,8",
                 "--block-depth", "1", "--out", str(out)]) == 0
    grid = tmp_path / "grid.png"
    assert main(["sample", "--model", str(out / "model.keras"), "-n", "4", "-o", str(grid), "--steps", "2",
                 "--seed", "0"]) == 0
    assert Image.open(grid).size == (4 * 8 + 5 * 2, 8 + 2 * 2)
    assert main(["sample", "--model", str(out / "model.keras"), "-n", "4", "-o", str(grid), "--class", "1"]) == 1
    model = generation.load_generative_model(str(out / "model.keras"), "diffusion")
    real, _ = generation.load_generation_data(data)
    result = generation.evaluate_model(model, real, n=8, feature_extractor=lambda x: x.reshape(len(x), -1)[:, :6],
                                       steps=2, sampler="dpm-solver++")
    assert result["steps"] == 2 and result["images"] == 8 and result["images_per_second"] > 0
    assert result["sampler"] == "dpm-solver++"
    assert main(["sample", "--model", str(out / "model.keras"), "-n", "4", "-o", str(grid), "--steps", "3",
                 "--sampler", "dpm-solver++", "--seed", "0"]) == 0
    from tfimage.cli.generate import SAMPLERS
    from tfimage.models.diffusion import SAMPLERS as MODEL_SAMPLERS

    assert SAMPLERS == MODEL_SAMPLERS
    with pytest.raises(ValueError, match="not a GAN"):
        generation.load_generative_model(str(out / "model.keras"), "gan")


# ---------------------------------------------------------------- DiffPIR restoration
def test_inpainting_mask_drops_the_requested_fraction():
    from tfimage.diffusion_restoration import inpainting_mask

    mask = inpainting_mask((64, 64), 0.8, seed=3)
    assert mask.shape == (64, 64, 1) and set(np.unique(mask)) <= {0.0, 1.0}
    assert abs(1.0 - mask.mean() - 0.8) < 0.03
    np.testing.assert_array_equal(mask, inpainting_mask((64, 64), 0.8, seed=3))
    with pytest.raises(ValueError, match="Received: missing=1.0"):
        inpainting_mask((8, 8), 1.0)


def test_diffpir_keeps_the_observed_pixels_and_searches_the_class():
    from tfimage import operators
    from tfimage.diffusion_restoration import PixelMasks, diffpir, inpainting_mask

    model = tiny(num_classes=3)
    clean = batch(2)
    mask = inpainting_mask(SHAPE, 0.5, seed=0)
    observed = clean * mask
    result = diffpir(model, operators.Mask(mask), observed, steps=3, seed=0)
    assert result["images"].shape == clean.shape and result["labels"].shape == (2,)
    assert set(result["labels"]) <= {0, 1, 2} and result["residuals"].shape == (2,)
    np.testing.assert_allclose(result["images"] * mask, observed, atol=0.05)  # the data step keeps y
    again = diffpir(model, operators.Mask(mask), observed, steps=3, seed=0)
    np.testing.assert_array_equal(again["images"], result["images"])
    per_image = diffpir(model, PixelMasks(np.stack([mask, mask])), observed, steps=3, seed=0, labels=1)
    assert per_image["images"].shape == clean.shape and list(per_image["labels"]) == [1, 1]
    with pytest.raises(ValueError, match="one mask per observation"):
        diffpir(model, PixelMasks(mask[None]), observed, steps=3)


def test_diffpir_super_resolution_shape_and_bad_arguments():
    from tfimage import operators
    from tfimage.diffusion_restoration import diffpir

    model = tiny()
    operator = operators.BlurDownsample(np.full((2, 2), 0.25, np.float32), 2, 8, 8)
    low = np.stack([operator.forward(image).numpy() for image in batch(2)])
    assert diffpir(model, operator, low, steps=2)["images"].shape == (2,) + SHAPE
    for kwargs, name in [(dict(steps=0), "steps"), (dict(zeta=1.5), "zeta"), (dict(weight=0.0), "weight"),
                         (dict(noise_level=-1.0), "noise_level"), (dict(labels=2), "labels"),
                         (dict(batch_size=0), "batch_size")]:
        with pytest.raises(ValueError, match=f"Received: {name}="):
            diffpir(model, operator, low, **kwargs)


def test_sampling_options_are_refused_for_a_gan(tmp_path, capsys):
    from tfimage.cli.main import main

    grid = str(tmp_path / "grid.png")
    for flags, name in [(["--steps", "5"], "--steps"), (["--sampler", "ddim"], "--sampler")]:
        assert main(["sample", "--model", "mnist-gan", "-n", "2", "-o", grid, *flags]) == 1
        assert f"{name} applies to diffusion models only" in capsys.readouterr().err
    assert not os.path.exists(grid)
