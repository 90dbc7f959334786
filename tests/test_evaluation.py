"""Tests of the evaluation harness (`tfimage.evaluation.evaluate`) across the tasks."""

import json

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from conftest import require_set
from tfimage import degradations, evaluation, io, metrics
from tfimage.tasks import TASKS
from tfimage.tasks.inpainting import masked_psnr
from tfimage.tasks.super_resolution import sr_metrics

OPTIONS = {"denoise": {"sigma": 25}, "sr": {"scale": 2}, "inpaint": {"hole_ratio": 0.25}, "jpeg": {"quality": 20},
           "deblur": {"kernel": "motion:5,0", "noise_level": 2.55}, "demosaic": {}}
FIELDS = {"denoise": ["sigma"], "sr": ["scale"], "inpaint": ["hole_ratio", "kind"], "jpeg": ["quality"],
          "deblur": ["kernel", "noise_level"], "demosaic": []}
EXTRAS = {"denoise": [], "sr": [], "inpaint": ["psnr_hole", "psnr_input"], "jpeg": [], "deblur": [], "demosaic": []}
CHANNELS = {"demosaic": 3}  # the other tasks' tests run on gray images
BASELINES = {"denoise": "noisy", "sr": "bicubic", "inpaint": "telea", "jpeg": "jpeg-input", "deblur": "wiener",
             "demosaic": "bilinear-demosaic"}


def _images(count=3, channels=1):
    rng = np.random.default_rng(0)
    images = []
    grow = 16 if channels == 3 else 0  # demosaicing's score removes a 10-pixel border
    for index in range(count):
        smooth = np.cumsum(np.cumsum(rng.random((24 + grow + 8 * index, 32 + grow, channels)), 0), 1)
        images.append((smooth / smooth.max()).astype(np.float32))
    return images


class Recorder:
    """A baseline of `task` that records the degraded images and inputs it is given (and returns them)."""

    channels = None

    def __init__(self, task, name, noise_level_input=False):
        self.task, self.name, self.noise_level_input = task, name, noise_level_input
        self.seen = []

    def predict_image(self, image, **inputs):
        self.seen.append((image.copy(), inputs))
        scale = inputs.get("scale") or 1
        if self.task == "demosaic":  # a mosaic in, an RGB image out
            image = np.repeat(image, 3, axis=2)
        return np.clip(np.repeat(np.repeat(image, scale, axis=0), scale, axis=1), 0, 1)


