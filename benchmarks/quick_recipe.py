"""What a short run (FAST_MODE, the demo set) learns with each augmentation setting, against the classical SVMs.

    python benchmarks/quick_recipe.py [--data demo] [--epochs 5 8] [--augment none flip full]

The data is notebook 02's FAST_MODE subset (leaks dropped, at most 250 Training and 60 PublicTest faces per
class); the CNN is ``notebook.QUICK_CNN``'s (compact_cnn, batch 32, no weight average, notebook 02's optimiser
settings) with the augmentation varied; the SVMs are notebook 03's pipelines at fixed settings. Prints the
PublicTest accuracy of each (the selection split: this is how the quick recipe was chosen) and the seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from helpers import evaluate, models, notebook, svm, train
from helpers.backend import configure_device

AUGMENT = {"none": lambda: False,
           "flip": lambda: models.augmentation(rotation=0, shift=0, zoom=0, contrast=0, brightness=0),
           "full": lambda: models.augmentation()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="demo", help="dataset path, or 'demo' (default)")
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 8])
    parser.add_argument("--augment", nargs="+", default=list(AUGMENT), choices=list(AUGMENT))
    args = parser.parse_args(argv)
    ds, _ = notebook.modelling_data(args.data, seed=42, fast=True,
                                    sample={"train": 250, "public": 60, "private": 60})
    x_train, y_train = ds.xy("train")
    x_public, y_public = ds.xy("public")
    rows = []
    for name, pipe in (("pixels + PCA + SVM (RBF, C 10)", svm.pca_svm(seed=42)),
                       ("HOG+LBP+Gabor+pixels + PCA 200 + SVM (RBF, C 10)",
                        svm.pca_svm(svm.face_features(), n_components=200, seed=42))):
        start = time.perf_counter()
        pipe.fit(x_train, y_train)
        rows.append((name, np.mean(pipe.predict(x_public) == y_public), time.perf_counter() - start))
    device = configure_device(verbose=False)
    for epochs in args.epochs:
        for augment in args.augment:
            train.set_seeds(42)
            model = models.build(notebook.QUICK_CNN.model, input_shape=ds.images.shape[1:],
                                 n_classes=len(ds.classes), augment=AUGMENT[augment](), bn_momentum=0.9)
            start = time.perf_counter()
            with tempfile.TemporaryDirectory() as out:
                quick = notebook.QUICK_CNN
                train.fit(model, ds, out, epochs=epochs, batch_size=quick.batch_size, lr=quick.lr,
                          weight_power=quick.weight_power, label_smoothing=quick.label_smoothing, ema=quick.ema,
                          patience=None, jit_compile=device["jit_compile"], seed=42, verbose=0)
            accuracy = np.mean(evaluate.predict_proba(model, x_public).argmax(1) == y_public)
            rows.append((f"{notebook.QUICK_CNN.model}, {epochs} epochs, augmentation: {augment}", accuracy,
                         time.perf_counter() - start))
    print(f"\n{ds.source}; {len(y_train)} Training / {len(y_public)} PublicTest faces; {device['device']}")
    print(f"{'model':<58} {'PublicTest':>10} {'seconds':>8}")
    for name, accuracy, seconds in rows:
        print(f"{name:<58} {accuracy:>10.3f} {seconds:>8.0f}")


if __name__ == "__main__":
    main()
