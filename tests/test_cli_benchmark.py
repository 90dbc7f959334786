import json

from tfimage.cli import benchmark
from tfimage.cli.main import main


def test_cells_put_models_where_they_belong():
    found = list(benchmark.cells())
    assert ("dncnn-s25", "bsd68", 25) in found and ("dncnn-s25", "bsd68", 15) not in found
    assert not any(name == "dncnn-b" and dataset == "cbsd68" for name, dataset, _ in found)  # gray only
    assert ("cdncnn-b", "cbsd68", 25) in found
    assert [cell[0] for cell in found[-3:]] == ["bm3d"] * 3  # the slow baseline last


def test_render_only_writes_tables_ratios_and_the_readme(tmp_path, capsys):
    cell = {"images": 68, "ssim": 0.8, "model": "x", "dataset": "bsd68", "sigma": 25}
    results = {
        "bm3d|bsd68|25|all": dict(cell, psnr=28.57, seconds_per_image=6.0),
        "ffdnet-gray|bsd68|25|all": dict(cell, psnr=29.19, seconds_per_image=0.5),
    }
    (tmp_path / "denoise.json").write_text(json.dumps(results))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{benchmark.README_BEGIN}\nold\n{benchmark.README_END}\noutro\n")
    out = tmp_path / "denoise.md"
    assert main(["benchmark", "denoise", "--render-only", "--out", str(out), "--readme", str(readme)]) == 0
    table = out.read_text()
    assert "| ffdnet-gray | 29.19 | 29.19 | 0.8000 | 0.50 | 12.0x |" in table  # published beside ours
    assert "| bm3d | 28.57 | 28.57 |" in table
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "12.0x" in text
