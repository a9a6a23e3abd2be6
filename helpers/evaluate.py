"""Predictions -> metrics: accuracy, macro scores, per-class reports, test-time augmentation, faces per second."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, f1_score

from helpers.data import Dataset


SHIFT_PX = 2      # chosen on PublicTest by benchmarks/tta_shift.py (2/3/4 px: 65.6/65.4/65.1%); later models: its README


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """The faces moved ``dy`` pixels down and ``dx`` right (negative: up, left); the uncovered border
    repeats the edge pixels, as the training shifts do (``fill_mode="nearest"``)."""
    k = max(abs(dy), abs(dx))
    padded = np.pad(images, ((0, 0), (k, k), (k, k), (0, 0)), mode="edge")
    h, w = images.shape[1:3]
    return padded[:, k - dy:k - dy + h, k - dx:k - dx + w]


def views(images: np.ndarray, tta: bool | str = False, shift_px: int = SHIFT_PX) -> list[np.ndarray]:
    """The copies of raw 0-255 ``images`` that test-time augmentation (TTA) averages over:

    * ``False``: none, the faces as they are;
    * ``True`` or ``"flip"``: each face and its mirror image (a face and its mirror show the same expression);
    * ``"shifts"``: ``"flip"`` for the face and for copies moved ``shift_px`` pixels up, down, left and
      right (10 views, 5x the cost): the network was trained on shifted faces, so it averages out where
      exactly the face detector put the crop.

    Unshifted first, mirror images last: with ``"shifts"``, views 0 and 5 are the ``"flip"`` pair."""
    if tta not in (False, True, "flip", "shifts"):
        raise ValueError(f"tta={tta!r}: use False, True/'flip' or 'shifts'")
    x = np.asarray(images, dtype="float32")
    offsets = [(0, 0)]
    if tta == "shifts":
        offsets += [(shift_px, 0), (-shift_px, 0), (0, shift_px), (0, -shift_px)]
    found = [shifted(x, dy, dx) for dy, dx in offsets]
    return found + [v[:, :, ::-1] for v in found] if tta else found


def predict_proba(model, images: np.ndarray, tta: bool | str = False, batch_size: int = 256,
                  shift_px: int = SHIFT_PX) -> np.ndarray:
    """Class probabilities for raw 0-255 images, averaged over the test-time augmentations ``tta``
    (:func:`views`: ``False``, ``True``/``"flip"`` or ``"shifts"``)."""
    return np.mean([model.predict(v, batch_size=batch_size, verbose=0)
                    for v in views(images, tta, shift_px)], axis=0)


def proba_each_tta(model, images: np.ndarray, batch_size: int = 256) -> dict:
    """``{"none": ..., "flip": ..., "shifts": ...}``: :func:`predict_proba` for each TTA, from one pass over
    the 10 views of ``"shifts"`` (the other two average a subset of them)."""
    each = [model.predict(v, batch_size=batch_size, verbose=0) for v in views(images, "shifts")]
    return {"none": each[0], "flip": np.mean([each[0], each[5]], axis=0), "shifts": np.mean(each, axis=0)}


def faces_per_second(model, images: np.ndarray, tta: bool | str = False, repeats: int = 3) -> float:
    """How many faces a second :func:`predict_proba` classifies with ``tta``: the median of ``repeats`` timed
    passes over ``images``, after one untimed pass over a batch (the first call traces the model). Give it a
    few thousand faces, or the fixed cost of each ``predict`` call hides the cost per face."""
    predict_proba(model, images[:256], tta=tta)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_proba(model, images, tta=tta)
        times.append(time.perf_counter() - start)
    return len(images) / float(np.median(times))


def scores(y_true, y_pred) -> dict:
    """Accuracy and macro-F1 of label predictions."""
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}


def split_scores(model, ds: Dataset, splits=("public", "private")) -> dict:
    """``{split: {accuracy, macro_f1, accuracy_tta, macro_f1_tta, accuracy_shift_tta, macro_f1_shift_tta, n}}``
    for a Keras model on ``ds`` (``_tta``: flip TTA, ``_shift_tta``: flip and shifts; see :func:`views`)."""
    out = {}
    for s in splits:
        x, y = ds.xy(s)
        proba = proba_each_tta(model, x)
        out[s] = {}
        for tta, suffix in (("none", ""), ("flip", "_tta"), ("shifts", "_shift_tta")):
            out[s].update({k + suffix: v for k, v in scores(y, proba[tta].argmax(1)).items()})
        out[s]["n"] = int(len(y))
    return out


def report(y_true, y_pred, classes) -> pd.DataFrame:
    """scikit-learn's classification report (per class, macro and weighted) as a table."""
    rep = classification_report(y_true, y_pred, labels=range(len(classes)), target_names=list(classes),
                                output_dict=True, zero_division=0)
    return pd.DataFrame(rep).T


