import json

import pytest

from tfimage.cli import benchmark
from tfimage.cli.main import main


def test_cells_put_models_where_they_belong():
    found = list(benchmark.cells())
    assert ("dncnn-s25", "bsd68", 25) in found and ("dncnn-s25", "bsd68", 15) not in found
    assert not any(name == "dncnn-b" and dataset == "cbsd68" for name, dataset, _ in found)  # gray only
    assert ("cdncnn-b", "cbsd68", 25) in found
    assert [cell[0] for cell in found[-3:]] == ["bm3d"] * 3  # the slow baseline last


@pytest.fixture
def results(tmp_path):
    cell = {"images": 68, "ssim": 0.8, "dataset": "bsd68", "sigma": 25, "task": "denoise"}
    stored = {
        "bm3d|bsd68|25|all": dict(cell, model="bm3d", psnr=28.57, seconds_per_image=6.0),
        "ffdnet-gray|bsd68|25|all": dict(cell, model="ffdnet-gray", psnr=29.19, seconds_per_image=0.5),
    }
    (tmp_path / "denoise.json").write_text(json.dumps(stored))
    return tmp_path


def test_render_only_writes_the_tables_and_the_results_doc_but_not_the_readme(results):
    doc = results / "results.md"
    doc.write_text(f"# Results\n\nintro\n\n{benchmark.begin_marker('sr')}\nkept\n{benchmark.end_marker('sr')}\n")
    readme = results / "README.md"
    readme_text = f"intro\n{benchmark.begin_marker('denoise')}\nold\n{benchmark.end_marker('denoise')}\noutro\n"
    readme.write_text(readme_text)
    out = results / "denoise.md"
    args = ["benchmark", "denoise", "--render-only", "--out", str(out), "--results-doc", str(doc)]
    assert main(args) == 0
    table = out.read_text()
    assert "| ffdnet-gray | 29.19 | 29.19 | 0.8000 | 0.50 | 12.0x |" in table  # published beside ours
    assert "| bm3d | 28.57 | 28.57 |" in table
    text = doc.read_text()
    assert text.startswith("# Results\n\nintro\n") and "kept" in text  # the other sections stay
    assert text.count(benchmark.begin_marker("denoise")) == 1 and "### bsd68, sigma 25 (68 images)" in text
    assert readme.read_text() == readme_text  # README only when asked

    assert main(args + ["--readme", str(readme)]) == 0
    assert main(args + ["--readme", str(readme)]) == 0  # idempotent
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "| ffdnet-gray | - | 29.19 (29.19) | - | - |" in text  # compact: one row per model
    assert text.count("| bm3d |") == 1 and doc.read_text().count(benchmark.begin_marker("denoise")) == 1


def test_a_readme_without_markers_is_refused(results, capsys):
    readme = results / "README.md"
    readme.write_text("no markers\n")
    status = main(["benchmark", "denoise", "--render-only", "--out", str(results / "denoise.md"),
                   "--results-doc", "", "--readme", str(readme)])
    assert status == 1 and "markers" in capsys.readouterr().err
    assert readme.read_text() == "no markers\n"
