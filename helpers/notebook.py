"""What the modelling notebooks (02-05) do first, written once: size the run, then load the data they model.

    FAST_MODE = notebook.fast_mode(FAST_MODE, DATA_DIR)
    ds, n_leaks = notebook.modelling_data(DATA_DIR, seed=SEED, fast=FAST_MODE, sample={"train": 250, ...})

Without real data the notebooks run on the generated demo faces, which only show the mechanics: there they
always run at FAST_MODE size (a few minutes for the whole workbook), whatever the parameter says.
"""

from __future__ import annotations

from helpers import audit, data

DEMO_NOTE = ("DEMO DATA: no real dataset was found, so this notebook runs on generated cartoon faces at "
             "FAST_MODE size. It shows the mechanics; its numbers are not FER2013 results (README: "
             "'Getting FER2013').")


def fast_mode(fast: bool, data_dir=None) -> bool:
    """``FAST_MODE`` for this run: the parameter, or ``True`` whenever no real data is found (the demo set)."""
    if not fast and data.find_data(data_dir) is None:
        print(DEMO_NOTE)
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