def _independent_degradation(task, clean, seed):
    """The degraded image and inputs of `task`, written out from `tfimage.degradations`."""
    if task == "denoise":
        return degradations.gaussian_noise(clean, 25 / 255, seed=seed).numpy(), {"noise_level": 25 / 255}
    if task == "sr":
        hr = clean[: clean.shape[0] // 2 * 2, : clean.shape[1] // 2 * 2]
        return degradations.bicubic_downsample(hr, 2).numpy(), {"scale": 2}
    if task == "jpeg":
        return degradations.jpeg_compress(np.round(clean * 255) / 255, 20).numpy(), {}
    if task == "deblur":
        from scipy import ndimage

        from tfimage import kernels

        kernel = kernels.from_spec("motion:5,0")
        blurred = np.stack([ndimage.convolve(clean[..., c], kernel, mode="wrap") for c in range(clean.shape[2])], 2)
        return degradations.gaussian_noise(blurred, 2.55 / 255, seed=seed).numpy(), {"kernel": kernel,
                                                                                    "noise_level": 2.55 / 255}
    if task == "demosaic":
        from tfimage import operators

        return operators.mosaic(clean), {}
    mask = degradations.random_mask(clean.shape[0], clean.shape[1], 0.25, seed=seed)
    return clean * (1 - mask), {"mask": mask}


def _tiny_model(task):
    keras = pytest.importorskip("keras")
    from tfimage.networks.dncnn import build_dncnn
    from tfimage.networks.espcn import build_espcn
    from tfimage.networks.unet import build_unet

    keras.utils.set_random_seed(0)
    if task == "denoise":
        return build_dncnn(depth=3, filters=4, channels=1)
    if task == "sr":
        return build_espcn(2, channels=1, filters=(4, 4))
    if task in ("jpeg", "deblur"):  # deblur: a denoiser inside the plug-and-play solver
        return build_dncnn(depth=3, filters=4, channels=1)
    if task == "demosaic":
        return build_dncnn(depth=3, filters=4, channels=3)
    return build_unet(1, filters=(4, 8), extra_inputs=1)


@pytest.mark.parametrize("task", list(TASKS))
def test_results_have_one_shape_for_every_task(task):
    baseline = BASELINES[task]
    result = evaluation.evaluate(baseline, _images(2, CHANNELS.get(task, 1)), task=task, **OPTIONS[task])
    assert list(result) == [
        "model", "dataset", "task", *FIELDS[task], "images", "psnr", "ssim", *EXTRAS[task], "seconds_per_image",
        "per_image",
    ]
    assert result["model"] == baseline and result["dataset"] == "custom" and result["task"] == task
    assert result["images"] == len(result["per_image"]) == 2
    for record in result["per_image"]:
        assert list(record)[:3] == ["name", "psnr", "ssim"] and list(record)[-1] == "seconds"
        assert set(EXTRAS[task]) <= set(record)
    assert result["psnr"] == pytest.approx(np.mean([record["psnr"] for record in result["per_image"]]))
    assert json.loads(json.dumps(result)) == result  # plain JSON values
    ensemble = evaluation.evaluate(
        _tiny_model(task), _images(1, CHANNELS.get(task, 1)), task=task, self_ensemble=True, **OPTIONS[task]
    )
    assert list(ensemble) == [
        "model", "dataset", "task", *FIELDS[task], "self_ensemble", "images", "psnr", "ssim", *EXTRAS[task],
        "seconds_per_image", "per_image",
    ]
    assert ensemble["self_ensemble"] == 8


@pytest.mark.parametrize("task", list(TASKS))
def test_every_model_sees_the_same_degraded_images(task):
    images = _images(3, CHANNELS.get(task, 1))
    first, second = Recorder(task, "first"), Recorder(task, "second", noise_level_input=True)
    for recorder in (first, second):
        evaluation.evaluate(recorder, images, task=task, seed=7, **OPTIONS[task])
    assert len(first.seen) == len(second.seen) == 3
    for index, (clean, (one, one_inputs), (other, other_inputs)) in enumerate(zip(images, first.seen, second.seen)):
        degraded, inputs = _independent_degradation(task, clean, (7, index))
        tolerance = 1e-6 if task == "deblur" else 0.0  # (an FFT against scipy's direct convolution)
        np.testing.assert_allclose(one, degraded, atol=tolerance, rtol=0)
        np.testing.assert_allclose(other, degraded, atol=tolerance, rtol=0)
        assert set(one_inputs) == set(other_inputs) == set(inputs)
        for key, value in inputs.items():
            np.testing.assert_allclose(one_inputs[key], value, rtol=1e-7)
            np.testing.assert_allclose(other_inputs[key], value, rtol=1e-7)
    # A Keras model is scored on the same images: its per-image scores are those of the images above.
    from tfimage.inference import restore

    model = _tiny_model(task)
    result = evaluation.evaluate(model, images, task=task, seed=7, **OPTIONS[task])
    for index, (clean, record) in enumerate(zip(images, result["per_image"])):
        degraded, inputs = _independent_degradation(task, clean, (7, index))
        restored = restore(model, degraded, task=task, **inputs)
        if task == "sr":
            expected = sr_metrics(clean[: clean.shape[0] // 2 * 2, : clean.shape[1] // 2 * 2], restored, 2)[0]
        elif task == "jpeg":  # the 8-bit Y against the restored image rounded to 8 bits
            expected = float(metrics.psnr(np.round(clean * 255) / 255, np.round(restored * 255) / 255))
        elif task == "deblur":  # the restored image rounded to 8 bits
            expected = float(metrics.psnr(clean, np.round(restored * 255) / 255))
        elif task == "demosaic":  # rounded to 8 bits, a 10-pixel border removed
            expected = float(metrics.psnr(clean, np.round(restored * 255) / 255, border=10))
        else:
            expected = float(metrics.psnr(clean, restored))
        # (deblurring: the FFT's float rounding can flip a pixel's 8-bit value)
        assert record["psnr"] == pytest.approx(expected, abs=1e-3 if task == "deblur" else 1e-5)
        if task == "inpaint":
            assert record["psnr_hole"] == pytest.approx(masked_psnr(clean, restored, inputs["mask"]), abs=1e-5)
    other_seed = Recorder(task, "third")
    evaluation.evaluate(other_seed, images, task=task, seed=8, **OPTIONS[task])
    if task not in ("sr", "jpeg", "demosaic"):  # (bicubic downsampling, JPEG and the mosaic draw no random numbers)
        assert not np.array_equal(other_seed.seen[0][0], first.seen[0][0])


@pytest.mark.data
def test_noisy_floor_matches_an_independent_computation():
    paths = io.list_images(require_set("set12"))[:3]
    result = evaluation.evaluate("noisy", "set12", sigma=25, limit=3, seed=0)
    assert result["images"] == 3 and result["model"] == "noisy" and result["dataset"] == "set12"
    expected = []
    for index, path in enumerate(paths):
        clean = io.read_image(path)
        noisy = degradations.gaussian_noise(clean, 25 / 255, seed=(0, index)).numpy()
        expected.append(peak_signal_noise_ratio(clean, np.clip(noisy, 0, 1), data_range=1))
    assert abs(result["psnr"] - np.mean(expected)) < 1e-3


@pytest.mark.data
def test_every_model_sees_the_same_noise():
    require_set("set12")
    first = evaluation.evaluate("noisy", "set12", sigma=15, limit=2, seed=3)
    second = evaluation.evaluate("noisy", "set12", sigma=15, limit=2, seed=3)
    other = evaluation.evaluate("noisy", "set12", sigma=15, limit=2, seed=4)
    assert first["psnr"] == second["psnr"] != other["psnr"]


@pytest.mark.data
def test_nlm_beats_the_floor_on_real_images():
    require_set("set12")
    floor = evaluation.evaluate("noisy", "set12", sigma=25, limit=2)
    nlm = evaluation.evaluate("nlm", "set12", sigma=25, limit=2)
    assert nlm["psnr"] > floor["psnr"] + 6
    assert nlm["ssim"] > floor["ssim"]


@pytest.mark.data
def test_evaluation_gives_every_inpainting_model_the_same_masks():
    from tfimage.baselines import NavierStokes

    require_set("cbsd68")
    telea = evaluation.evaluate("telea", "cbsd68", task="inpaint", hole_ratio=0.25, limit=2)
    ns = evaluation.evaluate(NavierStokes(), "cbsd68", task="inpaint", hole_ratio=0.25, limit=2)
    assert telea["images"] == ns["images"] == 2
    for one, other in zip(telea["per_image"], ns["per_image"]):
        assert one["psnr_input"] == other["psnr_input"]
        assert abs(one["hole_fraction"] - 0.25) <= 0.0125
    assert telea["psnr_hole"] > telea["psnr_input"] + 5
    assert telea["psnr"] > telea["psnr_hole"]  # known pixels are exact
    other_seed = evaluation.evaluate("telea", "cbsd68", task="inpaint", hole_ratio=0.25, limit=1, seed=1)
    assert other_seed["per_image"][0]["psnr_input"] != telea["per_image"][0]["psnr_input"]


@pytest.mark.data
def test_bicubic_set5_is_close_to_the_published_numbers():
    require_set("set5")
    published = TASKS["sr"].baselines["bicubic"]["published"]["set5"]
    for scale in (2, 4):
        result = evaluation.evaluate("bicubic", "set5", task="sr", scale=scale)
        assert result["images"] == 5 and result["scale"] == scale
        # TF's antialiased bicubic instead of MATLAB imresize: close, not identical.
        assert abs(result["psnr"] - published[scale]) < 0.3


@pytest.mark.parametrize("sigma", [-1, 300])
def test_bad_sigma_is_refused(sigma):
    images = [np.full((16, 16, 1), 0.5, np.float32)]  # no data set needed to refuse the noise level
    with pytest.raises(ValueError, match=f"sigma={sigma}"):
        evaluation.evaluate("noisy", images, sigma=sigma)


def test_bad_options_are_refused_by_name():
    images = [np.full((16, 16, 1), 0.5, np.float32)]
    with pytest.raises(ValueError, match="sigma=None"):
        evaluation.evaluate("noisy", images)
    with pytest.raises(ValueError, match="scale=None"):
        evaluation.evaluate("bicubic", images, task="sr")
    with pytest.raises(ValueError, match="takes the options sigma, blind. Received: scale=2"):
        evaluation.evaluate("noisy", images, sigma=25, scale=2)  # another task's option
    with pytest.raises(ValueError, match="task='dehaze'"):
        evaluation.evaluate("noisy", images, task="dehaze")
    with pytest.raises(ValueError, match="'denoise' task, not 'inpaint'. Received: model=nlm"):
        evaluation.evaluate("nlm", images, task="inpaint")


def test_unknown_model_names_it():
    with pytest.raises(ValueError, match="name='dncnn-s99'"):
        evaluation.evaluate("dncnn-s99", "set12", sigma=25)