# ----------------------------------------------------------------------------------------------------------
# Confusions
# ----------------------------------------------------------------------------------------------------------

def confusion(y_true, y_pred, classes, normalize: bool = False) -> pd.DataFrame:
    """Confusion matrix as a table: rows = true class, columns = predicted class (row-normalised if asked)."""
    from sklearn.metrics import confusion_matrix
    cm = confusion_matrix(y_true, y_pred, labels=range(len(classes)))
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    return pd.DataFrame(cm, index=pd.Index(classes, name="true"), columns=pd.Index(classes, name="predicted"))


def most_confused(y_true, y_pred, classes, top: int = 3) -> list[str]:
    """Sentences, written from the numbers, naming the ``top`` most frequent confusions (share of the row)."""
    cm = confusion(y_true, y_pred, classes, normalize=True)
    counts = confusion(y_true, y_pred, classes)
    pairs = [(cm.iat[i, j], classes[i], classes[j], counts.iat[i, j])
             for i in range(len(classes)) for j in range(len(classes)) if i != j]
    pairs.sort(reverse=True)
    return [f"{t} faces are taken for {p} {share:.0%} of the time ({n} of {int(counts.loc[t].sum())})"
            for share, t, p, n in pairs[:top]]


def cross_dataset(proba, y_true, target_classes, model_labels) -> dict:
    """Score a model on another dataset whose classes only partly match its own.

    ``proba``: the model's probabilities (N, len(model_labels)); ``y_true``: indices into ``target_classes``.
    Faces of classes the model does not know (CK+'s contempt) are left out and counted. Returns the shared
    and unshared classes, ``accuracy`` (argmax over all the model's classes) and ``accuracy_shared`` (argmax
    over the shared classes only), and the confusion table (rows: true shared class, columns: prediction)."""
    from sklearn.metrics import confusion_matrix
    target_classes, model_labels = list(target_classes), list(model_labels)
    shared = [c for c in target_classes if c in model_labels]
    if not shared:
        raise ValueError(f"no class in common: dataset has {target_classes}, model predicts {model_labels}")
    names = np.asarray(target_classes)[np.asarray(y_true)]
    keep = np.isin(names, shared)
    truth = np.array([model_labels.index(c) for c in names[keep]], dtype=int)
    p = np.asarray(proba)[keep]
    cols = np.array([model_labels.index(c) for c in shared])
    pred, pred_shared = p.argmax(1), cols[p[:, cols].argmax(1)]
    cm = confusion_matrix(truth, pred, labels=range(len(model_labels)))[cols]
    return {"shared": shared, "only_dataset": [c for c in target_classes if c not in model_labels],
            "only_model": [c for c in model_labels if c not in target_classes],
            "n": int(keep.sum()), "n_left_out": int((~keep).sum()),
            "accuracy": float((pred == truth).mean()), "accuracy_shared": float((pred_shared == truth).mean()),
            "confusion": pd.DataFrame(cm, index=pd.Index(shared, name="true"),
                                      columns=pd.Index(model_labels, name="predicted"))}


# ----------------------------------------------------------------------------------------------------------
# Uncertainty of a score, and comparing two classifiers on the same test set
# ----------------------------------------------------------------------------------------------------------

