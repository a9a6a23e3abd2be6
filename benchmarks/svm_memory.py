"""What fitting notebook 03's classical pipelines on all of Training costs in memory and time.

    python benchmarks/svm_memory.py [--data DIR] [--no-svm] [--variants lean plain nystroem liblinear]

Two ways to build the same HOG+LBP+Gabor+pixels -> standardise -> whitened PCA -> RBF SVM pipeline:

- ``lean``: ``svm.pca_svm(svm.face_features())`` as the notebook builds it: features computed 2,000 faces at a
  time into one array (``features.InChunks``), the scaler fitted a chunk at a time (``svm.ChunkedScaler``) and
  scaling that array in place, PCA centring it in place;
- ``plain``: scikit-learn's own steps with their defaults (``FeatureUnion``, ``StandardScaler``,
  ``PCA(copy=True)``), the pipeline of before 2026-12-07.

And two linear SVMs on the Nystroem map of those features (notebook 03, section 5):

- ``nystroem``: ``svm.nystroem_svm``, as the notebook builds it: SGD with averaged weights;
- ``liblinear``: the same map with ``LinearSVC(C=0.1)``, the pipeline of before 2026-12-07.

Each is fitted in a fresh process (so one's memory cannot hide another's), on FER2013's Training less the
faces identical to a test image, as in the notebook (the demo set's Training without FER2013). Printed per
variant: the process's peak resident memory, the part of it the fit added, the fit's wall time, PublicTest
accuracy, and the PCA features of the first PublicTest faces, so that the variants built on the same PCA can
be seen to agree. ``--no-svm`` stops after PCA (about a minute instead of three). Prints figures; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


VARIANTS = ("lean", "plain", "nystroem", "liblinear")


def build(variant: str, seed: int = 42):
    """The pipeline of ``variant``: a search winner of notebook 03 (300 components, C = 5) for the exact SVMs,
    and the notebook's Nystroem settings (150 components, 3,000 kernel features) for the linear ones."""
    from sklearn.decomposition import PCA
    from sklearn.kernel_approximation import Nystroem
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    from helpers import svm
    if variant == "lean":
        return svm.pca_svm(svm.face_features(), n_components=300, C=5, seed=seed)
    if variant == "nystroem":
        return svm.nystroem_svm(svm.face_features(), n_components=150, seed=seed)
    if variant == "liblinear":
        return Pipeline(svm.pca_steps(svm.face_features(), 150, seed) + [
            ("kernel_map", Nystroem(gamma=1 / 150, n_components=3000, random_state=seed)),
            ("svm", LinearSVC(C=0.1, random_state=seed))])
    return Pipeline([("features", svm.face_features().step), ("scale", StandardScaler()),
                     ("pca", PCA(300, whiten=True, random_state=seed)),
                     ("svm", SVC(C=5, cache_size=2000, random_state=seed))])


def peak_gb() -> float:
    """This process's peak resident memory so far, in GB (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1e9 if sys.platform == "darwin" else 1e6)


def measure(variant: str, data_dir, with_svm: bool) -> dict:
    """Load the data, fit ``variant``, and return its figures (run in a process of its own)."""
    from helpers import audit, data
    ds, _ = audit.without_train_leaks(data.load(data_dir, verbose=False))
    x, y = ds.xy("train")
    before = peak_gb()
    pipe = build(variant)
    if not with_svm:
        pipe = pipe[:-1]
    start = time.perf_counter()
    pipe.fit(x, y)
    seconds = time.perf_counter() - start
    after = peak_gb()
    x_public, y_public = ds.xy("public")
    head = pipe[:3].transform(x_public[:50])
    accuracy = float((pipe.predict(x_public) == y_public).mean()) if with_svm else float("nan")
    return {"variant": variant, "source": ds.source, "faces": len(y), "seconds": seconds, "peak_gb": after,
            "fit_gb": after - before, "public": accuracy, "features": " ".join(f"{v:+.4f}" for v in head[0, :4]),
            "head": head.tolist()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="FER2013 (default: $FER_DATA, then data/, else the demo set)")
    parser.add_argument("--no-svm", action="store_true", help="stop after PCA")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--one", help=argparse.SUPPRESS)            # the child process: measure one variant
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.one, args.data, not args.no_svm)))
        return
    import numpy as np
    rows = []
    for variant in args.variants:
        command = [sys.executable, __file__, "--one", variant] + (["--data", args.data] if args.data else [])
        done = subprocess.run(command + (["--no-svm"] if args.no_svm else []), capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{variant} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{rows[0]['source']}: {rows[0]['faces']} Training faces, "
          f"{'features -> PCA' if args.no_svm else 'the whole pipeline, SVM included'}")
    print(f"{'variant':>9} {'peak GB':>8} {'fit added GB':>12} {'fit s':>6} {'PublicTest':>10}  "
          f"first face's first PCA features")
    for row in rows:
        print(f"{row['variant']:>9} {row['peak_gb']:>8.2f} {row['fit_gb']:>12.2f} {row['seconds']:>6.0f} "
              f"{row['public']:>10.2%}  {row['features']}".replace("nan%", "-   "))
    heads = {row["variant"]: np.array(row["head"]) for row in rows}
    for a, b in (("lean", "plain"), ("nystroem", "liblinear")):              # the pairs built on one PCA
        if a in heads and b in heads:
            print(f"largest difference between {a}'s and {b}'s PCA features of 50 PublicTest faces: "
                  f"{np.abs(heads[a] - heads[b]).max():.2g}")


if __name__ == "__main__":
    main()
