"""Class imbalance: FER2013 has 436 'disgust' training images and 7,215 'happy' ones.

Three remedies, each a small function: class weights (the loss counts rare classes more), random
over-sampling (repeat rare images), random under-sampling (drop common images), and over-sampling with
augmentation (new, altered copies of rare images rather than exact repeats). ``remedy_effects`` measures
what the first three do to a quick classifier.
"""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd


def class_weights(labels: np.ndarray, n_classes: int | None = None, power: float = 1.0) -> dict:
    """``{class index: weight}`` with weight ``(n / (k * n_c)) ** power``.

    ``power=1`` is scikit-learn's "balanced" weighting: every class then contributes the same total weight
    to the loss. ``power=0.5`` is a softer compromise; ``power=0`` gives all classes weight 1.
    """
    labels = np.asarray(labels)
    k = n_classes or int(labels.max()) + 1
    counts = np.bincount(labels, minlength=k).astype(float)
    if (counts == 0).any():
        raise ValueError(f"class(es) {np.flatnonzero(counts == 0).tolist()} have no examples; cannot weight them")
    return {c: float((len(labels) / (k * counts[c])) ** power) for c in range(k)}


def oversample_indices(labels: np.ndarray, target: int | None = None, seed: int = 0) -> np.ndarray:
    """Indices that repeat images of each class, at random with replacement, up to ``target`` per class
    (default: the largest class). Every original image is kept at least once."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    target = target or int(np.bincount(labels).max())
    out = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        extra = rng.choice(idx, size=max(0, target - len(idx)), replace=True)
        out.append(np.concatenate([idx, extra]))
    return rng.permutation(np.concatenate(out))


def undersample_indices(labels: np.ndarray, target: int | None = None, seed: int = 0) -> np.ndarray:
    """Indices that keep at most ``target`` random images per class (default: the smallest class)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    target = target or int(np.bincount(labels)[np.unique(labels)].min())
    out = [rng.permutation(np.flatnonzero(labels == c))[:target] for c in np.unique(labels)]
    return rng.permutation(np.concatenate(out))


def augment_image(image: np.ndarray, rng: np.random.Generator, max_angle: float = 12,
                  max_shift: float = 0.08, max_zoom: float = 0.1) -> np.ndarray:
    """One randomly flipped, rotated, shifted and zoomed copy of a uint8 (H, W, C) face."""
    h, w = image.shape[:2]
    img = image[:, ::-1] if rng.random() < 0.5 else image
    angle = rng.uniform(-max_angle, max_angle)
    scale = 1 + rng.uniform(-max_zoom, max_zoom)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[:, 2] += rng.uniform(-max_shift, max_shift, 2) * (w, h)
    out = cv2.warpAffine(np.ascontiguousarray(img), m, (w, h), borderMode=cv2.BORDER_REFLECT)
    return out.reshape(image.shape)


def augment_to_balance(images: np.ndarray, labels: np.ndarray, target: int | None = None, seed: int = 0):
    """Over-sample with augmentation: every class grows to ``target`` images (default: the largest class)
    with augmented copies of its own images. Returns new ``(images, labels)``; the input is not changed."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    target = target or int(np.bincount(labels).max())
    new_images, new_labels = [images], [labels]
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        sources = rng.choice(idx, size=max(0, target - len(idx)), replace=True)
        if len(sources):
            new_images.append(np.stack([augment_image(images[i], rng) for i in sources]))
            new_labels.append(np.full(len(sources), c, dtype=labels.dtype))
    return np.concatenate(new_images), np.concatenate(new_labels)


def remedy_effects(train_images, train_labels, test_images, test_labels, classes, seed: int = 0) -> pd.DataFrame:
    """What each remedy does, measured: a quick classifier (standardised pixels, PCA to 60 whitened components,
    logistic regression) trained with no remedy, balanced class weights, over-sampling and under-sampling,
    and scored on held-out faces: accuracy, macro-F1, and the recall of the smallest training class (and of
    the largest). One row per remedy (``none``, ``weights``, ``oversample``, ``undersample``: the names
    notebook 02's ``IMBALANCE`` takes), with the seconds its fit took."""
    import time

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, recall_score
    from sklearn.pipeline import Pipeline

    from helpers.svm import pca_steps
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    counts = np.bincount(train_labels, minlength=len(classes))
    small, large = int(np.argmin(counts)), int(np.argmax(counts))
    everything = np.arange(len(train_labels))
    setups = {"none": (everything, None), "weights": (everything, "balanced"),
              "oversample": (oversample_indices(train_labels, seed=seed), None),
              "undersample": (undersample_indices(train_labels, seed=seed), None)}
    rows = {}
    for name, (idx, weighting) in setups.items():
        pipe = Pipeline(pca_steps(n_components=60, seed=seed)          # pixels -> standardise -> PCA
                        + [("logreg", LogisticRegression(max_iter=300, class_weight=weighting))])
        start = time.perf_counter()
        pipe.fit(train_images[idx], train_labels[idx])
        seconds = time.perf_counter() - start
        pred = pipe.predict(test_images)
        recall = recall_score(test_labels, pred, labels=[small, large], average=None, zero_division=0)
        rows[name] = {"training images": len(idx), "accuracy": float(np.mean(pred == test_labels)),
                      "macro-F1": f1_score(test_labels, pred, average="macro", zero_division=0),
                      f"recall {classes[small]}": recall[0], f"recall {classes[large]}": recall[1],
                      "seconds": seconds}
    return pd.DataFrame(rows).T
