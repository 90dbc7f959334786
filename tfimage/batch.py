"""Restoring a whole archive of image files on Apache Beam: `restore_files`, the pipeline behind `tfimage batch`.

The pipeline matches the input files (Beam `FileSystems`: local paths,
gs://, s3://, ...), reads and decodes each with `tfimage.io.read_image`,
restores it through `RunInference` with `TfimageModelHandler` (the model is
loaded by `tfimage.zoo.load` once per worker process and run by
`tfimage.inference.restore`, tiled when asked), encodes it with
`tfimage.io.write_image` and moves it into the output folder atomically
(a hidden temporary name, then a rename), so an output file is either
complete or absent. The outputs are the bytes `tfimage denoise|upscale|
inpaint|dejpeg` writes for the same file, model and options.

Beside the outputs the job writes:

- `manifest.jsonl`: one JSON line per input file, sorted by input:
  {"input", "output", "model", "seconds", "status"} with status "done",
  "skipped" (its output already existed, `skip_existing=True`) or "failed"
  (then also "reason");
- `dead_letters.jsonl`: one JSON line per file that could not be read,
  restored or written: {"input", "stage", "reason"}. Such files never stop
  the job.

With `skip_existing=True` a re-run restores only the inputs whose output is
missing, so a killed job resumes where it stopped; temporary files a killed
job left in the output folder are removed when the next job starts.

Beam metrics (namespace `tfimage.batch`): counters `images_done`,
`images_failed`, `images_skipped`, `pixels` (input pixels restored) and the
distribution `milliseconds_per_image` (reading, restoring and writing one
image). `summarize_metrics` turns them into a dict.

Apache Beam is an optional dependency (`pip install tfimage[beam]`); it is
imported when a pipeline is built, not when this module is. The Beam
classes of this module (`TfimageModelHandler` and the DoFns) are created on
first access, so workers unpickle them by name.
"""

import argparse
import json
import os
import tempfile
import threading
import time
import uuid

MANIFEST_NAME = "manifest.jsonl"
DEAD_LETTERS_NAME = "dead_letters.jsonl"
TEMP_MARK = ".tmp-"
METRICS_NAMESPACE = "tfimage.batch"
RUNNERS = {
    "direct": "DirectRunner",
    "dataflow": "DataflowRunner",
    "flink": "FlinkRunner",
    "spark": "SparkRunner",
}
RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")
_BEAM_CLASSES = ("TfimageModelHandler", "ReadImage", "WriteRestored")


def import_beam():
    """The `apache_beam` module, or an ImportError that says how to install it.

    Returns:
        The imported `apache_beam` package.

    Raises:
        ImportError: Apache Beam is not installed.
    """
    try:
        import apache_beam
    except ImportError as error:
        raise ImportError(
            "tfimage batch runs on Apache Beam, which is not installed: pip install tfimage[beam] "
            f"(or pip install apache-beam==2.77.0). Received: {error}"
        ) from error
    return apache_beam


def __getattr__(name):
    """Creates the Beam classes on first access (`tfimage.batch.TfimageModelHandler`, ...)."""
    if name in _BEAM_CLASSES:
        _define_beam_classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------- planning


def _is_local(path):
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.get_scheme(path) in (None, "file")


def match_inputs(inputs):
    """The input files of `inputs` (glob patterns, files or local folders), sorted, without duplicates.

    Args:
        inputs: one pattern or a list of them. A local folder stands for
            its image files (`tfimage.io.list_images`); a pattern is matched
            by Beam `FileSystems` (local, gs://, s3://); hidden files
            (names starting with ".") are left out.

    Returns:
        A sorted list of file paths.

    Raises:
        ValueError: no pattern given, or a pattern that matches no file.
    """
    from apache_beam.io.filesystems import FileSystems

    from tfimage import io

    patterns = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    if not patterns:
        raise ValueError(f"Give at least one input file, folder or glob pattern. Received: inputs={inputs!r}")
    paths = set()
    for pattern in map(os.fspath, patterns):
        if _is_local(pattern) and os.path.isdir(pattern):
            found = io.list_images(pattern)
        else:
            try:
                found = [meta.path for meta in FileSystems.match([pattern])[0].metadata_list]
            except Exception:  # Beam raises BeamIOError for a pattern it cannot list
                found = []
            found = [path for path in found if not os.path.basename(path).startswith(".")]
        if not found:
            raise ValueError(f"No input file matches the pattern. Received: input={pattern!r}")
        paths.update(found)
    return sorted(paths)


