"""Datasets bigger than memory: a class-per-folder dataset read from disk batch by batch, while training.

:func:`helpers.data.load` decodes every image into memory: right for FER2013 (35,887 faces, 83 MB), not for
AffectNet (about 290,000 colour photos: 8 GB at 96x96x3). :func:`open` lists the files and decodes none;
the batches it hands to Keras are read, converted and resized on the fly, a few batches ahead of the model::

    source = stream.open("/data/affectnet", size=96, channels=3)   # seconds: a listing, no decoding
    source.counts()                                   # images per class and split, as Dataset.counts()
    train.fit(model, source, "runs/affectnet")        # fit streams every epoch from the files

The classes and splits are exactly those ``data.load`` gives the same folder (same listing, same rules, same
seed: :func:`helpers.data.list_folder`), and every image is decoded as ``data.load`` decodes it
(:func:`helpers.data.read_image`), so a model trained either way sees the same data. Memory holds the
listing and the batches in flight (Keras' ``PyDataset`` queue), whatever the size of the dataset.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from helpers import FERDataError
from helpers.backend import keras
from helpers.data import find_data, list_folder, read_image
from helpers.dataset import count_table, split_sizes


@dataclass
class FolderSource:
    """The files of a class-per-folder dataset with their labels and splits; images are read on demand.

    ``paths``, ``labels``, ``classes``, ``splits``, ``source``, ``skipped`` mean what they mean in
    :class:`helpers.data.Dataset`; ``skipped`` fills up as unreadable files are met (each once)."""

    paths: np.ndarray
    labels: np.ndarray
    classes: list
    splits: np.ndarray
    source: str
    size: tuple
    channels: int
    max_bad_fraction: float = 0.01
    skipped: list = field(default_factory=list)

    threads: int = field(default_factory=lambda: os.cpu_count() or 1)

    def __post_init__(self):
        self._lock, self._bad, self._pool = threading.Lock(), set(), None

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"FolderSource({self.source!r}, {len(self)} files streamed as {self.image_shape}, "
                f"{len(self.classes)} classes, {split_sizes(self.splits)}, skipped so far={len(self.skipped)})")

    @property
    def image_shape(self) -> tuple:
        return (*self.size, self.channels)

    def counts(self):
        """Files per class (rows) and split (columns), with totals."""
        return count_table(self.labels, self.classes, self.splits)

    def index(self, split: str) -> np.ndarray:
        """The positions of one split's files."""
        return np.flatnonzero(self.splits == split)

    def read(self, index) -> tuple:
        """``(images uint8 (n, H, W, C), labels)`` of the files at ``index``; unreadable files are left out,
        named in ``skipped``, and an error is raised once more than ``max_bad_fraction`` of all files (and
        more than 3) have failed."""
        if self._pool is None:                       # OpenCV decodes without holding Python's lock
            self._pool = ThreadPoolExecutor(max_workers=self.threads)
        images, labels = [], []
        for i, image in zip(index, self._pool.map(self._decode, index)):
            if image is not None:
                images.append(image)
                labels.append(self.labels[i])
        empty = np.zeros((0, *self.image_shape), np.uint8)
        return (np.stack(images) if images else empty), np.array(labels, dtype=np.int64)

    def _decode(self, i):
        try:
            return read_image(self.paths[i], self.size, self.channels)
        except FERDataError as err:
            self._skip(self.paths[i], str(err).removeprefix(f"{self.paths[i]}: "))
            return None

    def _skip(self, path, why):
        with self._lock:
            if path not in self._bad:
                self._bad.add(path)
                self.skipped.append((str(path), why))
            if len(self._bad) > max(3, self.max_bad_fraction * len(self)):
                listing = "\n  ".join(f"{w}: {r}" for w, r in self.skipped[:5])
                raise FERDataError(
                    f"{self.source}: {len(self._bad)} of {len(self)} files are unreadable so far, more than the "
                    f"{self.max_bad_fraction:.0%} accepted (max_bad_fraction). The first ones:\n  {listing}")

    def batches(self, split: str, batch_size: int = 128, shuffle: bool = False, seed: int = 0,
                index=None, multiple_of: int = 1) -> "Batches":
        """One split as a ``keras.utils.PyDataset`` of ``(x float32, y one-hot)`` batches, each batch's files
        decoded by ``threads`` threads. ``index``: the files to use, repeats allowed (e.g. oversampling);
        default: the whole split."""
        index = self.index(split) if index is None else np.asarray(index)
        return Batches(self.read, index, len(self.classes), batch_size, shuffle, seed, multiple_of, self.paths)


