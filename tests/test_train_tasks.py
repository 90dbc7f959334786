"""Tests of `train_restorer` for super-resolution and inpainting, and of gray models on color images."""

import functools
import json
import os

import keras
import numpy as np
import pytest
from conftest import write_smooth_images

from tfimage import color, degradations, inference, io, metrics, training
from tfimage.networks.edsr import build_edsr
from tfimage.tasks import get_task
from tfimage.tasks.super_resolution import model_scale

TINY = dict(patch_size=32, batch_size=2, validation_images=2, tensorboard=False, verbose=0)


@pytest.fixture
def image_folder(tmp_path):
    return write_smooth_images(tmp_path / "images", 5, 48)


def _rgb(height=24, width=20, seed=0):
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(np.cumsum(rng.random((height, width, 3)), 0), 1)
    return (smooth / smooth.max(axis=(0, 1))).astype(np.float32)


def test_ycbcr_round_trip_and_y_matches_the_metric():
    image = _rgb()
    ycbcr = color.rgb_to_ycbcr(image)
    np.testing.assert_allclose(color.ycbcr_to_rgb(ycbcr), image, atol=1e-5)
    np.testing.assert_allclose(ycbcr[..., :1], np.asarray(metrics.rgb_to_y(image)), atol=1e-6)
    assert 16 / 255 - 1e-6 <= ycbcr[..., 0].min() and ycbcr[..., 0].max() <= 235 / 255 + 1e-6
    with pytest.raises(ValueError, match="shape=\\(4, 4, 1\\)"):
        color.rgb_to_ycbcr(np.zeros((4, 4, 1)))


def test_untrained_edsr_is_bicubic_and_a_gray_model_upscales_color_through_y():
    # The zero tail makes a fresh EDSR exactly bicubic; bicubic is linear, so
    # upscaling Y (model) and Cb/Cr (bicubic) must give bicubic RGB back.
    network = build_edsr(2, channels=1, filters=8, blocks=1)
    image = _rgb()
    upscaled = inference.restore(network, image, task="sr", scale=2)
    assert upscaled.shape == (48, 40, 3)
    expected = np.clip(np.asarray(degradations.bicubic_upsample(image, 2)), 0, 1)
    np.testing.assert_allclose(upscaled, expected, atol=2e-4)
    # After a change to the weights the Y path differs from bicubic only in luma.
    tail = network.get_layer("tail")
    tail.set_weights([np.full(tail.kernel.shape, 0.01, np.float32), tail.bias.numpy()])
    changed = inference.restore(network, image, task="sr", scale=2)
    delta = color.rgb_to_ycbcr(changed) - color.rgb_to_ycbcr(expected)
    inside = (expected > 0.02).all(-1) & (expected < 0.98).all(-1) & (changed > 0.02).all(-1) & (changed < 0.98).all(-1)
    assert np.abs(delta[..., 0][inside]).mean() > 1e-3
    np.testing.assert_allclose(delta[..., 1:][inside], 0, atol=1e-4)


def test_gray_inpainting_model_fills_each_color_channel_like_a_gray_image():
    from tfimage.networks.unet import build_unet

    keras.utils.set_random_seed(0)
    network = build_unet(1, filters=(4, 8), extra_inputs=1, residual=True)
    image = _rgb(32, 32)
    mask = degradations.random_mask(32, 32, 0.25, seed=(0, 1))
    filled = inference.restore(network, image, task="inpaint", mask=mask)
    assert filled.shape == (32, 32, 3)
    for channel in range(3):
        alone = inference.restore(network, image[..., channel : channel + 1], task="inpaint", mask=mask)
        np.testing.assert_allclose(filled[..., channel : channel + 1], alone, atol=1e-5)
    np.testing.assert_array_equal(filled[mask[..., 0] == 0], image[mask[..., 0] == 0])


