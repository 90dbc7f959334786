import os
import subprocess
import sys
import time

import pytest
from conftest import require_set
from tfimage.cli.main import main


@pytest.mark.data
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


def _python(code, **env):
    environment = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=300)


def test_the_command_line_starts_without_tensorflow():
    # Building the parser imports every command module: none may load TensorFlow at the top.
    done = _python(
        "import sys; from tfimage.cli.main import build_parser, main; build_parser(); main(['datasets']); "
        "print('loaded:', sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "loaded: []", done.stdout


@pytest.mark.slow
def test_train_turns_onednn_on_unless_told_otherwise(tmp_path):
    # TensorFlow enables oneDNN by itself only on some Intel CPUs; `tfimage train` asks for it.
    (tmp_path / "empty").mkdir()
    code = (
        "import os; from tfimage.cli.main import main; "
        f"status = main(['train', 'denoise', '--data', {str(tmp_path / 'empty')!r}, '--sigma', '25', '--steps', '1', "
        f"'--out', {str(tmp_path / 'run')!r}]); print('status', status, os.environ['TF_ENABLE_ONEDNN_OPTS'])"
    )
    default = _python(code, TF_CPP_MIN_LOG_LEVEL="0")
    assert default.stdout.splitlines()[-1] == "status 1 1", default.stdout + default.stderr
    assert "oneDNN custom operations are on" in default.stderr
    assert "empty" in default.stderr  # the empty training folder is named
    told = _python(code, TF_CPP_MIN_LOG_LEVEL="0", TF_ENABLE_ONEDNN_OPTS="0")
    assert told.stdout.splitlines()[-1] == "status 1 0", told.stdout + told.stderr
    assert "oneDNN custom operations are on" not in told.stderr