def plan_outputs(paths, output_dir, protected=()):
    """Where each input's output goes: OUTPUT_DIR/<input stem>.png.

    Args:
        paths: the input files.
        output_dir: the output folder (local or a FileSystems URL).
        protected: files no output may overwrite (e.g. an inpainting mask).

    Returns:
        A list of output paths, in the order of `paths`.

    Raises:
        ValueError: an output would overwrite an input or a protected file,
            or two inputs would be written to the same output.
    """
    from apache_beam.io.filesystems import FileSystems

    def key(path):
        return os.path.abspath(path) if _is_local(path) else path

    outputs = []
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        outputs.append(FileSystems.join(output_dir, stem + ".png"))
    kept = {key(path) for path in (*paths, *protected)}
    clashes = [output for output in outputs if key(output) in kept]
    if clashes:
        raise ValueError(f"An output would overwrite an input; choose another output folder. Received: output={clashes[0]}")
    seen = {}
    for path, output in zip(paths, outputs):
        if output in seen:
            raise ValueError(
                "Two inputs would be written to the same output; restore them into different folders. "
                f"Received: inputs={seen[output]!r} and {path!r}, output={output!r}"
            )
        seen[output] = path
    return outputs


def task_options(task, options=None):
    """The task's restore options (`task.options_from_args(args, "restore")`) from a dict, defaults filled in.

    Args:
        task: a `tfimage.tasks` Task.
        options: {option: value} with the destinations of the task's restore
            flags (e.g. {"sigma": 25}, {"scale": 4}, {"mask": "mask.png"}).

    Returns:
        The options dict the task's `restore_inputs` takes.

    Raises:
        ValueError: an unknown option, a missing required one, or a bad value.
    """
    parser = argparse.ArgumentParser(add_help=False)
    task.add_options(parser, "restore")
    actions = [action for action in parser._actions if action.dest != argparse.SUPPRESS]
    defaults = {action.dest: action.default for action in actions}
    options = dict(options or {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ValueError(
            f"Unknown option of the {task.name} task. Expected one of {sorted(defaults)}. "
            f"Received: {', '.join(f'{name}={options[name]!r}' for name in unknown)}"
        )
    values = {**defaults, **options}
    missing = [action.dest for action in actions if action.required and values[action.dest] is None]
    if missing:
        raise ValueError(f"The {task.name} task needs the option {missing[0]}. Received: {missing[0]}=None")
    return task.options_from_args(argparse.Namespace(**values), "restore")


def remove_stale_temporaries(output_dir):
    """Deletes the temporary files an interrupted job left in `output_dir`; returns their paths."""
    from apache_beam.io.filesystems import FileSystems

    try:
        found = [meta.path for meta in FileSystems.match([FileSystems.join(output_dir, "." + "*" + TEMP_MARK + "*")])[0].metadata_list]
    except Exception:  # nothing to list yet
        return []
    if found:
        FileSystems.delete(found)
    return found


def existing_files(paths):
    """The subset of `paths` that exist (one listing per folder)."""
    from apache_beam.io.filesystems import FileSystems

    folders = {}
    for path in paths:
        folders.setdefault(path.rpartition("/")[0] if not _is_local(path) else os.path.dirname(path), []).append(path)
    found = set()
    for folder, members in folders.items():
        try:
            listed = {meta.path for meta in FileSystems.match([FileSystems.join(folder, "*.png")])[0].metadata_list}
        except Exception:
            listed = set()
        if _is_local(folder):
            listed = {os.path.abspath(path) for path in listed}
            found.update(path for path in members if os.path.abspath(path) in listed)
        else:
            found.update(path for path in members if path in listed)
    return found


# ---------------------------------------------------------------------- file helpers (run on the workers)


def read_input(path):
    """Reads one input file as `tfimage restore` does: `io.read_image`, RGBA converted to RGB.

    Remote files (gs://, s3://, ...) are copied to a local temporary file first.
    """
    from apache_beam.io.filesystems import FileSystems

    from tfimage import io

    if _is_local(path):
        image = io.read_image(path)
    else:
        handle, local = tempfile.mkstemp(suffix=os.path.splitext(path)[1])
        try:
            with os.fdopen(handle, "wb") as stream, FileSystems.open(path) as source:
                stream.write(source.read())
            image = io.read_image(local)
        finally:
            os.remove(local)
    if image.shape[2] == 4:
        image = io.convert_channels(image, 3, name=path)
    return image


def write_output(path, image, bit_depth=8):
    """Writes one restored image to `path` atomically through Beam FileSystems.

    The PNG bytes are those of `tfimage.io.write_image`; they go to a hidden
    temporary file in the output folder (`.NAME.tmp-XXXXXXXX`), which is then
    renamed to `path`.
    """
    from apache_beam.io.filesystems import FileSystems

    from tfimage import io

    handle, local = tempfile.mkstemp(suffix=".png")
    os.close(handle)
    try:
        io.write_image(local, image, bit_depth=bit_depth)
        with open(local, "rb") as stream:
            data = stream.read()
    finally:
        if os.path.exists(local):
            os.remove(local)
    folder, name = (os.path.split(path) if _is_local(path) else path.rsplit("/", 1))
    temp = FileSystems.join(folder, f".{name}{TEMP_MARK}{uuid.uuid4().hex[:8]}")
    try:
        stream = FileSystems.create(temp, mime_type="image/png")
        try:
            stream.write(data)
        finally:
            stream.close()
        FileSystems.rename([temp], [path])
    except BaseException:
        try:
            FileSystems.delete([temp])
        except Exception:
            pass
        raise
    return path


def _write_json_lines(path, records):
    """Writes JSON lines to `path` atomically (temporary name, then rename)."""
    from apache_beam.io.filesystems import FileSystems

    data = "".join(json.dumps(record) + "\n" for record in records).encode("utf-8")
    folder, name = (os.path.split(path) if _is_local(path) else path.rsplit("/", 1))
    temp = FileSystems.join(folder, f".{name}{TEMP_MARK}{uuid.uuid4().hex[:8]}")
    stream = FileSystems.create(temp, mime_type="application/x-ndjson")
    try:
        stream.write(data)
    finally:
        stream.close()
    FileSystems.rename([temp], [path])


def read_json_lines(path):
    """The records of a JSON-lines file (the manifest or the dead letters), as a list of dicts."""
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(os.fspath(path), compression_type="uncompressed") as stream:
        text = stream.read().decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def manifest_path(output_dir):
    """The manifest of a job's output folder (OUTPUT_DIR/manifest.jsonl)."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.join(os.fspath(output_dir), MANIFEST_NAME)


def dead_letters_path(output_dir):
    """The dead letters of a job's output folder (OUTPUT_DIR/dead_letters.jsonl)."""
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.join(os.fspath(output_dir), DEAD_LETTERS_NAME)


def failed_inputs(output_dir):
    """The input files of a finished job's dead letters, sorted ([] when there is no dead-letter file)."""
    from apache_beam.io.filesystems import FileSystems

    path = dead_letters_path(output_dir)
    if not FileSystems.exists(path):
        return []
    return sorted({record["input"] for record in read_json_lines(path)})


def _reason(error):
    return f"{type(error).__name__}: {error}"


# ---------------------------------------------------------------------- Beam classes


def _define_beam_classes():
    if "TfimageModelHandler" in globals():
        return
    beam = import_beam()
    from apache_beam.ml.inference.base import ModelHandler
    from apache_beam.metrics import Metrics

    class TfimageModelHandler(ModelHandler):
        """A Beam ModelHandler that restores images with any tfimage zoo model, baseline or .keras file.

        Elements are dicts {"input", "output", "image"} (the image a float32
        array from `read_input`); each prediction is the element with
        "restored" (the restored image) or "error" (why it failed) and
        "seconds" (the restore time).

        Args:
            task: the name of a task of `tfimage.tasks.TASKS`.
            model: a name of `tfimage.zoo.load` or the path of a .keras file;
                every worker must be able to load it (docs/batch.md).
            options: the task's restore options (`task_options`).
            tile: tile size in pixels, or None for whole images.
            overlap: tile overlap in pixels.
            self_ensemble: average the x8 views.
            color_symmetries: with `self_ensemble`, the color views too.
            data_dir: where official weights are looked for first.
            threads: TensorFlow intra-op threads per worker process (None:
                TensorFlow's default, all cores).
            batch_size: at most this many images per RunInference call;
                images of one size in a call run as one network batch where
                the task can (`Task.restore_batch`: denoising with whole
                images), with the same output as one by one.
        """

        def __init__(self, task, model, options, tile=None, overlap=32, self_ensemble=False, color_symmetries=False,
                     data_dir=None, threads=None, batch_size=1):
            if int(batch_size) < 1:
                raise ValueError(f"batch_size must be at least 1. Received: batch_size={batch_size}")
            super().__init__(max_batch_size=int(batch_size))
            self.batch_size = int(batch_size)
            self.task = task
            self.model = os.fspath(model)
            self.options = dict(options)
            self.tile = tile
            self.overlap = overlap
            self.self_ensemble = self_ensemble
            self.color_symmetries = color_symmetries
            self.data_dir = data_dir
            self.threads = threads

        def load_model(self):
            """Loads the model with `tfimage.zoo.load` (once per worker process)."""
            if self.threads:
                import tensorflow as tf

                try:
                    tf.config.threading.set_intra_op_parallelism_threads(self.threads)
                    tf.config.threading.set_inter_op_parallelism_threads(self.threads)
                except RuntimeError:  # TensorFlow already running in this process: keep its settings
                    pass
            from tfimage import zoo

            return zoo.load(self.model, data_dir=self.data_dir)

        def run_inference(self, batch, model, inference_args=None):
            """Restores the images of `batch` (same-size ones together where the task can batch them).

            Args:
                batch: a sequence of element dicts (see the class docstring).
                model: the loaded model.
                inference_args: unused.

            Returns:
                A list of element dicts with "restored" or "error", and "seconds".
            """
            from tfimage.tasks import get_task

            task = get_task(self.task)
            results = [{key: value for key, value in element.items() if key != "image"} for element in batch]
            ready = []
            for index, element in enumerate(batch):
                try:
                    inputs, _ = task.restore_inputs(model, element["image"], self.options, element["input"])
                    ready.append((index, inputs))
                except Exception as error:  # a bad image is a dead letter, not a failed job
                    results[index].update(error=_reason(error), seconds=0.0)
            if len(ready) > 1 and task.batches_images:  # else one by one: a failure must not redo the rest
                start = time.perf_counter()
                try:
                    restored = task.restore_batch(
                        model, [batch[i]["image"] for i, _ in ready], [inputs for _, inputs in ready],
                        tile=self.tile, overlap=self.overlap, self_ensemble=self.self_ensemble,
                        color_symmetries=self.color_symmetries,
                    )
                except Exception:  # find the failing image(s): one by one below
                    restored = None
                if restored is not None:
                    seconds = (time.perf_counter() - start) / len(ready)
                    for (index, _), image in zip(ready, restored):
                        results[index].update(restored=image, seconds=seconds)
                    return results
            for index, inputs in ready:
                start = time.perf_counter()
                try:
                    results[index]["restored"] = task.restore(
                        model, batch[index]["image"], tile=self.tile, overlap=self.overlap,
                        self_ensemble=self.self_ensemble, color_symmetries=self.color_symmetries, **inputs,
                    )
                except Exception as error:  # a bad image is a dead letter, not a failed job
                    results[index]["error"] = _reason(error)
                results[index]["seconds"] = time.perf_counter() - start
            return results

        def get_num_bytes(self, batch):
            """The bytes of the batch's images."""
            return int(sum(element["image"].nbytes for element in batch))

        def batch_elements_kwargs(self):
            """Up to `batch_size` images per call (Beam's BatchElements sizes batches by their timing)."""
            return {"min_batch_size": 1, "max_batch_size": self.batch_size}

        def share_model_across_processes(self):
            """One model per worker process (not one per machine)."""
            return False

        def get_metrics_namespace(self):
            """RunInference's own metrics (num_inferences, latencies) go to a namespace of their own."""
            return METRICS_NAMESPACE + ".run_inference"

    class ReadImage(beam.DoFn):
        """Reads one planned input; unreadable files go to the "dead" output, skipped ones to "skipped"."""

        def __init__(self):
            self.failed = Metrics.counter(METRICS_NAMESPACE, "images_failed")
            self.skipped = Metrics.counter(METRICS_NAMESPACE, "images_skipped")

        def process(self, item):
            if item["skip"]:
                self.skipped.inc()
                yield beam.pvalue.TaggedOutput("skipped", {"input": item["input"], "output": item["output"]})
                return
            start = time.perf_counter()
            try:
                image = read_input(item["input"])
            except Exception as error:
                self.failed.inc()
                yield beam.pvalue.TaggedOutput("dead", {"input": item["input"], "stage": "read", "reason": _reason(error)})
                return
            yield {"input": item["input"], "output": item["output"], "image": image,
                   "pixels": int(image.shape[0] * image.shape[1]), "read_seconds": time.perf_counter() - start}

    class WriteRestored(beam.DoFn):
        """Writes each restored image atomically; failed restorations and writes go to the "dead" output."""

        def __init__(self, bit_depth=8):
            self.bit_depth = bit_depth
            self.done = Metrics.counter(METRICS_NAMESPACE, "images_done")
            self.failed = Metrics.counter(METRICS_NAMESPACE, "images_failed")
            self.pixels = Metrics.counter(METRICS_NAMESPACE, "pixels")
            self.milliseconds = Metrics.distribution(METRICS_NAMESPACE, "milliseconds_per_image")

        def process(self, result):
            if "error" in result:
                self.failed.inc()
                yield beam.pvalue.TaggedOutput("dead", {"input": result["input"], "stage": "restore", "reason": result["error"]})
                return
            start = time.perf_counter()
            try:
                write_output(result["output"], result["restored"], self.bit_depth)
            except Exception as error:
                self.failed.inc()
                yield beam.pvalue.TaggedOutput("dead", {"input": result["input"], "stage": "write", "reason": _reason(error)})
                return
            seconds = result["read_seconds"] + result["seconds"] + time.perf_counter() - start
            self.done.inc()
            self.pixels.inc(int(result["pixels"]))
            self.milliseconds.update(int(round(seconds * 1000)))
            yield {"input": result["input"], "output": result["output"], "seconds": round(result["seconds"], 4)}

    for cls in (TfimageModelHandler, ReadImage, WriteRestored):
        cls.__module__ = __name__
        cls.__qualname__ = cls.__name__
        globals()[cls.__name__] = cls


def _write_manifest(records, path, model, dead_path, dead_records):
    dead_by_input = {record["input"]: record for record in dead_records}
    lines = []
    for record in records:
        line = {"input": record["input"], "output": record.get("output"), "model": model,
                "seconds": record.get("seconds"), "status": record["status"]}
        if record["input"] in dead_by_input:
            line["reason"] = dead_by_input[record["input"]]["reason"]
        lines.append(line)
    _write_json_lines(path, sorted(lines, key=lambda line: line["input"]))
    _write_json_lines(dead_path, sorted(dead_records, key=lambda record: record["input"]))


# ---------------------------------------------------------------------- the job


def default_running_mode(direct_num_workers):
    """The DirectRunner mode used when none is given: "in_memory" for one worker, else "multi_processing".

    One worker in this process skips starting a worker process (importing
    TensorFlow and loading the model again, about 10 s); more workers need
    processes of their own to run in parallel.
    """
    return "in_memory" if int(direct_num_workers) == 1 else "multi_processing"


def restore_files(task, model, inputs, output_dir, options=None, tile=None, overlap=32, self_ensemble=False,
                  color_symmetries=False, bit_depth=8, data_dir=None, skip_existing=False, runner="direct",
                  direct_num_workers=1, direct_running_mode=None, threads_per_worker=None,
                  pipeline_args=(), progress=False, batch_size=8):
    """Restores every matched image file on Apache Beam and waits for the job to finish.

    Example:
        restore_files("denoise", "dncnn-25", "scans/*.png", "restored", options={"sigma": 25},
                      direct_num_workers=2)

    Args:
        task: a name of `tfimage.tasks.TASKS` ("denoise", "sr", "inpaint", "jpeg").
        model: a `tfimage.zoo.load` name, baseline or .keras path, loadable on
            every worker.
        inputs: glob patterns, files or local folders (`match_inputs`).
        output_dir: the output folder (local or a FileSystems URL such as
            gs://bucket/out); it receives OUTPUT_DIR/<stem>.png,
            manifest.jsonl and dead_letters.jsonl.
        options: the task's restore options by flag destination, e.g.
            {"sigma": 25}, {"scale": 4} or {"mask": "mask.png"}.
        tile: tile size in pixels for large images, or None.
        overlap: tile overlap in pixels.
        self_ensemble: average the x8 flips and quarter turns (8x the time).
        color_symmetries: with `self_ensemble`, color denoisers: the color views.
        bit_depth: 8 or 16 bits per PNG channel.
        data_dir: where official weights are looked for first (on every worker).
        skip_existing: leave inputs whose output exists alone (resuming a job).
        runner: "direct", "dataflow", "flink" or "spark".
        direct_num_workers: DirectRunner worker count.
        direct_running_mode: DirectRunner mode: "in_memory",
            "multi_threading" or "multi_processing"; None: in_memory for one
            worker (no worker process to start), multi_processing for more
            (`default_running_mode`).
        threads_per_worker: TensorFlow threads per worker process; None: for
            the multi-processing DirectRunner, the CPU count divided by the
            workers; otherwise TensorFlow's default.
        pipeline_args: further Beam pipeline options, e.g.
            ["--project=p", "--region=europe-west1", "--temp_location=gs://b/tmp"].
        progress: show a progress bar on stderr (DirectRunner, local output).
        batch_size: at most this many images per RunInference call; same-size
            images in a call run as one network batch where the task can
            (denoising with whole images, up to `tasks.denoise.BATCH_PIXELS`
            pixels per batch); outputs are the same as one by one.

    Returns:
        The finished `apache_beam.runners.runner.PipelineResult` (its
        `metrics()` hold the counters; see `summarize_metrics`).

    Raises:
        ImportError: Apache Beam is not installed.
        ValueError: an unknown task, runner or option, no matching input, an
            output that would overwrite an input, or a failed pipeline.
    """
    beam = import_beam()
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.ml.inference.base import RunInference
    from apache_beam.options.pipeline_options import PipelineOptions

    from tfimage.tasks import get_task

    task_object = get_task(task)
    if runner not in RUNNERS:
        raise ValueError(f"Unknown runner. Expected one of {', '.join(RUNNERS)}. Received: runner={runner!r}")
    if int(direct_num_workers) < 1:
        raise ValueError(f"direct_num_workers must be at least 1. Received: direct_num_workers={direct_num_workers}")
    if direct_running_mode is None:
        direct_running_mode = default_running_mode(direct_num_workers)
    if direct_running_mode not in RUNNING_MODES:
        raise ValueError(
            f"Unknown DirectRunner mode. Expected one of {', '.join(RUNNING_MODES)}. "
            f"Received: direct_running_mode={direct_running_mode!r}"
        )
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16. Received: bit_depth={bit_depth}")
    if tile is not None and int(tile) < 1:
        raise ValueError(f"tile must be a positive number of pixels or None. Received: tile={tile}")
    options = task_options(task_object, options)
    output_dir = os.fspath(output_dir)
    model_name = os.fspath(model)
    paths = match_inputs(inputs)
    outputs = plan_outputs(paths, output_dir, protected=task_object.protected_files(options))
    if _is_local(output_dir):
        os.makedirs(output_dir, exist_ok=True)
    elif not FileSystems.exists(output_dir):
        FileSystems.mkdirs(output_dir)
    remove_stale_temporaries(output_dir)
    existing = existing_files(outputs) if skip_existing else set()
    plan = [{"input": path, "output": output, "skip": output in existing} for path, output in zip(paths, outputs)]
    if threads_per_worker is None and runner == "direct" and direct_running_mode == "multi_processing":
        threads_per_worker = max(1, (os.cpu_count() or 1) // int(direct_num_workers))
    _define_beam_classes()
    handler = globals()["TfimageModelHandler"](
        task_object.name, model_name, options, tile=tile, overlap=overlap, self_ensemble=self_ensemble,
        color_symmetries=color_symmetries, data_dir=data_dir, threads=threads_per_worker, batch_size=batch_size,
    )
    read_image, write_restored = globals()["ReadImage"], globals()["WriteRestored"]

    args = [f"--runner={RUNNERS[runner]}", *pipeline_args]
    if runner == "direct":
        args += [f"--direct_num_workers={int(direct_num_workers)}", f"--direct_running_mode={direct_running_mode}"]
        if not any(arg.startswith("--default_sdk_harness_log_level") for arg in pipeline_args):
            args.append("--default_sdk_harness_log_level=WARNING")  # the workers' INFO lines drown the progress bar
    pipeline = beam.Pipeline(options=PipelineOptions(args))

    read = (
        pipeline
        | "Plan" >> beam.Create(plan, reshuffle=True)
        | "Read" >> beam.ParDo(read_image()).with_outputs("dead", "skipped", main="images")
    )
    restored = (
        read.images
        | "Restore" >> RunInference(handler)
        | "Write" >> beam.ParDo(write_restored(bit_depth)).with_outputs("dead", main="done")
    )
    dead = (read.dead, restored.dead) | "DeadLetters" >> beam.Flatten()
    records = (
        (
            restored.done | "Done" >> beam.Map(lambda record: dict(record, status="done")),
            read.skipped | "Skipped" >> beam.Map(lambda record: dict(record, status="skipped", seconds=None)),
            dead | "Failed" >> beam.Map(lambda record: {"input": record["input"], "output": None, "seconds": None,
                                                         "status": "failed"}),
        )
        | "Records" >> beam.Flatten()
        | "AllRecords" >> beam.combiners.ToList()
    )
    dead_list = dead | "AllDeadLetters" >> beam.combiners.ToList()
    _ = records | "Manifest" >> beam.Map(
        _write_manifest, manifest_path(output_dir), model_name, dead_letters_path(output_dir),
        beam.pvalue.AsSingleton(dead_list),
    )

    bar = None
    if progress and runner == "direct" and _is_local(output_dir):
        bar = _ProgressBar([item["output"] for item in plan if not item["skip"]])
    try:
        result = pipeline.run()
        result.wait_until_finish()
    finally:
        if bar is not None:
            bar.close()
    return result


class _ProgressBar:
    """A tqdm bar that counts the planned outputs appearing in a local folder (polled in a thread)."""

    def __init__(self, outputs, interval=0.5):
        from tqdm import tqdm
        import sys

        self.outputs = {os.path.abspath(path) for path in outputs}
        self.folders = {os.path.dirname(path) for path in self.outputs}
        self.bar = tqdm(total=len(self.outputs), desc="batch", file=sys.stderr, disable=len(self.outputs) < 2 or None,
                        leave=False)
        self.stop = threading.Event()
        self.interval = interval
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _count(self):
        present = set()
        for folder in self.folders:
            try:
                present.update(os.path.join(folder, name) for name in os.listdir(folder))
            except OSError:
                pass
        return len(self.outputs & present)

    def _poll(self):
        while not self.stop.wait(self.interval):
            count = self._count()
            self.bar.update(count - self.bar.n)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.bar.update(self._count() - self.bar.n)
        self.bar.close()


def summarize_metrics(result):
    """The job's Beam metrics as a dict.

    Args:
        result: the `PipelineResult` of `restore_files`.

    Returns:
        {"images_done", "images_failed", "images_skipped", "pixels"} counts
        and "milliseconds_per_image": {"count", "mean", "min", "max"} (None
        when no image was restored).
    """
    from apache_beam.metrics.metric import MetricsFilter

    queried = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    summary = {"images_done": 0, "images_failed": 0, "images_skipped": 0, "pixels": 0, "milliseconds_per_image": None}

    def value(metric):
        committed = getattr(metric, "committed", None)
        return metric.attempted if committed is None else committed

    for counter in queried["counters"]:
        summary[counter.key.metric.name] = summary.get(counter.key.metric.name, 0) + int(value(counter))
    for distribution in queried["distributions"]:
        if distribution.key.metric.name != "milliseconds_per_image":
            continue
        data = value(distribution)
        if data is not None and data.count:
            summary["milliseconds_per_image"] = {
                "count": int(data.count), "mean": float(data.sum) / data.count, "min": int(data.min), "max": int(data.max),
            }
    return summary
