"""Trains the MNIST classifier shipped as saved_models/mnist-classifier.keras.

Only the 10k MNIST test split is available here, so the classifier trains on a
fixed 80% of it (`holdout_split(10000, 0.2, seed=0)`) and reports its accuracy
on the held-out 20%, which it never saw. Its penultimate "features" layer
(128 units) is tfimage's MNIST feature extractor for FID/KID (`tfimage.fid`).

Usage:
    TFIMAGE_DATA_DIR=/work/shared/data python benchmarks/train_mnist_classifier.py \
        --epochs 8 --out saved_models/mnist-classifier.keras
"""

import argparse
import json
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="saved_models/mnist-classifier.keras")
    args = parser.parse_args(argv)

    import keras

    from tfimage.datasets.mnist import holdout_split, mnist_float
    from tfimage.models.saving import save_atomic
    from tfimage.networks.classifier import build_classifier

    keras.utils.set_random_seed(args.seed)
    start = time.time()
    images, labels = mnist_float("test", data_dir=args.data_dir)
    train, held_out = holdout_split(len(images), 0.2, seed=args.seed)
    model = build_classifier()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images[train], labels[train], batch_size=args.batch_size, epochs=args.epochs,
              verbose=2)
    _, accuracy = model.evaluate(images[held_out], labels[held_out], verbose=0)
    save_atomic(model, args.out, include_optimizer=False)
    result = {"held_out_accuracy": float(accuracy), "train_images": int(len(train)),
              "held_out_images": int(len(held_out)), "epochs": args.epochs,
              "wall_seconds": round(time.time() - start, 1), "out": args.out}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
