import hashlib
import os
import time

import pytest

from tfimage.datasets import catalogue


def _fake_set(root, name):
    spec = catalogue.get_spec(name)
    folder = os.path.join(root, spec["folder"])
    os.makedirs(folder)
    for file_name in spec["files"]:
        open(os.path.join(folder, file_name), "wb").close()
    return folder


def test_resolution_order(tmp_path, isolated_cache, monkeypatch):
    explicit = _fake_set(tmp_path / "explicit", "set5")
    from_env = _fake_set(tmp_path / "env", "set5")
    cached = _fake_set(isolated_cache, "set5")
    monkeypatch.setenv("TFIMAGE_DATA_DIR", str(tmp_path / "env"))
    assert catalogue.locate("set5", data_dir=tmp_path / "explicit") == explicit
    assert catalogue.locate("set5") == from_env
    monkeypatch.delenv("TFIMAGE_DATA_DIR")
    assert catalogue.locate("set5") == cached


def test_incomplete_folder_is_not_used(tmp_path, isolated_cache):
    folder = _fake_set(tmp_path, "set12")
    os.remove(os.path.join(folder, "05.png"))
    assert catalogue.find_local("set12", data_dir=tmp_path) is None


def test_offline_download_fails_fast_with_instructions(isolated_cache, monkeypatch):
    # A closed local port stands in for "no network": nothing leaves this machine.
    monkeypatch.setitem(catalogue.CATALOGUE["set12"], "url", "http://127.0.0.1:9/{name}")
    start = time.monotonic()
    with pytest.raises(FileNotFoundError, match="set12.*TFIMAGE_DATA_DIR"):
        catalogue.locate("set12")
    assert time.monotonic() - start < 10
    assert not os.path.exists(os.path.join(isolated_cache, "Set12", "01.png"))


def test_no_download_when_told_not_to(isolated_cache):
    with pytest.raises(FileNotFoundError, match="mcmaster"):
        catalogue.locate("mcmaster", download=False)


def test_download_checks_sha256(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"tfimage")
    good = hashlib.sha256(b"tfimage").hexdigest()
    target = tmp_path / "out" / "file.bin"
    catalogue.download_file(source.as_uri(), str(target), sha256=good)
    assert target.read_bytes() == b"tfimage"
    with pytest.raises(OSError, match="sha256 mismatch"):
        catalogue.download_file(source.as_uri(), str(tmp_path / "out" / "bad.bin"), sha256="0" * 64)
    assert sorted(os.listdir(tmp_path / "out")) == ["file.bin"]  # nothing half-written


def test_every_set_has_a_source_and_sums_where_recorded():
    for name in catalogue.CATALOGUE:
        spec = catalogue.get_spec(name)
        assert spec.get("url") or spec.get("archive"), name
        if spec.get("url"):
            assert spec["files"], f"{name} has per-file URLs but no recorded sha256 sums"
            assert all(len(digest) == 64 for digest in spec["files"].values())


def test_unknown_set_names_it():
    with pytest.raises(ValueError, match="name='imagenet'"):
        catalogue.locate("imagenet")
