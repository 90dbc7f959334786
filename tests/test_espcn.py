"""Tests of the ESPCN super-resolution network (`tfimage.networks.espcn`)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tfimage import zoo  # noqa: E402
from tfimage.inference import restore  # noqa: E402
from tfimage.networks.espcn import build_espcn  # noqa: E402
from tfimage.tasks import super_resolution  # noqa: E402


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_espcn_upscales_by_its_scale(scale):
    model = build_espcn(scale, channels=3, filters=(8, 4))
    output = np.asarray(model(np.random.default_rng(0).random((2, 7, 9, 3), dtype=np.float32)))
    assert output.shape == (2, 7 * scale, 9 * scale, 3)
    assert super_resolution.model_scale(model) == scale
    assert [layer.kernel_size for layer in model.layers if isinstance(layer, keras.layers.Conv2D)] == [
        (5, 5), (3, 3), (3, 3)
    ]


def test_espcn_trains_with_the_restorer_and_round_trips(tmp_path):
    from tfimage.datasets import pipelines
    from tfimage.models.restorer import Restorer

    images = [np.random.default_rng(i).random((40, 40, 3), dtype=np.float32) for i in range(2)]
    dataset = pipelines.restoration_dataset(
        images, super_resolution.TASK.training_degradation(2), patch_size=32, batch_size=2, channels=3
    )
    (low, high) = next(iter(dataset))
    assert low.shape == (2, 16, 16, 3) and high.shape == (2, 32, 32, 3)
    network = build_espcn(2, filters=(8, 4))
    restorer = Restorer(network)
    restorer.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = restorer.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["psnr"][0])
    path = str(tmp_path / "espcn.keras")
    network.save(path)
    loaded = zoo.load(path)
    lr = images[0][:10, :12]
    np.testing.assert_allclose(
        restore(loaded, lr, task="sr", scale=2), restore(restorer, lr, task="sr", scale=2), atol=1e-6
    )
