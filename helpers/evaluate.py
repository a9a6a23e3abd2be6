"""Predictions -> metrics: accuracy, macro scores, per-class reports, test-time augmentation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, f1_score

from helpers.data import Dataset


def predict_proba(model, images: np.ndarray, tta: bool = False, batch_size: int = 256) -> np.ndarray:
    """Class probabilities for raw 0-255 images. ``tta=True`` averages them with the horizontally
    flipped faces' (test-time augmentation: a face and its mirror show the same expression)."""
    x = np.asarray(images, dtype="float32")
    p = model.predict(x, batch_size=batch_size, verbose=0)
    if tta:
        p = (p + model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)) / 2
    return p


def scores(y_true, y_pred) -> dict:
    """Accuracy and macro-F1 of label predictions."""
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}


def split_scores(model, ds: Dataset, splits=("public", "private")) -> dict:
    """``{split: {accuracy, macro_f1, accuracy_tta, macro_f1_tta, n}}`` for a Keras model on ``ds``."""
    out = {}
    for s in splits:
        x, y = ds.xy(s)
        plain = scores(y, predict_proba(model, x).argmax(1))
        tta = scores(y, predict_proba(model, x, tta=True).argmax(1))
        out[s] = {**plain, **{f"{k}_tta": v for k, v in tta.items()}, "n": int(len(y))}
    return out


def report(y_true, y_pred, classes) -> pd.DataFrame:
    """scikit-learn's classification report (per class, macro and weighted) as a table."""
    rep = classification_report(y_true, y_pred, labels=range(len(classes)), target_names=list(classes),
                                output_dict=True, zero_division=0)
    return pd.DataFrame(rep).T
