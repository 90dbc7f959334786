import time

from conftest import require_set
from tfimage.cli.main import main


def test_datasets_lists_counts_and_missing_sets(capsys):
    require_set("set12")
    start = time.monotonic()
    assert main(["datasets"]) == 0
    elapsed = time.monotonic() - start
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    for name, count in {"set12": 12, "bsd68": 68, "cbsd68": 68, "kodak24": 24, "train400": 400, "set5": 5, "mnist": 10000}.items():
        assert lines[name].split()[1] == str(count), lines[name]
    assert "training images are not available" in lines["mnist"]
    for name in ("mcmaster", "set14"):
        assert "not available" in lines[name] and "TFIMAGE_DATA_DIR" in lines[name]
    assert elapsed < 10