def test_train_sr_then_transfer_x4_to_x2(image_folder, tmp_path):
    out4 = str(tmp_path / "x4")
    history = training.train_restorer(
        str(image_folder), out4, task="sr", scale=4, filters=8, depth=1, steps=4, steps_per_epoch=2, **TINY
    )
    assert len(history.history["val_psnr"]) == 2 and all(np.isfinite(history.history["val_psnr"]))
    x4 = keras.saving.load_model(os.path.join(out4, "model.keras"), compile=False)
    assert model_scale(x4) == 4
    with open(os.path.join(out4, training.CONFIG_FILE)) as stream:
        assert json.load(stream)["task_options"] == {"scale": 4}
    out2 = str(tmp_path / "x2")
    training.train_restorer(
        str(image_folder), out2, task="sr", scale=2, filters=8, depth=1, init=os.path.join(out4, "model.keras"),
        partial_init=True, steps=2, steps_per_epoch=2, learning_rate=1e-12, **TINY
    )
    x2 = keras.saving.load_model(os.path.join(out2, "model.keras"), compile=False)
    assert model_scale(x2) == 2
    # Every convolution but the tail (scale-specific) starts from the x4 weights.
    for name in ("head", "block1_conv1", "block1_conv2", "body_end"):
        np.testing.assert_allclose(x2.get_layer(name).kernel.numpy(), x4.get_layer(name).kernel.numpy(), atol=1e-6)
    assert x2.get_layer("tail").kernel.shape != x4.get_layer("tail").kernel.shape


def test_train_inpaint_learns_and_takes_image_and_mask(image_folder, tmp_path):
    out = str(tmp_path / "inpaint")
    history = training.train_restorer(
        str(image_folder), out, task="inpaint", filters=4, depth=2, steps=6, steps_per_epoch=3,
        hole_ratio=0.25, **TINY
    )
    assert all(np.isfinite(history.history["val_psnr"]))
    model = keras.saving.load_model(os.path.join(out, "model.keras"), compile=False)
    assert [tuple(tensor.shape)[-1] for tensor in model.inputs] == [1, 1]
    image = io.read_image(str(image_folder / "0.png"))[:32, :32]
    mask = degradations.random_mask(32, 32, 0.25, seed=(3, 3))
    filled = inference.restore(model, image, task="inpaint", mask=mask)
    assert filled.shape == (32, 32, 1)
    masked_psnr = float(metrics.psnr(image, image * (1 - mask)))
    assert float(metrics.psnr(image, filled)) > masked_psnr + 5  # the in-model fill already closes the holes


def test_inpainting_degradation_mask_scale_range():
    import tensorflow as tf

    inpainting = get_task("inpaint")
    degrade = inpainting.training_degradation(0.25, shape_scale=(64, 480))
    patch = tf.ones((64, 64, 1))
    masks = [degrade(patch, tf.constant([seed, 0]))[1].numpy() for seed in range(12)]
    assert all(abs(mask.mean() - 0.25) <= 0.05 * 0.25 for mask in masks)
    np.testing.assert_array_equal(masks[0], degrade(patch, tf.constant([0, 0]))[1].numpy())  # seeded
    thin = inpainting.training_degradation(0.25)
    # One hole pixel's mean number of hole neighbours grows with the stroke width.
    def filled_fraction(mask):
        import cv2
        return float(cv2.blur(mask[..., 0], (5, 5))[mask[..., 0] > 0].mean())
    wide_fill = np.mean([filled_fraction(mask) for mask in masks])
    thin_fill = np.mean([filled_fraction(thin(patch, tf.constant([seed, 0]))[1].numpy()) for seed in range(12)])
    assert wide_fill > thin_fill + 0.1
    for bad in ((4,), (300, 100), (8, 16, 32)):
        with pytest.raises(ValueError, match="shape_scale="):
            inpainting.training_degradation(0.25, shape_scale=bad)


def _cpuinfo(tmp_path, name, flags):
    path = tmp_path / name
    path.write_text("".join(f"processor\t: {i}\nmodel name\t: test\nflags\t\t: {flags}\n\n" for i in range(2)))
    return str(path)


