"""What the modelling notebooks (02-05) do first, written once: size the run, load the data they model, and
(04, 05) get the CNN they study.

    FAST_MODE = notebook.fast_mode(FAST_MODE, DATA_DIR)
    ds, n_leaks = notebook.modelling_data(DATA_DIR, seed=SEED, fast=FAST_MODE, sample={"train": 250, ...})
    model, description = notebook.cnn_to_study(ds, FAST_MODE, seed=SEED)

Without real data the notebooks run on the generated demo faces, which only show the mechanics: there they
always run at FAST_MODE size (a few minutes for the whole workbook), whatever the parameter says.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import NamedTuple

import numpy as np

from helpers import audit, data, shipped
from helpers.files import atomic_path
from helpers.record import run_dir

class QuickRecipe(NamedTuple):
    model: str
    epochs: int
    batch_size: int
    augment: bool
    ema: float | None
    lr: float
    weight_power: float
    label_smoothing: float


#: The CNN recipe of every FAST_MODE run (notebook 02's, and the CNN that notebooks 04 and 05 study): the
#: compact network, small batches (enough steps on a small subset), and neither augmentation nor a weight
#: average, which pay off only over long runs; the optimiser settings are the shipped recipe's. PublicTest
#: accuracy on the demo set's FAST_MODE subset (``benchmarks/quick_recipe.py``, 2026-11-26): 5 epochs 0.61
#: without augmentation, 0.59 with flips alone, 0.24 with the full augmentation; 8 epochs 0.84, 0.80 and
#: 0.33; the HOG+LBP+Gabor SVM 0.76.
QUICK_CNN = QuickRecipe(model="compact_cnn", epochs=8, batch_size=32, augment=False, ema=None, lr=2e-3,
                        weight_power=0.5, label_smoothing=0.1)

DEMO_NOTE = ("DEMO DATA: {why}, so this notebook runs on generated cartoon faces at FAST_MODE size. It "
             "shows the mechanics; its numbers are not FER2013 results (README: 'Getting FER2013').")


def fast_mode(fast: bool, data_dir=None) -> bool:
    """``FAST_MODE`` for this run: the parameter, or ``True`` whenever no real data is found (the demo set)."""
    if not fast and data.find_data(data_dir, given_as="DATA_DIR") is None:
        asked = data.demo_asked(data_dir, given_as="DATA_DIR")
        print(DEMO_NOTE.format(why=f"{asked} is 'demo'" if asked else "no real dataset was found"))
        return True
    return bool(fast)


def modelling_data(data_dir=None, *, seed: int = 42, fast: bool = False, sample: dict | None = None,
                   max_bad_fraction: float = 0.01):
    """The data notebooks 02-05 model: :func:`helpers.data.load`, then Training images that are
    pixel-identical to a test image dropped (leakage, found in notebook 01), then, when ``fast``, a small
    stratified subset of ``sample`` images per class and split. Returns ``(dataset, n_dropped_leaks)``."""
    ds = data.load(data_dir, seed=seed, max_bad_fraction=max_bad_fraction)
    ds, n_leaks = audit.without_train_leaks(ds)
    print(f"dropped {n_leaks} Training image(s) identical to a test image (leakage)")
    if fast and sample:
        ds = ds.sample(sample, seed=seed)
        print(f"FAST_MODE subset: {ds!r}")
    return ds, n_leaks


def cnn_to_study(ds, fast: bool, seed: int = 42, verbose: int = 0):
    """The CNN the notebooks study: the shipped ``models/fer2013_cnn.keras`` when it fits ``ds`` (same
    classes, real data) and ``fast`` is off; otherwise :func:`quick_cnn`'s. Returns ``(model, description)``."""
    if not fast and shipped.fits(ds):
        model, meta = shipped.load()
        return model, f"shipped model {shipped.MODEL} ({meta['recipe']['model']})"
    model, _ = quick_cnn(ds, seed=seed, verbose=verbose)
    return model, f"{QUICK_CNN.model} trained for {QUICK_CNN.epochs} epochs (FAST_MODE or no shipped model)"


def quick_cnn(ds, seed: int = 42, verbose: int = 0, crop: int = 0, **fit_options):
    """A CNN trained on ``ds`` with :data:`QUICK_CNN` (about a minute), or the one an earlier notebook of the
    same run trained with the same data and settings (notebook 02 trains it, 04 and 05 reuse it). ``crop``
    (``models.build``) and ``fit_options`` (``train.fit``: ``optimizer``, ``imbalance``, ...) change the
    recipe, and the folder. Returns ``(model, folder)``: the folder holds its checkpoints and per-epoch log
    (``train.read_log``); the model is saved beside it as ``<folder>.keras``."""
    from helpers import models, train                  # Keras is imported here, when a CNN is wanted: notebook
    from helpers.backend import configure_device, keras   # 03 never needs it (about 0.7 GB of memory saved)
    recipe = QUICK_CNN
    defaults = inspect.signature(train.fit).parameters
    changed = {k: v for k, v in sorted(fit_options.items()) if defaults[k].default != v}
    fingerprint = hashlib.sha1(f"{recipe} {seed} {ds.classes} {crop} {changed}".encode())
    for split in ("train", "public"):                      # the data it learns from and is selected on
        for array in ds.xy(split):
            fingerprint.update(np.ascontiguousarray(array).tobytes())
    folder = run_dir() / f"quick_cnn_{fingerprint.hexdigest()[:12]}"
    saved = folder.with_suffix(".keras")
    if saved.exists():
        print(f"reusing the quick CNN an earlier notebook of this run trained ({saved.name})")
        return keras.models.load_model(saved), folder
    device = configure_device(verbose=False)
    train.set_seeds(seed)
    model = models.build(recipe.model, input_shape=ds.images.shape[1:], n_classes=len(ds.classes),
                         augment=recipe.augment, bn_momentum=0.9, crop=crop)
    train.fit(model, ds, folder, epochs=recipe.epochs, batch_size=recipe.batch_size, ema=recipe.ema, lr=recipe.lr,
              weight_power=recipe.weight_power, label_smoothing=recipe.label_smoothing, patience=None,
              jit_compile=device["jit_compile"], seed=seed, verbose=verbose, **changed)
    keras.mixed_precision.set_global_policy("float32")
    model = models.as_float32(model)
    with atomic_path(saved) as tmp:
        model.save(tmp)
    return model, folder