def open(path: str | os.PathLike | None = None, *, size: int | tuple = 48, channels: int = 1,
         class_map: dict | None = None, seed: int = 0, public_fraction: float = 0.1,
         private_fraction: float = 0.1, max_bad_fraction: float = 0.01) -> FolderSource:
    """List a class-per-folder dataset for streaming: the arguments mean what they mean in
    :func:`helpers.data.load` (same classes, same splits); nothing is decoded yet."""
    found = find_data(path)
    if found is None or not found.is_dir():
        raise FERDataError(f"{found or path}: streaming reads a class-per-folder dataset (a folder); load a CSV, "
                           f"a pack or the demo set into memory with data.load instead.")
    size = (size, size) if isinstance(size, int) else tuple(size)
    files, names, splits, note = list_folder(found, class_map, seed, public_fraction, private_fraction)
    classes = sorted(set(names))
    labels = np.searchsorted(classes, names)
    return FolderSource(np.array([str(f) for f in files]), labels, classes, splits, f"folders: {found}{note}",
                        size, channels, max_bad_fraction)


class Batches(keras.utils.PyDataset):
    """``(x float32, y one-hot)`` batches for ``model.fit`` / ``predict``: images at ``index`` read through
    ``read(index) -> (images, labels)`` (a :class:`FolderSource`'s files, or slices of arrays in memory).

    ``shuffle``: a new order every epoch, drawn from ``seed``. ``multiple_of``: every batch's size is cut to a
    multiple of it (JAX splits each batch evenly across devices); the last images of an epoch that do not
    fill one such share are left out of that epoch. ``paths``: the file behind each index, to name them when
    a batch holds no readable image.

    Batches are read in the training loop's own thread (the decoding itself is parallel: see
    :meth:`FolderSource.read`). Keras' ``workers=`` prefetching is not used: in Keras 3.15 it let an epoch
    see some images twice and others not at all (measured: the loss of a frozen model changed from epoch to
    epoch), and each epoch must see every image once."""

    def __init__(self, read, index, n_classes, batch_size=128, shuffle=False, seed=0, multiple_of=1, paths=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.read, self.index, self.n_classes, self.paths = read, np.asarray(index), n_classes, paths
        self.batch_size, self.shuffle, self.multiple_of = batch_size, shuffle, multiple_of
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.index) if shuffle else self.index

    def __len__(self) -> int:
        usable = len(self.index) - len(self.index) % self.multiple_of
        return math.ceil(usable / self.batch_size)

    def __getitem__(self, i):
        files = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        images, labels = self.read(files)
        keep = len(labels) - len(labels) % self.multiple_of
        if keep == 0:
            names = ", ".join(str(self.paths[j]) if self.paths is not None else f"#{j}" for j in files[:3])
            raise FERDataError(f"batch {i} has no readable image ({len(files)} files: {names}"
                               f"{', ...' if len(files) > 3 else ''}; "
                               f"{len(labels)} readable, and batches here must hold a multiple of "
                               f"{self.multiple_of})")
        y = labels[:keep] if labels.ndim == 2 else keras.utils.to_categorical(labels[:keep], self.n_classes)
        return images[:keep].astype("float32"), y.astype("float32")

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self.rng.permutation(self.index)


def array_batches(images, labels, n_classes, batch_size=128, shuffle=False, seed=0, multiple_of=1) -> Batches:
    """:class:`Batches` of arrays in memory (e.g. a :class:`helpers.data.Dataset` split). ``labels``: class
    numbers, or rows of target probabilities (soft targets)."""
    return Batches(lambda idx: (images[idx], labels[idx]), np.arange(len(labels)), n_classes, batch_size,
                   shuffle, seed, multiple_of)


__all__ = ["FolderSource", "Batches", "open", "array_batches"]
