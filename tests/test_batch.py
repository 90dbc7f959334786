"""Tests of `tfimage batch` (`tfimage.batch`, `tfimage.cli.batch`) on Beam's DirectRunner with tiny images."""

import os
import sys

import numpy as np
import pytest

beam = pytest.importorskip("apache_beam", reason="tfimage batch needs Apache Beam: pip install tfimage[beam]")

from tfimage import batch, io  # noqa: E402
from tfimage.cli.main import main  # noqa: E402

NAMES = ("a.png", "b.png", "c.png")


def _files(folder):
    return sorted(name for name in os.listdir(folder))


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Three noisy tiny images (two sizes), a truncated PNG, a text file named .png and a tiny color model."""
    from tfimage.networks.dncnn import build_dncnn

    root = tmp_path_factory.mktemp("archive")
    folder = root / "in"
    rng = np.random.default_rng(0)
    for index, name in enumerate(NAMES):
        shape = (40, 48, 3) if index < 2 else (32, 40, 3)
        io.write_image(folder / name, rng.random(shape).astype(np.float32))
    good = (folder / "a.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "notes.png").write_bytes(b"not an image\n")
    model_path = root / "tiny.keras"
    build_dncnn(depth=3, filters=4, channels=3).save(model_path)
    return root, folder, str(model_path)


@pytest.fixture(scope="module")
def job(archive):
    """The batch job over the archive (in-memory DirectRunner) and the `tfimage denoise` outputs of the same files."""
    root, folder, model = archive
    out = root / "beam"
    result = batch.restore_files("denoise", model, str(folder / "*.png"), str(out), options={"sigma": 25},
                                 direct_running_mode="in_memory")
    reference = root / "cli"
    assert main(["denoise", *(str(folder / name) for name in NAMES), "-o", str(reference), "--model", model,
                 "--sigma", "25"]) == 0
    return result, out, reference


def test_outputs_are_the_bytes_of_tfimage_denoise(job):
    _, out, reference = job
    for name in NAMES:
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_dead_letters_manifest_and_metrics(job, archive):
    result, out, _ = job
    _, folder, model = archive
    assert _files(out) == sorted([*NAMES, batch.MANIFEST_NAME, batch.DEAD_LETTERS_NAME])
    dead = batch.read_json_lines(out / batch.DEAD_LETTERS_NAME)
    assert [os.path.basename(record["input"]) for record in dead] == ["notes.png", "truncated.png"]
    assert all(record["stage"] == "read" for record in dead)
    assert "Not an image file" in dead[0]["reason"] and "truncated or corrupt" in dead[1]["reason"]

    manifest = batch.read_json_lines(out / batch.MANIFEST_NAME)
    assert [os.path.basename(line["input"]) for line in manifest] == sorted([*NAMES, "notes.png", "truncated.png"])
    by_name = {os.path.basename(line["input"]): line for line in manifest}
    for name in NAMES:
        line = by_name[name]
        assert line["status"] == "done" and line["model"] == model and line["seconds"] > 0
        assert os.path.abspath(line["output"]) == os.path.abspath(out / name)
    for name in ("notes.png", "truncated.png"):
        assert by_name[name]["status"] == "failed" and by_name[name]["output"] is None and by_name[name]["reason"]

    summary = batch.summarize_metrics(result)
    assert summary["images_done"] == 3 and summary["images_failed"] == 2 and summary["images_skipped"] == 0
    assert summary["pixels"] == 2 * 40 * 48 + 32 * 40
    assert summary["milliseconds_per_image"]["count"] == 3


def test_skip_existing_resumes_without_redoing_or_temporaries(archive, tmp_path):
    root, folder, model = archive
    out = tmp_path / "out"
    out.mkdir()
    # What a killed job leaves: one finished output and a temporary file of an unfinished one.
    io.write_image(out / "a.png", np.zeros((40, 48, 3), np.float32))
    done_before = (out / "a.png").stat()
    (out / ".b.png.tmp-0123abcd").write_bytes(b"partial")
    inputs = [str(folder / name) for name in NAMES]
    batch.restore_files("denoise", model, inputs, str(out), options={"sigma": 25}, skip_existing=True,
                        direct_running_mode="in_memory")
    assert _files(out) == sorted([*NAMES, batch.MANIFEST_NAME, batch.DEAD_LETTERS_NAME])
    assert (out / "a.png").stat().st_mtime_ns == done_before.st_mtime_ns  # not redone
    assert (out / "b.png").read_bytes() == (root / "cli" / "b.png").read_bytes()
    status = {os.path.basename(line["input"]): line["status"] for line in batch.read_json_lines(out / batch.MANIFEST_NAME)}
    assert status == {"a.png": "skipped", "b.png": "done", "c.png": "done"}

    # A second re-run through the CLI does nothing, writes no temporary file and exits 0.
    stamps = {name: (out / name).stat().st_mtime_ns for name in NAMES}
    assert main(["batch", "denoise", "--model", model, "--sigma", "25", "--input", *inputs, "--output", str(out),
                 "--skip-existing", "--direct-running-mode", "in_memory"]) == 0
    assert {name: (out / name).stat().st_mtime_ns for name in NAMES} == stamps
    assert _files(out) == sorted([*NAMES, batch.MANIFEST_NAME, batch.DEAD_LETTERS_NAME])
    assert {line["status"] for line in batch.read_json_lines(out / batch.MANIFEST_NAME)} == {"skipped"}
    assert batch.read_json_lines(out / batch.DEAD_LETTERS_NAME) == []


def test_cli_exits_0_and_warns_with_the_failed_files(archive, tmp_path, capsys):
    _, folder, _ = archive
    out = tmp_path / "out"
    status = main(["batch", "denoise", "--model", "noisy", "--input", str(folder / "*.png"), "--output", str(out),
                   "--direct-running-mode", "in_memory", "--", "--direct_num_workers=1"])
    captured = capsys.readouterr()
    assert status == 0
    assert "3 images done, 2 failed, 0 skipped" in captured.out
    warning = [line for line in captured.err.splitlines() if "warning" in line]
    assert len(warning) == 1 and "notes.png" in warning[0] and "truncated.png" in warning[0]
    for name in NAMES:  # the identity baseline writes the input's pixels back
        np.testing.assert_array_equal(io.read_image(out / name), io.read_image(folder / name))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"runner": "yarn"}, "runner='yarn'"),
        ({"options": {"sigma": 25, "quality": 10}}, "quality=10"),
        ({"options": {"sigma": -1}}, "sigma"),
        ({"direct_num_workers": 0}, "direct_num_workers=0"),
        ({"inputs": "/nonexistent/*.png"}, "input='/nonexistent/*.png'"),
    ],
)
def test_bad_arguments_are_refused_before_the_job(archive, tmp_path, kwargs, message):
    _, folder, _ = archive
    call = {"task": "denoise", "model": "noisy", "inputs": str(folder / "a.png"), "output_dir": str(tmp_path / "o"),
            "options": {"sigma": 25}, **kwargs}
    with pytest.raises(ValueError, match="Received:.*" + message.replace("(", r"\(").replace("*", r"\*")
                       .replace(".", r"\.")):
        batch.restore_files(**call)
    assert not (tmp_path / "o" / batch.MANIFEST_NAME).exists()


def test_an_output_never_overwrites_an_input(archive):
    _, folder, _ = archive
    with pytest.raises(ValueError, match="overwrite an input"):
        batch.restore_files("denoise", "noisy", str(folder / "a.png"), str(folder))


def test_inpainting_needs_its_mask():
    from tfimage.tasks import get_task

    with pytest.raises(ValueError, match="mask=None"):
        batch.task_options(get_task("inpaint"), {})
    assert batch.task_options(get_task("denoise"), {}) == {"sigma": None}


def test_missing_beam_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "apache_beam", None)
    with pytest.raises(ImportError, match=r"pip install tfimage\[beam\]"):
        batch.import_beam()


def test_the_handler_pickles_by_name_and_restores(archive):
    import pickle

    _, folder, model = archive
    handler = batch.TfimageModelHandler("denoise", model, {"sigma": 25})
    assert pickle.loads(pickle.dumps(handler)).__class__ is batch.TfimageModelHandler
    image = io.read_image(folder / "a.png")
    results = handler.run_inference([{"input": "a", "output": "o", "image": image},
                                     {"input": "tiny", "output": "t", "image": image[:4, :4]}], handler.load_model())
    assert results[0]["restored"].shape == image.shape and "error" not in results[0]
    assert "at least 8x8" in results[1]["error"] and "restored" not in results[1]
    assert handler.get_num_bytes([{"image": image}]) == image.nbytes
    assert handler.batch_elements_kwargs() == {"min_batch_size": 1, "max_batch_size": 1}


def test_one_worker_runs_in_this_process_unless_a_mode_is_given(archive, tmp_path, monkeypatch):
    from tfimage import zoo

    assert batch.default_running_mode(1) == "in_memory"
    assert batch.default_running_mode(2) == "multi_processing"
    _, folder, model = archive
    loaded = []
    real_load = zoo.load
    monkeypatch.setattr(zoo, "load", lambda name, **kwargs: loaded.append(name) or real_load(name, **kwargs))
    batch.restore_files("denoise", model, str(folder / "a.png"), str(tmp_path / "out"), options={"sigma": 25},
                        progress=False)
    assert loaded == [model]  # the handler loaded the model here, in the launching process
    assert _files(tmp_path / "out") == ["a.png", "dead_letters.jsonl", "manifest.jsonl"]


def test_handler_batches_same_size_images_and_isolates_a_bad_one(archive):
    from tfimage.tasks import get_task

    _, folder, model_path = archive
    batch._define_beam_classes()
    handler = batch.TfimageModelHandler("denoise", model_path, batch.task_options(get_task("denoise"), {"sigma": 25}),
                                        batch_size=4)
    assert handler.batch_elements_kwargs()["max_batch_size"] == 4
    model = handler.load_model()
    images = [io.read_image(folder / name) for name in NAMES]
    bad = images[0].copy()
    bad[0, 0, 0] = np.nan
    elements = [{"input": name, "output": name, "image": image} for name, image in zip(NAMES, images)]
    expected = [get_task("denoise").restore(model, image, noise_level=25 / 255) for image in images]
    results = handler.run_inference(elements, model)  # a.png and b.png share a size: one network batch
    for result, wanted in zip(results, expected):
        np.testing.assert_array_equal(result["restored"], wanted)
        assert result["seconds"] > 0 and "image" not in result
    # Three images of one size, one with a NaN: the batch fails, each image is then run alone.
    results = handler.run_inference(elements[:2] + [dict(elements[2], image=bad)], model)
    np.testing.assert_array_equal(results[0]["restored"], expected[0])
    np.testing.assert_array_equal(results[1]["restored"], expected[1])
    assert "restored" not in results[2] and "NaN" in results[2]["error"]
    with pytest.raises(ValueError, match="batch_size=0"):
        batch.TfimageModelHandler("denoise", model_path, {}, batch_size=0)


class _ObjectStore:
    """A bucket-like Beam FileSystem (scheme memtest://, no folders) over a dict, for the remote-path code."""

    objects = {}
    writes = []

    @classmethod
    def filesystem(cls):
        import io as stdio

        from apache_beam.io.filesystem import BeamIOError, FileMetadata, FileSystem

        store = cls

        class _Writer(stdio.BytesIO):
            def __init__(self, path):
                super().__init__()
                self.path = path

            def close(self):
                store.objects[self.path] = self.getvalue()
                store.writes.append(self.path)
                super().close()

        class MemTestFileSystem(FileSystem):
            @classmethod
            def scheme(cls):
                return "memtest"

            def join(self, basepath, *paths):
                return "/".join([basepath.rstrip("/"), *(path.strip("/") for path in paths)])

            def split(self, path):
                head, _, tail = path.rpartition("/")
                return head, tail

            def mkdirs(self, path):
                pass

            def has_dirs(self):
                return False

            def _list(self, prefix):
                for path, data in sorted(store.objects.items()):
                    if path.startswith(prefix):
                        yield FileMetadata(path, len(data))

            def create(self, path, mime_type="application/octet-stream", compression_type=None):
                return _Writer(path)

            def open(self, path, mime_type="application/octet-stream", compression_type=None):
                if path not in store.objects:
                    raise BeamIOError(f"no object {path}")
                return stdio.BytesIO(store.objects[path])

            def copy(self, sources, destinations):
                for source, destination in zip(sources, destinations):
                    store.objects[destination] = store.objects[source]

            def rename(self, sources, destinations):
                for source, destination in zip(sources, destinations):
                    store.objects[destination] = store.objects.pop(source)

            def exists(self, path):
                return path in store.objects or any(key.startswith(path.rstrip("/") + "/") for key in store.objects)

            def size(self, path):
                return len(store.objects[path])

            def last_updated(self, path):
                return 0.0

            def checksum(self, path):
                return str(hash(store.objects[path]))

            def metadata(self, path):
                return FileMetadata(path, len(store.objects[path]))

            def delete(self, paths):
                for path in paths:
                    store.objects.pop(path, None)

        return MemTestFileSystem


def test_remote_paths_go_through_beam_filesystems(job, archive):
    """Inputs and outputs at a URL (as gs:// or s3:// would be) give the bytes of the local job and resume the same."""
    root, folder, model = archive
    filesystem = _ObjectStore.filesystem()  # a FileSystem subclass is found by its scheme once defined
    try:
        for name in os.listdir(folder):
            _ObjectStore.objects[f"memtest://bucket/in/{name}"] = (folder / name).read_bytes()
        _ObjectStore.objects["memtest://bucket/out/.b.png.tmp-0123abcd"] = b"partial"  # left by a killed job
        batch.restore_files("denoise", model, "memtest://bucket/in/*.png", "memtest://bucket/out",
                            options={"sigma": 25}, direct_running_mode="in_memory")
        written = sorted(path for path in _ObjectStore.objects if path.startswith("memtest://bucket/out/"))
        assert written == sorted(f"memtest://bucket/out/{name}"
                                 for name in [*NAMES, batch.MANIFEST_NAME, batch.DEAD_LETTERS_NAME])
        for name in NAMES:
            assert _ObjectStore.objects[f"memtest://bucket/out/{name}"] == (root / "cli" / name).read_bytes(), name
        dead = batch.read_json_lines("memtest://bucket/out/" + batch.DEAD_LETTERS_NAME)
        assert [record["input"] for record in dead] == ["memtest://bucket/in/notes.png", "memtest://bucket/in/truncated.png"]
        manifest = batch.read_json_lines("memtest://bucket/out/" + batch.MANIFEST_NAME)
        assert {line["output"] for line in manifest if line["status"] == "done"} == {
            f"memtest://bucket/out/{name}" for name in NAMES}

        _ObjectStore.writes.clear()
        batch.restore_files("denoise", model, "memtest://bucket/in/*.png", "memtest://bucket/out",
                            options={"sigma": 25}, skip_existing=True, direct_running_mode="in_memory")
        assert not [path for path in _ObjectStore.writes if ".png" in path]  # no image (nor its temporary) written again
        status = {line["input"].rsplit("/", 1)[1]: line["status"]
                  for line in batch.read_json_lines("memtest://bucket/out/" + batch.MANIFEST_NAME)}
        assert status == {**dict.fromkeys(NAMES, "skipped"), "notes.png": "failed", "truncated.png": "failed"}
    finally:
        _ObjectStore.objects.clear()
        del filesystem
