"""Support vector machines on face features: the studies' PCA+SVM and CNN-features+SVM, done in minutes.

* ``pca_svm`` builds the classical pipeline ``features -> standardise -> PCA -> SVC`` as one scikit-learn
  ``Pipeline`` that takes uint8 faces; its first three steps (``pca_steps``) work in place on the features
  they made, so a fit on all of FER2013 holds one copy of them (``ChunkedScaler``, ``features.InChunks``);
* ``search`` tunes it by cross-validation on a stratified subsample (a kernel SVM's cost grows roughly with
  the square of the number of samples, so searching on 30,000 faces would take hours: one study's took 14);
* ``fit_timed`` refits the chosen pipeline on all of Training and says how long it took;
* ``nystroem_svm`` is the fast approximation: an explicit random-feature map of the RBF kernel followed by a
  linear SVM trained by stochastic gradient descent, linear in the number of samples;
* ``decision_flip`` averages the SVM's scores over a face and its mirror image (test-time augmentation).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from helpers import features as F


def face_features():
    """The feature set of the best classical pipeline: HOG at cells of 4, 6 and 8 pixels (edges, fine to
    coarse), LBP histograms on a 6x6 grid (texture), Gabor energy (oriented wrinkles and furrows) and the
    standardised pixels, side by side: about 13,000 numbers per face, computed 2,000 faces at a time
    (``features.InChunks``)."""
    return F.InChunks(FeatureUnion([("hog", F.Hog((4, 6, 8))), ("lbp", F.Lbp(6)), ("gabor", F.Gabor()),
                                    ("pixels", F.Pixels())]))


class ChunkedScaler(StandardScaler):
    """scikit-learn's ``StandardScaler``, fitted ``chunk`` rows at a time with ``partial_fit``: the same mean
    and variance, without the two data-sized temporaries that ``StandardScaler.fit`` makes (3 GB for
    FER2013's Training faces x 13,000 features). With ``copy=False`` it also scales in place."""

    def __init__(self, *, copy: bool = True, chunk: int = 2000):
        super().__init__(copy=copy)
        self.chunk = chunk

    def fit(self, X, y=None):
        super().fit(X[:self.chunk])                              # starts afresh on the first chunk
        for start in range(self.chunk, len(X), self.chunk):
            self.partial_fit(X[start:start + self.chunk])
        return self


def pca_steps(feature_step=None, n_components: int | float = 100, seed: int = 0) -> list:
    """The ``features -> standardise -> whitened PCA`` steps of ``pca_svm`` and ``nystroem_svm`` (and of
    notebook 01's quick classifier), as a list of ``(name, step)`` to put a classifier after.

    ``helpers.features``' transformers always return a new array, so there the scaler standardises it in
    place and PCA centres the result in place (``copy=False``): one copy of the features at a time, which
    keeps fitting on all of FER2013's Training features to about 2 GB, not 5.5. Any other step (or
    ``"passthrough"``, for features computed beforehand) may hand on the caller's own array: then the scaler
    and PCA copy, so the caller's data is never changed, even with the scaler taken out."""
    feature_step = feature_step if feature_step is not None else F.InChunks(F.Pixels())
    owned = isinstance(feature_step, F.Stateless)
    return [("features", feature_step),
            ("scale", ChunkedScaler(copy=not owned)),
            ("pca", PCA(n_components, whiten=True, copy=not owned, random_state=seed))]


def pca_svm(feature_step=None, n_components: int | float = 100, kernel: str = "rbf", C: float = 10.0,
            gamma="scale", degree: int = 3, seed: int = 0) -> Pipeline:
    """``feature_step`` (default: standardised pixels) -> standardise -> PCA (whitened) -> SVC (``pca_steps``).

    ``n_components`` may be a count or a fraction of variance to keep (e.g. 0.95)."""
    return Pipeline(pca_steps(feature_step, n_components, seed) + [
        ("svm", SVC(kernel=kernel, C=C, gamma=gamma, degree=degree, cache_size=2000, random_state=seed)),
    ])


def nystroem_svm(feature_step=None, n_components: int = 200, n_kernel_features: int = 3000, alpha: float = 4e-6,
                 epochs: int = 20, gamma: float | None = None, seed: int = 0) -> Pipeline:
    """An approximate RBF-kernel SVM: PCA, then ``Nystroem`` maps each sample to ``n_kernel_features``
    coordinates whose dot products approximate the RBF kernel, then a linear SVM (hinge loss) trained by
    stochastic gradient descent for ``epochs`` passes, its weights averaged over the passes.

    ``alpha`` is the regularisation: ``1 / (C n)`` for an SVM's ``C`` on ``n`` samples (4e-6: C = 10 on
    FER2013's 28,000 faces, chosen on PublicTest). SGD works on the map's array as it is, where
    ``LinearSVC`` (liblinear) copies it to float64 and then into a format of its own: on all of FER2013's
    Training that raised the whole fit's peak from 2.05 to 2.81 GB and took 136 s instead of 115, for 47.8%
    on PublicTest instead of 50.3% (``benchmarks/svm_memory.py``, a 2-core AMD EPYC, 2026-12-07).

    To learn it a chunk of faces at a time (``partial_fit``), give the intercept as a column of ones and set
    ``fit_intercept=False``: scikit-learn 1.9.1's averaged multiclass ``partial_fit`` stops learning its own
    intercepts after the first call (24.4% on PublicTest; 50.5% with the column;
    ``benchmarks/sgd_partial_fit.py``)."""
    gamma = gamma if gamma is not None else 1.0 / n_components      # "scale" for whitened PCA features
    return Pipeline(pca_steps(feature_step, n_components, seed) + [
        ("kernel_map", Nystroem(gamma=gamma, n_components=n_kernel_features, random_state=seed)),
        ("svm", SGDClassifier(loss="hinge", alpha=alpha, max_iter=epochs, tol=None, average=True,
                              random_state=seed)),
    ])


def head_svm(C: float = 1.0, gamma="scale", seed: int = 0) -> Pipeline:
    """An SVM to put on top of learned features (CNN activations): standardise, then an RBF SVC."""
    return Pipeline([("scale", StandardScaler()),
                     ("svm", SVC(kernel="rbf", C=C, gamma=gamma, cache_size=2000, random_state=seed))])


def search(pipe: Pipeline, X, y, param_distributions, *, n_iter: int = 20, cv: int = 3, seed: int = 0,
           verbose: int = 0) -> tuple[dict, pd.DataFrame]:
    """Randomised search with stratified ``cv``-fold cross-validation (run it on a stratified subsample).

    Returns the best parameters (as plain Python numbers) and a table of every candidate tried, best first,
    with its mean cross-validated accuracy and fit time."""
    finder = RandomizedSearchCV(pipe, param_distributions, n_iter=n_iter, scoring="accuracy", n_jobs=1,
                                cv=StratifiedKFold(cv, shuffle=True, random_state=seed), random_state=seed,
                                refit=False, verbose=verbose)
    finder.fit(X, y)
    table = pd.DataFrame(finder.cv_results_)
    keep = [c for c in table if c.startswith("param_")] + ["mean_test_score", "std_test_score", "mean_fit_time"]
    table = table[keep].rename(columns=lambda c: c.removeprefix("param_"))
    best = {name: value.item() if isinstance(value, np.generic) else value
            for name, value in finder.best_params_.items()}
    return best, table.sort_values("mean_test_score", ascending=False).reset_index(drop=True)


def fit_timed(pipe: Pipeline, X, y) -> float:
    """Fit ``pipe`` on ``(X, y)`` and return the wall time in seconds."""
    start = time.perf_counter()
    pipe.fit(X, y)
    return time.perf_counter() - start


def decision_flip(pipe: Pipeline, images) -> np.ndarray:
    """The SVM's one-vs-rest scores averaged over each face and its horizontal mirror, shape (N, classes)."""
    images = np.asarray(images)
    mirrored = images[:, :, ::-1]
    return (pipe.decision_function(images) + pipe.decision_function(mirrored)) / 2


def predict_flip(pipe: Pipeline, images) -> np.ndarray:
    """Class predictions from ``decision_flip`` (labels as the pipeline was trained on)."""
    return pipe.classes_[np.argmax(decision_flip(pipe, images), axis=1)]