def test_slow_dtype_policy_warning_reads_the_cpu_flags(tmp_path):
    zen3 = _cpuinfo(tmp_path, "zen3", "fpu sse4_2 avx avx2 fma f16c vaes")
    sapphire_rapids = _cpuinfo(tmp_path, "spr", "fpu avx2 fma avx512f avx512_bf16 amx_bf16 amx_tile")
    message = training.slow_dtype_policy_warning("mixed_bfloat16", cpuinfo_path=zen3, has_gpu=False)
    assert "avx512_bf16" in message and zen3 in message and "float32" in message
    assert message.endswith("Received: dtype_policy='mixed_bfloat16'")
    assert training.slow_dtype_policy_warning("mixed_bfloat16", cpuinfo_path=sapphire_rapids, has_gpu=False) is None
    assert training.slow_dtype_policy_warning("mixed_bfloat16", cpuinfo_path=zen3, has_gpu=True) is None
    for policy in (None, "float32", "mixed_float16"):
        assert training.slow_dtype_policy_warning(policy, cpuinfo_path=zen3, has_gpu=False) is None
    # Nothing known (no such file, or no flags line, e.g. another OS): no warning.
    assert training.slow_dtype_policy_warning("mixed_bfloat16", str(tmp_path / "absent"), has_gpu=False) is None
    assert training.slow_dtype_policy_warning("mixed_bfloat16", _cpuinfo(tmp_path, "bare", ""), has_gpu=False) is None


def test_train_mixed_bfloat16_learns_and_saves_float32(image_folder, tmp_path, monkeypatch):
    out = str(tmp_path / "mixed")
    # As on a CPU without bfloat16 instructions: training warns, then runs as asked.
    zen3 = _cpuinfo(tmp_path, "zen3", "fpu avx2 fma")
    monkeypatch.setattr(training, "slow_dtype_policy_warning", functools.partial(
        training.slow_dtype_policy_warning, cpuinfo_path=zen3, has_gpu=False))
    with pytest.warns(UserWarning, match="CPU without bfloat16 instructions"):
        history = training.train_restorer(
            str(image_folder), out, arch="dncnn", depth=3, filters=8, sigma=25, steps=30, steps_per_epoch=10,
            learning_rate=3e-3, dtype_policy="mixed_bfloat16", **TINY
        )
    assert history.history["val_psnr"][-1] > history.history["val_psnr"][0]
    with open(os.path.join(out, "train_config.json")) as stream:
        assert json.load(stream)["dtype_policy"] == "mixed_bfloat16"
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert model.outputs[0].dtype == "float32"
    # The float32 copy keeps the trained weights: it scores what validation measured.
    image = io.read_image(str(image_folder / "4.png"))
    noisy = np.clip(image + np.random.default_rng(0).normal(0, 25 / 255, image.shape), 0, 1).astype(np.float32)
    restored = np.clip(model(noisy[None]).numpy()[0], 0, 1)
    assert float(metrics.psnr(image, restored)) > float(metrics.psnr(image, noisy)) + 1
    with pytest.raises(ValueError, match="dtype_policy='float16'"):
        training.train_restorer(str(image_folder), str(tmp_path / "bad"), sigma=25, steps=1,
                                dtype_policy="float16", **TINY)


def test_with_dtype_policy_copies_weights_and_changes_compute_type():
    network = training.build_network("ffdnet", 1, depth=3, filters=8)
    mixed = training.with_dtype_policy(network, "mixed_bfloat16")
    assert training.uses_mixed_precision(mixed) and not training.uses_mixed_precision(network)
    for a, b in zip(network.get_weights(), mixed.get_weights()):
        np.testing.assert_array_equal(a, b)
    back = training.with_dtype_policy(mixed, "float32")
    x = np.random.default_rng(0).random((1, 16, 16, 1)).astype(np.float32)
    level = np.full((1, 1), 0.1, np.float32)
    np.testing.assert_allclose(back([x, level]).numpy(), network([x, level]).numpy(), atol=1e-6)
    assert np.abs(mixed([x, level]).numpy().astype(np.float32) - network([x, level]).numpy()).max() < 0.05


