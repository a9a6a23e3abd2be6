"""The shipped model, ``models/fer2013_cnn.keras``, and any model saved the same way: one place that knows
where it is, reads its metadata (the ``.json`` beside it), loads it with clear errors, says whether it fits
a dataset, and replaces it only when a new run is better on PublicTest.

The ``.json`` holds ``labels`` (the class names in the order of the model's outputs), the recipe, the scores
per split, the hardware and the command that reproduces it. The per-epoch training log sits beside them.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from helpers import FERDataError
from helpers.data import project_root, user_path, where_looked
from helpers.files import atomic_path, write_text

MODEL = "models/fer2013_cnn.keras"            # relative to the project folder
LOG = "models/fer2013_cnn_log.csv"            # the shipped model's per-epoch training log
INPUT = "float32 (N, 48, 48, 1), raw grey levels 0-255"


def path(model_path: str | os.PathLike | None = None) -> Path:
    """Where a model is: ``model_path`` as :func:`helpers.data.user_path` reads it, or the shipped one."""
    return user_path(model_path) if model_path else project_root() / MODEL


def metadata(model_path: str | os.PathLike | None = None) -> dict:
    """The ``.json`` beside a model (default: the shipped one), checked to have its class names."""
    meta_path = path(model_path).with_suffix(".json")
    if not meta_path.is_file():
        raise FERDataError(f"{meta_path}: the model's class names are missing (a .json beside the .keras, "
                           f"with 'labels': the class names in output order; helpers.train writes it).")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FERDataError(f"{meta_path}: not a readable JSON file ({err}).") from err
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
        raise FERDataError(f"{meta_path}: no 'labels' list of class names (in the order of the model's "
                           f"outputs), e.g. \"labels\": [\"angry\", \"disgust\", ...].")
    return meta


def load(model_path: str | os.PathLike | None = None):
    """``(model, metadata)`` of a saved model (default: the shipped one), with an error that says what is wrong
    when the file is missing, is not a Keras model, or its ``labels`` do not match its outputs."""
    from helpers.backend import keras
    model_path = path(model_path)
    if not model_path.is_file():
        hints = filter(None, (where_looked(model_path), "train one with python -m helpers.train --ship, or pass "
                                                         "the path of a .keras file"))
        raise FERDataError(f"{model_path}: model file not found ({'; '.join(hints)}).")
    meta = metadata(model_path)
    if not zipfile.is_zipfile(model_path):         # Keras would say "File not found" for a file that is there
        raise FERDataError(f"{model_path}: not a Keras model file (a .keras file is a zip archive; this one is "
                           f"not). Pass the .keras file that helpers.train saved.")
    try:
        model = keras.models.load_model(model_path)
    except Exception as err:                 # Keras raises ValueError, OSError, zipfile errors... for a bad file
        raise FERDataError(f"{model_path}: not a Keras model file Keras can load ({type(err).__name__}: "
                           f"{str(err)[:200]}).") from err
    outputs = model.outputs[0].shape[-1]
    if outputs != len(meta["labels"]):
        raise FERDataError(f"{model_path.with_suffix('.json')}: {len(meta['labels'])} labels for a model with "
                           f"{outputs} outputs; the .json must name every output's class, in order.")
    return model, meta


def fits(ds, meta: dict | None = None) -> bool:
    """Whether the shipped model was trained for ``ds``: real data (not the demo set) with the same classes."""
    if ds.is_demo or not path().exists():
        return False
    return (meta or metadata())["labels"] == list(ds.classes)


def save(model, classes, model_path: str | os.PathLike, meta: dict) -> Path:
    """Save ``model`` (``.keras``, float32) and, beside it, a ``.json`` with the class names in output order and
    ``meta`` (recipe, accuracy per split, wall time, hardware, the command that reproduces it)."""
    from helpers.models import as_float32
    model_path = Path(model_path).with_suffix(".keras")
    with atomic_path(model_path) as tmp:
        as_float32(model).save(tmp)              # float32: runs the same on any CPU or GPU
    info = {"labels": list(classes), "input": INPUT, **meta}
    write_text(model_path.with_suffix(".json"), json.dumps(info, indent=2) + "\n")
    return model_path


def ship_if_better(model, classes, meta: dict, run_dir: str | os.PathLike, force: bool = False) -> bool:
    """Make ``model`` the shipped model (``.keras``, ``.json`` and the run's per-epoch log) if its PublicTest
    accuracy beats the shipped model's, or if nothing is shipped yet, or ``force``.

    PublicTest decides because it is the selection split; PrivateTest is only reported. The two PublicTest
    scores must be of the same faces: a model trained and scored on the demo set never ships, and one scored
    on another dataset (other classes, or another number of PublicTest faces) ships only with ``force``.
    Returns whether it shipped, and says why."""
    scored_on = meta.get("evaluated_on", meta.get("data", ""))
    if scored_on.startswith("demo"):
        print(f"Not shipped: scored on the demo set ({scored_on}); the shipped model is for real faces.")
        return False
    new = meta["scores"]["public"]["accuracy"]
    before = metadata() if path().with_suffix(".json").exists() else None
    old = before["scores"]["public"]["accuracy"] if before else None
    if before and (list(classes) != before["labels"]
                   or meta["scores"]["public"]["n"] != before["scores"]["public"]["n"]):
        if not force:
            print(f"Not shipped: its PublicTest ({meta['scores']['public']['n']} faces of {list(classes)}) is not "
                  f"the shipped model's ({before['scores']['public']['n']} faces of {before['labels']}), so the "
                  f"two cannot be compared; --force ships it anyway.")
            return False
    if not force and old is not None and new <= old:
        print(f"Not shipped: PublicTest {new:.2%} does not beat the shipped model's {old:.2%}.")
        return False
    log = Path(run_dir) / "log.csv"
    if not log.exists():                   # checked before anything is written: a model never ships half
        raise FERDataError(f"{log} is missing: the model ships with the per-epoch log of its training (for a "
                           f"fine-tuned model, copy its training run's log.csv there)")
    saved = save(model, classes, path(), meta)
    write_text(project_root() / LOG, log.read_text(encoding="utf-8"))
    print(f"Shipped {saved} (PublicTest {new:.2%}, shipped model before: "
          f"{'none' if old is None else f'{old:.2%}'}), its .json and per-epoch log.")
    return True


def card_figures(model_path=None, data_path=None, n_boot: int = 1000) -> str:
    """The figures of the model card (``models/README.md``), as Markdown: accuracy and macro-F1 per split
    with 95% bootstrap intervals and the expected calibration error, without TTA and with the TTA chosen on
    PublicTest; then precision, recall and F1 per class on PrivateTest with their intervals."""
    import numpy as np
    from helpers import audit, data, evaluate
    model, meta = load(model_path)
    ds, _ = audit.without_train_leaks(data.load(data_path, verbose=False))
    if ds.classes != meta["labels"]:
        raise FERDataError(f"the model's classes {meta['labels']} are not the dataset's {ds.classes}")
    options = {"no TTA": False, "flip": "flip", "flip + shifts": "shifts"}
    proba = {(s, name): evaluate.predict_proba(model, ds.xy(s)[0], tta=tta)
             for s in ("public", "private") for name, tta in options.items()}
    chosen = max(options, key=lambda name: np.mean(proba["public", name].argmax(1) == ds.xy("public")[1]))
    lines = ["| split | TTA | accuracy [95% CI] | macro-F1 [95% CI] | ECE |", "|---|---|---|---|---|"]
    for (s, name), p in proba.items():
        y = ds.xy(s)[1]
        acc = evaluate.bootstrap_ci(y, p.argmax(1), "accuracy", n_boot)
        f1 = evaluate.bootstrap_ci(y, p.argmax(1), "macro_f1", n_boot)
        lines.append(f"| {s} | {name} | {acc[0]:.1%} [{acc[1]:.1%}, {acc[2]:.1%}] | "
                     f"{f1[0]:.1%} [{f1[1]:.1%}, {f1[2]:.1%}] | {evaluate.ece(y, p):.3f} |")
    y = ds.xy("private")[1]
    table = evaluate.per_class_ci(y, proba["private", chosen].argmax(1), ds.classes, n_boot)
    train_counts = np.bincount(ds.xy("train")[1], minlength=len(ds.classes))
    lines += ["", f"PrivateTest per class, {chosen} (chosen on PublicTest):", "",
              "| class | Training faces | PrivateTest faces | precision | recall | F1 |", "|---|---|---|---|---|---|"]
    for (name, row), n_train in zip(table.iterrows(), train_counts):
        cells = [f"{row[m]:.1%} [{row[m + '_low']:.1%}, {row[m + '_high']:.1%}]" for m in ("precision", "recall", "f1")]
        lines.append(f"| {name} | {n_train} | {int(row['support'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(prog="python -m helpers.shipped",
                                     description="Print the model card's figures (models/README.md) as Markdown.")
    parser.add_argument("--model", default=None, help="a .keras file with its .json (default: the shipped model)")
    parser.add_argument("--data", default=None, help="FER2013 (default: $FER_DATA, then data/)")
    parser.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the intervals")
    args = parser.parse_args()
    print(card_figures(args.model, args.data, args.boot))
