"""Speed of denoisers against bm3d on 512x512 images, measured in one process.

Runs each model on the five 512x512 Set12 images (08-12) at sigma 25 through
the evaluation harness, one after the other in this process, and writes the
seconds per image and each model's speed ratio against bm3d (bm3d's time
divided by the model's) to benchmarks/results/speed_512.json
(`benchmarks/write_results.py` turns it into the speed table of
docs/results.md). A name ending in "+x8" runs that model with the x8
geometric self-ensemble (`--self-ensemble`).

Usage:
    TFIMAGE_DATA_DIR=../shared/data python benchmarks/speed_512.py [MODEL ...]
"""

import json
import os
import sys

from PIL import Image

from tfimage import evaluation
from tfimage.datasets import catalogue


def main(models):
    paths = [p for p in catalogue.image_paths("set12") if Image.open(p).size == (512, 512)]
    results = {}
    for name in ["bm3d", *models]:
        ensemble = name.endswith("+x8")
        result = evaluation.evaluate(
            name[:-3] if ensemble else name, paths, task="denoise", sigma=25, self_ensemble=ensemble
        )
        result.pop("per_image", None)
        results[name] = result
    for name, result in results.items():
        result["x_faster_than_bm3d"] = results["bm3d"]["seconds_per_image"] / result["seconds_per_image"]
        print(
            f"{name:<20} {result['images']} images 512x512: PSNR {result['psnr']:.2f} dB, "
            f"{result['seconds_per_image']:.3f} s/image, {result['x_faster_than_bm3d']:.1f}x bm3d's speed"
        )
    out = os.path.join("benchmarks", "results", "speed_512.json")
    with open(out + ".tmp", "w") as stream:
        json.dump(results, stream, indent=1)
    os.replace(out + ".tmp", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["ffdnet-gray", "dncnn-s25", "tfimage-gray-blind", "tfimage-gray-blind+x8", "nlm"])
