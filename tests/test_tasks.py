"""Tests of the task registry (`tfimage.tasks`) and the shared image check (`tfimage.tasks.base`)."""

import numpy as np
import pytest

from tfimage.tasks import TASKS, get_task
from tfimage.tasks.base import MIN_IMAGE_SIZE, Task, check_image


def test_registry_names_every_task_once():
    assert list(TASKS) == ["denoise", "sr", "inpaint", "jpeg", "deblur", "demosaic"]
    for name, task in TASKS.items():
        assert isinstance(task, Task) and task.name == name and get_task(name) is task
        assert get_task(task) is task  # a task object passes through
        assert task.input_name == {
            "denoise": "noise_level", "sr": "scale", "inpaint": "mask", "jpeg": None, "deblur": "kernel",
            "demosaic": None,
        }[name]
        for baseline, entry in task.baselines.items():
            assert entry["factory"]().task == name, baseline
    assert [task.command for task in TASKS.values()] == ["denoise", "upscale", "inpaint", "dejpeg", "deblur", "demosaic"]
    with pytest.raises(ValueError, match="denoise, sr, inpaint, jpeg, deblur, demosaic. Received: task='dehaze'"):
        get_task("dehaze")


def test_check_image_returns_float32_hwc_and_names_what_is_wrong():
    gray = check_image(np.full((9, 10), 2, np.uint8))
    assert gray.shape == (9, 10, 1) and gray.dtype == np.float32 and gray.max() == 2.0
    bad = np.zeros((9, 9, 1), np.float32)
    bad[0, 0] = np.inf
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite.*Received: noisy with 2 non-finite values"):
        check_image(bad, name="noisy")
    with pytest.raises(ValueError, match=rf"at least {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}.*shape=\(7, 30, 3\)"):
        check_image(np.zeros((7, 30, 3)))
    assert check_image(np.zeros((3, 3, 1)), min_size=3).shape == (3, 3, 1)
    with pytest.raises(ValueError, match=r"\(height, width, channels\).*shape=\(1, 8, 8, 1\)"):
        check_image(np.zeros((1, 8, 8, 1)))
