import os

from tfimage.cli.main import main
from tfimage.networks.ffdnet import build_ffdnet


def test_demo_runs_offline_and_writes_the_comparison(tmp_path, monkeypatch, capsys):
    models = tmp_path / "models"
    models.mkdir()
    build_ffdnet(channels=1, depth=3, filters=4, residual=True).save(str(models / "tfimage-gray-blind.keras"))
    monkeypatch.setenv("TFIMAGE_MODELS_DIR", str(models))
    out = tmp_path / "demo.png"
    assert main(["demo", "-o", str(out), "--models", "tfimage-gray-blind", "nlm"]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.split()}
    assert abs(float(rows["noisy"][0]) - 20.2) < 0.3  # sigma 25 on camera
    assert float(rows["nlm"][0]) > float(rows["noisy"][0]) + 5
    assert "tfimage-gray-blind" in rows
    assert "estimated sigma 2" in text
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_demo_without_the_model_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TFIMAGE_MODELS_DIR", str(tmp_path))
    assert main(["demo", "-o", str(tmp_path / "d.png"), "--models", "tfimage-gray-blind"]) == 1
    assert "docs/models.md" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "d.png")
