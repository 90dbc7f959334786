"""Throughput of `tfimage batch` (Apache Beam DirectRunner) against a plain loop over `inference.restore`.

On the same image files, in the same run: (1) a plain loop in this process
that loads the model with `zoo.load`, then reads, restores and writes each
file as `tfimage denoise` does; (2) `tfimage.batch.restore_files` with the
multi-processing DirectRunner and 1, then 2 (or the `--workers` given)
worker processes. Each time is wall-clock from the start of the job to its
last output, so the Beam times include starting the worker processes and
loading the model in each. The machine's load average is printed beside
each measurement: other processes on the same cores slow every figure.

Prints images/s per configuration and the ratios
(N workers / 1 worker, 1 worker / loop) and writes a JSON record.

Usage:
    TFIMAGE_DATA_DIR=/work/shared/data python benchmarks/batch_throughput.py \\
        --input '/tmp/noisy/*.png' --model ffdnet-color --sigma 25 --workers 1 2
"""

import argparse
import json
import os
import shutil
import tempfile
import time


def load_average():
    """The 1-minute load average, or None where the OS does not report it."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def plain_loop(model_name, task_name, paths, output_dir, options, data_dir=None, tile=None, overlap=32):
    """Restores `paths` in one process as `tfimage denoise` does; returns the seconds taken (model load included)."""
    from tfimage import inference, io, zoo
    from tfimage.tasks import get_task

    task = get_task(task_name)
    start = time.perf_counter()
    model = zoo.load(model_name, data_dir=data_dir)
    for path in paths:
        image = io.read_image(path)
        if image.shape[2] == 4:
            image = io.convert_channels(image, 3, name=path)
        inputs, _ = task.restore_inputs(model, image, options, path)
        restored = inference.restore(model, image, task=task, tile=tile, overlap=overlap, **inputs)
        stem = os.path.splitext(os.path.basename(path))[0]
        io.write_image(os.path.join(output_dir, stem + ".png"), restored)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", nargs="+", required=True, help="image files or glob patterns")
    parser.add_argument("--task", default="denoise")
    parser.add_argument("--model", default="ffdnet-color")
    parser.add_argument("--sigma", type=float, default=25.0, help="denoise: noise level (0-255)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="DirectRunner worker counts")
    parser.add_argument("--threads-per-worker", type=int,
                        help="TensorFlow threads of every process, the loop's included (default: the loop "
                             "TensorFlow's default, each Beam worker CPU count / workers)")
    parser.add_argument("--in-memory", action="store_true",
                        help="also time the DirectRunner in in_memory mode (one worker, in this process)")
    parser.add_argument("--tile", type=int)
    parser.add_argument("--data-dir")
    parser.add_argument("--json", help="where to write the JSON record (default: print only)")
    args = parser.parse_args(argv)

    if args.threads_per_worker:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads_per_worker)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads_per_worker)
    from tfimage import batch
    from tfimage.tasks import get_task

    task = get_task(args.task)
    options = batch.task_options(task, {"sigma": args.sigma} if task.name == "denoise" else {})
    paths = batch.match_inputs(args.input)
    scratch = tempfile.mkdtemp(prefix="tfimage-batch-throughput-")
    record = {"images": len(paths), "model": args.model, "task": task.name, "cpus": os.cpu_count(),
              "threads_per_worker": args.threads_per_worker, "runs": []}
    try:
        folder = os.path.join(scratch, "loop")
        os.makedirs(folder)
        before = load_average()
        seconds = plain_loop(args.model, task.name, paths, folder, options, args.data_dir, args.tile)
        record["runs"].append({"name": "loop", "seconds": seconds, "images_per_second": len(paths) / seconds,
                               "load_before": before, "load_after": load_average()})
        print(f"plain loop: {len(paths)} images in {seconds:.1f} s, {len(paths) / seconds:.3f} images/s "
              f"(load {before} -> {load_average()})", flush=True)
        configurations = [(workers, "multi_processing") for workers in args.workers]
        if args.in_memory:
            configurations.append((1, "in_memory"))
        for workers, mode in configurations:
            label = f"beam-{workers}" if mode == "multi_processing" else "beam-in-memory"
            folder = os.path.join(scratch, label)
            before = load_average()
            start = time.perf_counter()
            result = batch.restore_files(
                task.name, args.model, paths, folder, options=options, tile=args.tile, data_dir=args.data_dir,
                direct_num_workers=workers, direct_running_mode=mode,
                threads_per_worker=args.threads_per_worker,
            )
            seconds = time.perf_counter() - start
            summary = batch.summarize_metrics(result)
            if summary["images_done"] != len(paths):
                raise ValueError(f"The Beam job did not restore every image. Received: summary={summary}")
            identical = all(
                open(os.path.join(folder, name), "rb").read() == open(os.path.join(scratch, "loop", name), "rb").read()
                for name in os.listdir(os.path.join(scratch, "loop"))
            )
            record["runs"].append({"name": label, "workers": workers, "mode": mode, "seconds": seconds,
                                   "images_per_second": len(paths) / seconds, "identical_to_loop": identical,
                                   "metrics": summary, "load_before": before, "load_after": load_average()})
            print(f"beam {mode}, {workers} worker(s): {len(paths)} images in {seconds:.1f} s, "
                  f"{len(paths) / seconds:.3f} images/s, outputs identical to the loop: {identical} "
                  f"(load {before} -> {load_average()})", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rates = {run["name"]: run["images_per_second"] for run in record["runs"]}
    ratios = {}
    if "beam-1" in rates:
        ratios["beam-1 / loop"] = rates["beam-1"] / rates["loop"]
        if "beam-in-memory" in rates:
            ratios["beam-in-memory / loop"] = rates["beam-in-memory"] / rates["loop"]
        for run in record["runs"]:
            if run.get("workers", 1) > 1:
                ratios[f"{run['name']} / beam-1"] = run["images_per_second"] / rates["beam-1"]
    record["ratios"] = ratios
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}x")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as stream:
            json.dump(record, stream, indent=2)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