def test_train_task_bad_arguments(image_folder, tmp_path):
    with pytest.raises(ValueError, match="patch_size=30"):
        training.train_restorer(str(image_folder), str(tmp_path / "a"), task="sr", scale=4, steps=1,
                                **dict(TINY, patch_size=30))
    with pytest.raises(ValueError, match="patch_size=34"):
        training.train_restorer(str(image_folder), str(tmp_path / "b"), task="inpaint", depth=3, filters=4,
                                steps=1, **dict(TINY, patch_size=34))
    with pytest.raises(ValueError, match="scale=5"):
        training.train_restorer(str(image_folder), str(tmp_path / "c"), task="sr", scale=5, steps=1, **TINY)
    with pytest.raises(ValueError, match="arch='dncnn'"):
        training.train_restorer(str(image_folder), str(tmp_path / "d"), task="sr", arch="dncnn", steps=1, **TINY)
    with pytest.raises(ValueError, match="task='dehaze'"):
        training.train_restorer(str(image_folder), str(tmp_path / "e"), task="dehaze", steps=1, **TINY)


def test_cli_train_sr(image_folder, tmp_path, capsys):
    from tfimage.cli.main import main

    out = str(tmp_path / "cli")
    main(["train", "sr", "--data", str(image_folder), "--scale", "2", "--filters", "4", "--depth", "1",
          "--patch", "32", "--batch", "2", "--steps", "2", "--steps-per-epoch", "2", "--validation-images", "2",
          "--out", out])
    assert "best validation PSNR" in capsys.readouterr().out
    assert model_scale(keras.saving.load_model(os.path.join(out, "model.keras"))) == 2


def test_cli_train_inpaint_mask_scale_and_mixed_precision(image_folder, tmp_path, capsys):
    from tfimage.cli.main import main

    out = str(tmp_path / "cli-inpaint")
    main(["train", "inpaint", "--data", str(image_folder), "--filters", "4", "--depth", "2", "--patch", "32",
          "--batch", "2", "--steps", "2", "--steps-per-epoch", "2", "--validation-images", "2",
          "--mask-scale", "64", "256", "--dtype-policy", "mixed_bfloat16", "--composite-holes", "--out", out])
    assert "best validation PSNR" in capsys.readouterr().out
    with open(os.path.join(out, "train_config.json")) as stream:
        config = json.load(stream)
    assert config["task_options"]["shape_scale"] == [64.0, 256.0] and config["dtype_policy"] == "mixed_bfloat16"
    assert config["composite_holes"] is True
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    assert not training.uses_mixed_precision(model)
    from tfimage.networks.inpainting import is_composited

    assert is_composited(model)
    image = io.read_image(str(image_folder / "1.png"))[:32, :32][None]
    mask = degradations.random_mask(32, 32, 0.25, seed=(5, 5))[None]
    output = np.asarray(model([image, mask]))
    np.testing.assert_allclose(output[mask == 0], image[mask == 0], atol=1e-6)


def test_inpainting_validation_masks_follow_the_mask_scale():
    import cv2

    image = np.full((48, 48, 1), 0.5, np.float32)

    def filled_fraction(mask_scale):
        degrade = get_task("inpaint").validation_degradation(hole_ratio=0.25, shape_scale=mask_scale)
        masks = [np.asarray(degrade(image, (seed, 0))[1])[..., 0] for seed in range(6)]
        assert all(abs(mask.mean() - 0.25) <= 0.05 * 0.25 for mask in masks)
        return np.mean([cv2.blur(mask, (5, 5))[mask > 0].mean() for mask in masks])

    assert filled_fraction(320.0) > filled_fraction(None) + 0.1


