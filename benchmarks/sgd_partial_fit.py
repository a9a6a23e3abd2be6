"""Notebook 03's Nystroem + averaged SGD learned in one ``fit`` or a chunk of faces at a time (``partial_fit``).

    python benchmarks/sgd_partial_fit.py [--data DIR] [--chunk 2000] [--passes 20] [--order-seed 0]

Learning a chunk at a time lets the kernel features of a set too large for memory be computed and learned from
piece by piece. On FER2013 it did much worse than ``fit`` on the same features, and this script shows why: in
scikit-learn (1.9.1 here), ``SGDClassifier.partial_fit`` with ``average=True`` on more than two classes keeps
no running intercept from its second call on. After each call ``intercept_`` *is* the averaged intercepts'
array, and the next call writes the running intercepts into it, while the running intercepts it starts from
(``_standard_intercept``) stay as the first call left them. ``fit`` is one call, so it never meets this.

Printed: the running intercepts after each of a few calls on toy data (they never move after the first), then
PublicTest accuracy and wall time on FER2013's kernel features (Training less the faces identical to a test
image, as in the notebook; the demo set without FER2013) of:

- ``fit``, 20 passes: the notebook's classifier;
- ``partial_fit``, ``--passes`` shuffled passes of ``--chunk`` faces a call, in an order drawn from
  ``--order-seed`` (the result hangs on which chunk comes last);
- the same with the intercept learned as the weight of a constant feature (``fit_intercept=False`` and a
  column of ones): a way around the bug, averaged like every other weight (and, unlike an intercept,
  regularised by ``alpha``);
- ``fit`` with that constant feature, to show how little the way round changes by itself.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import SGDClassifier


def frozen_intercepts() -> None:
    """The running intercepts of averaged multiclass SGD after each ``partial_fit`` call, on toy data."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    X = rng.normal(size=(600, 5)) + y[:, None] + 2.0                   # features not centred: intercepts matter
    clf = SGDClassifier(average=True, random_state=0)
    for call, rows in enumerate(np.array_split(np.arange(600), 4), 1):
        clf.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
        running, reported = (" ".join(f"{v:+7.1f}" for v in a) for a in (clf._standard_intercept, clf.intercept_))
        print(f"  after call {call}: running intercepts {running};  intercept_ {reported}")


def in_chunks(clf, X, y, passes: int, chunk: int, seed: int = 0):
    """``clf`` learned by ``partial_fit``: ``passes`` times over ``X``, each in a new random order, ``chunk``
    rows a call."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    for _ in range(passes):
        order = rng.permutation(len(X))
        for start in range(0, len(X), chunk):
            rows = order[start:start + chunk]
            clf.partial_fit(X[rows], y[rows], classes=classes)
    return clf


def with_ones(X: np.ndarray) -> np.ndarray:
    """``X`` with a column of ones: its weight plays the intercept."""
    return np.hstack([X, np.ones((len(X), 1), X.dtype)])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None,
                        help="FER2013 (default: $FER_DATA, then data/, else the demo set)")
    parser.add_argument("--chunk", type=int, default=2000, help="faces per partial_fit call")
    parser.add_argument("--passes", type=int, default=20, help="passes over Training for partial_fit")
    parser.add_argument("--order-seed", type=int, default=0, help="seed of the chunks' shuffled order")
    args = parser.parse_args(argv)

    import sklearn
    print(f"scikit-learn {sklearn.__version__}: SGDClassifier(average=True).partial_fit on 3 classes, toy data")
    frozen_intercepts()

    from helpers import audit, data, svm
    ds, _ = audit.without_train_leaks(data.load(args.data, verbose=False))
    x, y = ds.xy("train")
    x_public, y_public = ds.xy("public")
    pipe = svm.nystroem_svm(svm.face_features(), n_components=150, seed=42)   # notebook 03, section 5
    start = time.perf_counter()
    Z, Z_public = pipe[:-1].fit_transform(x, y), pipe[:-1].transform(x_public)
    print(f"\n{ds.source}: {len(y)} Training faces; kernel features {Z.shape[1]} per face "
          f"in {time.perf_counter() - start:.0f} s\n{pipe[-1]}")
    sgd = pipe[-1]
    chunked = f"partial_fit, {args.passes} passes of {args.chunk:,} faces a call"
    variants = [
        ("fit, 20 passes (the notebook)", lambda: clone(sgd).fit(Z, y), Z_public),
        (chunked, lambda: in_chunks(clone(sgd), Z, y, args.passes, args.chunk, args.order_seed), Z_public),
        ("  the same, intercept as a constant feature",
         lambda: in_chunks(clone(sgd).set_params(fit_intercept=False), with_ones(Z), y, args.passes,
                           args.chunk, args.order_seed),
         with_ones(Z_public)),
        ("fit, intercept as a constant feature",
         lambda: clone(sgd).set_params(fit_intercept=False).fit(with_ones(Z), y), with_ones(Z_public)),
    ]
    for name, learn, public in variants:
        start = time.perf_counter()
        clf = learn()
        seconds = time.perf_counter() - start
        print(f"{name:<50} PublicTest {clf.score(public, y_public):7.2%}  {seconds:4.0f} s")


if __name__ == "__main__":
    main()
