"""Data quality checks: exact duplicates, train/test leakage, conflicting labels and near-blank images.

FER2013 has all of these (its README says so); a data lesson finds them and says what it does about them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from helpers.dataset import Dataset


def image_hashes(images: np.ndarray) -> np.ndarray:
    """A content hash per image: equal hashes mean pixel-identical images."""
    return np.array([hashlib.blake2b(img.tobytes(), digest_size=12).hexdigest() for img in images])


def duplicate_groups(ds: Dataset) -> pd.DataFrame:
    """One row per image that has at least one pixel-identical twin: its group, split, label and path.

    Columns: ``group`` (same number = same pixels), ``split``, ``label``, ``path``,
    ``cross_split`` (the group spans several splits: leakage), ``conflict`` (the group has several labels).
    """
    frame = pd.DataFrame({"hash": image_hashes(ds.images), "split": ds.splits,
                          "label": ds.label_names(), "path": ds.paths})
    frame = frame[frame.duplicated("hash", keep=False)].copy()
    grouped = frame.groupby("hash")
    frame["group"] = grouped.ngroup()
    frame["cross_split"] = grouped["split"].transform("nunique") > 1
    frame["conflict"] = grouped["label"].transform("nunique") > 1
    return frame.drop(columns="hash").sort_values(["group", "split"]).reset_index(drop=True)


def train_test_leaks(ds: Dataset) -> np.ndarray:
    """Indices of ``train`` images whose exact pixels also appear in ``public`` or ``private``.

    Dropping them from training can only make the test numbers more honest.
    """
    hashes = image_hashes(ds.images)
    held_out = set(hashes[ds.splits != "train"])
    return np.flatnonzero((ds.splits == "train") & np.isin(hashes, list(held_out)))


def without_train_leaks(ds: Dataset) -> tuple[Dataset, int]:
    """``ds`` without the ``train`` images that are pixel-identical to a test image, and how many were dropped.
    Every notebook that trains or fits uses it, so all of them learn from the same Training set."""
    leaks = train_test_leaks(ds)
    return ds.take(np.setdiff1d(np.arange(len(ds)), leaks)), len(leaks)


def near_blank(ds: Dataset, max_std: float = 3.0) -> np.ndarray:
    """Indices of images that are (almost) one flat grey level: pixel standard deviation below ``max_std``."""
    std = ds.images.reshape(len(ds), -1).std(axis=1)
    return np.flatnonzero(std < max_std)