def test_cli_train_inpaint_refinement_stage_trains_the_second_stage_then_both(image_folder, tmp_path, capsys):
    from tfimage.cli.main import main
    from tfimage.networks.inpainting import build_inpainting_unet

    keras.utils.set_random_seed(0)
    first = str(tmp_path / "first.keras")
    build_inpainting_unet(1, filters=(4, 8), composite=True).save(first)
    out = str(tmp_path / "refine")
    main(["train", "inpaint", "--data", str(image_folder), "--init", first, "--refinement-stage", "--patch", "32",
          "--batch", "2", "--steps", "2", "--steps-per-epoch", "2", "--validation-images", "2", "--lr", "1e-2",
          "--dtype-policy", "mixed_bfloat16", "--out", out])
    assert "best validation PSNR" in capsys.readouterr().out
    with open(os.path.join(out, "train_config.json")) as stream:
        assert json.load(stream)["refinement_stage"] is True
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    start = keras.saving.load_model(first)
    stage_one = model.get_layer(start.name)
    assert len(stage_one.get_weights()) == len(start.get_weights())
    for before, after in zip(start.get_weights(), stage_one.get_weights()):
        np.testing.assert_array_equal(before, after)  # frozen
    refine = model.get_layer("refine_unet")
    original_conv = training.conv_layers(start)[-1].get_weights()[0]
    assert not np.allclose(refine.get_layer("output_conv").get_weights()[0], 0.1 * original_conv)  # trained
    # The saved cascade keeps stage 1 frozen; --unfreeze trains both stages end to end.
    assert model.trainable and len(model.trainable_weights) == len(refine.trainable_weights)
    joint = str(tmp_path / "joint")
    main(["train", "inpaint", "--data", str(image_folder), "--init", os.path.join(out, "model.keras"), "--unfreeze",
          "--patch", "32", "--batch", "2", "--steps", "2", "--steps-per-epoch", "2", "--validation-images", "2",
          "--lr", "1e-2", "--out", joint])
    with open(os.path.join(joint, "train_config.json")) as stream:
        assert json.load(stream)["unfreeze"] is True
    trained = keras.saving.load_model(os.path.join(joint, "model.keras"))
    assert len(trained.trainable_weights) == len(model.weights)
    for before, after in zip(start.get_weights(), trained.get_layer(start.name).get_weights()):
        assert not np.allclose(before, after)  # stage 1 trained too
    with pytest.raises(ValueError, match="needs task='inpaint' and an init"):
        training.train_restorer(str(image_folder), str(tmp_path / "x"), task="inpaint", refinement_stage=True,
                                steps=1)
    with pytest.raises(ValueError, match="unfreeze .* needs an init"):
        training.train_restorer(str(image_folder), str(tmp_path / "x"), task="inpaint", unfreeze=True, steps=1)


@pytest.mark.parametrize("task, flag", [
    ("denoise", ["--widen-to-color"]), ("denoise", ["--cross-channel"]), ("denoise", ["--color-augment"]),
    ("inpaint", ["--widen-refinement", "1.5"]),
])
def test_experiment_flags_left_the_cli(tmp_path, task, flag, capsys):
    from tfimage.cli.main import main

    noise = ["--sigma", "25"] if task == "denoise" else []
    with pytest.raises(SystemExit) as stop:
        main(["train", task, "--data", str(tmp_path), "--out", str(tmp_path / "out")] + noise + flag)
    assert stop.value.code == 2 and "unrecognized arguments: " + flag[0] in capsys.readouterr().err
    with pytest.raises(ValueError, match="removed from training"):
        training.train_restorer(str(tmp_path), str(tmp_path / "x"), task=task, sigma=25,
                                **{flag[0][2:].replace("-", "_").replace("_to_color", ""): 1.5})


def test_cli_train_denoise_writes_a_versioned_config_of_the_task_options(image_folder, tmp_path, capsys):
    from tfimage.cli.main import main

    out = str(tmp_path / "cli-denoise")
    argv = ["train", "denoise", "--data", str(image_folder), "--arch", "dncnn", "--depth", "3", "--filters", "4",
            "--sigma-range", "10", "40", "--patch", "32", "--batch", "2", "--steps", "2", "--steps-per-epoch", "2",
            "--validation-images", "2", "--out", out]
    assert main(argv) == 0
    with open(os.path.join(out, "train_config.json")) as stream:
        config = json.load(stream)
    assert config["version"] == 2 and config["task"] == "denoise" and config["arch"] == "dncnn"
    assert config["task_options"] == {"sigma": None, "sigma_range": [10.0, 40.0], "validation_sigma": 25}
    capsys.readouterr()
    assert main(argv[:-2] + ["--sigma-range", "10", "50", "--out", out]) == 1
    assert "differs in sigma_range" in capsys.readouterr().err
