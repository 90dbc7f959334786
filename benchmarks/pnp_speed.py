"""Seconds of one plug-and-play deblur of a 512x512 color image, against one denoiser pass, Wiener and Richardson-Lucy.

    TFIMAGE_DATA_DIR=../shared/data python benchmarks/pnp_speed.py [--model ffdnet-color] [--repeats 3]

All timings are taken in one process on the same image (skimage's astronaut,
512x512), after an untimed warm-up call, as the median of --repeats runs;
the ratios are what to compare across machines. Writes
benchmarks/results/pnp_speed.json.
"""

import argparse
import json
import os
import statistics
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def timed(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ffdnet-color")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(HERE, "results", "pnp_speed.json"))
    args = parser.parse_args(argv)

    import numpy as np
    from skimage import data

    from tfimage import zoo
    from tfimage.inference import restore
    from tfimage.tasks import TASKS

    photo = (data.astronaut() / 255.0).astype(np.float32)
    example = TASKS["deblur"].degrade(photo, (0, 0), kernel="gaussian:1.6", noise_level=2.55)
    model = zoo.load(args.model)
    seconds = {
        "denoiser pass": timed(lambda: restore(model, example.degraded, task="denoise", noise_level=0.01), args.repeats),
        "pnp deblur (8 iterations)": timed(
            lambda: restore(model, example.degraded, task="deblur", **example.inputs), args.repeats),
        "wiener": timed(lambda: restore(zoo.load("wiener"), example.degraded, task="deblur", **example.inputs),
                        args.repeats),
        "richardson-lucy": timed(
            lambda: restore(zoo.load("richardson-lucy"), example.degraded, task="deblur", **example.inputs),
            args.repeats),
    }
    result = {
        "model": args.model, "image": "skimage astronaut 512x512x3", "kernel": "gaussian:1.6", "noise_level": 2.55,
        "seconds": seconds, "pnp_over_denoiser": seconds["pnp deblur (8 iterations)"] / seconds["denoiser pass"],
    }
    for name, value in seconds.items():
        print(f"{name:28s} {value:7.3f} s")
    print(f"pnp / one denoiser pass: {result['pnp_over_denoiser']:.2f}x")
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1)
        handle.write("\n")


if __name__ == "__main__":
    main()