def bootstrap_ci(y_true, y_pred, metric="accuracy", n_boot: int = 1000, level: float = 0.95, seed: int = 0):
    """Percentile bootstrap confidence interval of a metric (``'accuracy'``, ``'macro_precision'``,
    ``'macro_recall'``, ``'macro_f1'``): resample the test images with replacement ``n_boot`` times.
    Returns ``(estimate, low, high)``."""
    from sklearn.metrics import precision_recall_fscore_support
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)

    def score(t, p):
        if metric == "accuracy":
            return float((t == p).mean())
        prec, rec, f1, _ = precision_recall_fscore_support(t, p, average="macro", zero_division=0)
        return {"macro_precision": prec, "macro_recall": rec, "macro_f1": f1}[metric]

    rng = np.random.default_rng(seed)
    n = len(y_true)
    stats = [score(y_true[i], y_pred[i]) for i in (rng.integers(0, n, n) for _ in range(n_boot))]
    alpha = (1 - level) / 2
    return score(y_true, y_pred), float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def per_class_ci(y_true, y_pred, classes, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Precision, recall and F1 of every class with percentile bootstrap intervals (``<metric>_low`` /
    ``<metric>_high``), resampling the test images ``n_boot`` times, and each class's ``support``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k, n = len(classes), len(y_true)

    def per_class(t, p):
        cm = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
        tp = np.diag(cm).astype(float)
        precision = np.divide(tp, cm.sum(0), out=np.zeros(k), where=cm.sum(0) > 0)
        recall = np.divide(tp, cm.sum(1), out=np.zeros(k), where=cm.sum(1) > 0)
        f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=precision + recall > 0)
        return np.stack([precision, recall, f1])

    rng = np.random.default_rng(seed)
    boots = np.stack([per_class(y_true[i], y_pred[i]) for i in (rng.integers(0, n, n) for _ in range(n_boot))])
    alpha = (1 - level) / 2
    low, high = np.quantile(boots, alpha, axis=0), np.quantile(boots, 1 - alpha, axis=0)
    table = {"support": np.bincount(y_true, minlength=k)}
    for j, metric in enumerate(("precision", "recall", "f1")):
        table[metric] = per_class(y_true, y_pred)[j]
        table[f"{metric}_low"], table[f"{metric}_high"] = low[j], high[j]
    return pd.DataFrame(table, index=pd.Index(list(classes), name="class"))


def comparison_table(y_true, predictions: dict, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """One row per classifier (``{name: predicted labels}``, all on the same test images): accuracy, macro
    precision, recall and F1, each with its 95% bootstrap interval as ``<metric>_low`` / ``<metric>_high``."""
    rows = {}
    for name, pred in predictions.items():
        row = {}
        for metric in ("accuracy", "macro_precision", "macro_recall", "macro_f1"):
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = bootstrap_ci(y_true, pred, metric,
                                                                                     n_boot, seed=seed)
        rows[name] = row
    return pd.DataFrame(rows).T


def mcnemar(y_true, pred_a, pred_b) -> dict:
    """McNemar's exact test: do classifiers A and B have the same error rate on these images?

    Only the discordant images count: ``a_only`` (A right, B wrong) and ``b_only``. Under the null hypothesis
    each discordant image is a fair coin flip, so the p-value is a two-sided binomial test."""
    from scipy.stats import binomtest
    y_true = np.asarray(y_true)
    a_right, b_right = np.asarray(pred_a) == y_true, np.asarray(pred_b) == y_true
    a_only, b_only = int((a_right & ~b_right).sum()), int((~a_right & b_right).sum())
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p_value": float(p)}


# ----------------------------------------------------------------------------------------------------------
# Calibration: is a 90%-confident prediction right 90% of the time?
# ----------------------------------------------------------------------------------------------------------

def reliability(y_true, proba, bins: int = 15) -> pd.DataFrame:
    """Per confidence bin: number of predictions, mean confidence and accuracy."""
    conf, pred = proba.max(axis=1), proba.argmax(axis=1)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        m = which == b
        rows.append({"bin": b, "low": edges[b], "high": edges[b + 1], "n": int(m.sum()),
                     "confidence": float(conf[m].mean()) if m.any() else np.nan,
                     "accuracy": float((pred[m] == np.asarray(y_true)[m]).mean()) if m.any() else np.nan})
    return pd.DataFrame(rows)


def ece(y_true, proba, bins: int = 15) -> float:
    """Expected calibration error: the gap |accuracy - confidence| per bin, weighted by the bin's size."""
    table = reliability(y_true, proba, bins).dropna()
    return float((table["n"] * (table["accuracy"] - table["confidence"]).abs()).sum() / len(y_true))


def fit_temperature(y_true, proba) -> float:
    """Temperature T that minimises the negative log-likelihood of ``softmax(log p / T)`` (fit it on the
    selection split). T > 1 softens over-confident predictions; the predicted class never changes."""
    from scipy.optimize import minimize_scalar
    logp = np.log(np.clip(proba, 1e-12, 1))
    y = np.asarray(y_true)

    def nll(log_t):
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())

    return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))


def apply_temperature(proba, temperature: float) -> np.ndarray:
    """Probabilities rescaled by a temperature: ``softmax(log p / T)``."""
    z = np.log(np.clip(proba, 1e-12, 1)) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)
