"""The one container every source of faces fills, :class:`Dataset` (images, labels, class names, splits), and
the tools each source needs to fill it: :func:`canonical_class` (a folder or label name -> the class name),
:func:`to_uint8` (any decoded image -> the workbook's format) and :func:`stratified_assign` (a split for
images that have none). :mod:`helpers.data` (files) and :mod:`helpers.demo` (drawn faces) both build on it.

Splits are always called ``train`` (fit), ``public`` (select: early stopping, hyper-parameters) and
``private`` (the final number only), after FER2013's Training / PublicTest / PrivateTest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import pandas as pd

SPLITS = ("train", "public", "private")

#: Every name a dataset may use for a class, mapped to the workbook's canonical name.
SYNONYMS = {
    "angry": "angry", "anger": "angry", "an": "angry",
    "disgust": "disgust", "disgusted": "disgust", "di": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear", "fe": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "ha": "happy",
    "sad": "sad", "sadness": "sad", "sa": "sad",
    "surprise": "surprise", "surprised": "surprise", "su": "surprise",
    "neutral": "neutral", "ne": "neutral", "calm": "neutral",
    "contempt": "contempt", "co": "contempt",
}


def canonical_class(name: str, class_map: dict | None = None) -> str:
    """Map a folder or label name (``'Anger'``, ``'sadness'``...) to the canonical class name, after
    ``class_map`` (folder name -> class name, e.g. AffectNet's ``{'0': 'neutral', ...}``) if it names it.

    Names the workbook does not know are kept, lower-cased, as classes of their own.
    """
    if class_map and name in class_map:
        name = class_map[name]
    key = name.strip().lower()
    return SYNONYMS.get(key, key)


@dataclass
class Dataset:
    """Images and labels that travel together with their class names and splits.

    ``images``  uint8 array (N, H, W, C), grey levels 0-255 (C = 1) or RGB (C = 3)
    ``labels``  int array (N,), indices into ``classes``
    ``classes`` class names; index i of a label or a model output means ``classes[i]``
    ``splits``  str array (N,): ``'train'``, ``'public'`` or ``'private'``
    ``paths``   where each image came from (file path, or ``file.csv:row``)
    ``source``  what was loaded, e.g. ``'fer2013 folders: /data/fer2013'`` or ``'demo'``
    ``skipped`` (where, why) for every unreadable image or bad row that was left out
    """

    images: np.ndarray
    labels: np.ndarray
    classes: list
    splits: np.ndarray
    paths: np.ndarray
    source: str
    skipped: list = field(default_factory=list)

    def __post_init__(self):
        self.classes = [str(c) for c in self.classes]   # plain names, whatever array they were read from

    @property
    def is_demo(self) -> bool:
        return self.source.startswith("demo")

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"Dataset({self.source!r}, {len(self)} images {self.images.shape[1:]}, "
                f"{len(self.classes)} classes, {split_sizes(self.splits)}, skipped={len(self.skipped)})")

    def take(self, mask_or_index) -> "Dataset":
        """A new Dataset with the selected images (boolean mask or index array)."""
        idx = np.asarray(mask_or_index)
        return Dataset(self.images[idx], self.labels[idx], list(self.classes), self.splits[idx],
                       self.paths[idx], self.source, list(self.skipped))

    def split(self, name: str) -> "Dataset":
        """Only the images of one split (``'train'``, ``'public'`` or ``'private'``)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {SPLITS}")
        return self.take(self.splits == name)

    def xy(self, name: str):
        """``(images, labels)`` of one split, ready for a model or an estimator."""
        part = self.split(name)
        return part.images, part.labels

    def sample(self, per_class: int | dict, seed: int = 0) -> "Dataset":
        """At most ``per_class`` images of each class in each split (a dict gives a number per split).

        Used by FAST_MODE to make a small, still stratified, copy of a big dataset.
        """
        rng = np.random.default_rng(seed)
        keep = []
        for s in SPLITS:
            n = per_class.get(s, 0) if isinstance(per_class, dict) else per_class
            for c in range(len(self.classes)):
                idx = np.flatnonzero((self.splits == s) & (self.labels == c))
                keep.append(rng.permutation(idx)[:n])
        return self.take(np.sort(np.concatenate(keep)))

    def counts(self) -> pd.DataFrame:
        """Images per class (rows) and split (columns), with totals."""
        return count_table(self.labels, self.classes, self.splits)

    def label_names(self) -> np.ndarray:
        """The class name of every image."""
        return np.asarray(self.classes)[self.labels]


def split_sizes(splits: np.ndarray) -> str:
    """``"train=..., public=..., private=..."``: how many images each split holds."""
    return ", ".join(f"{s}={int((splits == s).sum())}" for s in SPLITS)


def count_table(labels: np.ndarray, classes: list, splits: np.ndarray) -> pd.DataFrame:
    """Images per class (rows) and split (columns), with totals."""
    table = pd.crosstab(pd.Categorical(np.asarray(classes)[labels], classes),
                        pd.Categorical(splits, SPLITS), dropna=False)
    table.index.name, table.columns.name = "class", "split"
    table["total"] = table.sum(axis=1)
    return table


def to_uint8(image: np.ndarray, size=(48, 48), channels: int = 1) -> np.ndarray:
    """Any decoded image (grey, BGR, BGRA; 8 or 16 bit or float) -> uint8 (H, W, channels).

    Colour input is taken as OpenCV's BGR order; a 3-channel result is RGB.
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3) or img.size == 0:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, C), got {img.shape}")
    if img.dtype == np.uint16:
        img = (img / 257.0).round().astype(np.uint8)
    elif img.dtype != np.uint8:
        f = img.astype(np.float32)
        if f.max(initial=0) <= 1.0:
            f = f * 255.0
        img = np.clip(f, 0, 255).round().astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if channels == 1:
        if img.ndim == 3:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    elif channels == 3:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    else:
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    h, w = size
    if img.shape[:2] != (h, w):
        shrinking = img.shape[0] > h or img.shape[1] > w
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return img.reshape(h, w, channels)


def stratified_assign(labels: np.ndarray, fractions: dict, seed: int = 0) -> np.ndarray:
    """Give each label a split name so that every class is cut in the same proportions.

    ``fractions`` maps split name -> share (e.g. ``{'public': .1, 'private': .1}``); the rest is ``'train'``.
    """
    rng = np.random.default_rng(seed)
    out = np.full(len(labels), "train", dtype="<U8")
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        start = 0
        for name, share in fractions.items():
            n = int(round(share * len(idx)))
            if n == 0 and share > 0 and len(idx) - start > 1:      # a small class: one image, not none
                n = 1
            out[idx[start:start + n]] = name
            start += n
    return out
