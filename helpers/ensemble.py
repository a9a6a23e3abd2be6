"""Ensembles: average the class probabilities of several networks, chosen on PublicTest; and distillation,
one network taught by an ensemble.

    python -m helpers.ensemble RUN_DIR [--data DIR] [--also models/fer2013_cnn.keras] [--save] [--teach]
    python -m helpers.ensemble OUT_DIR --also models/fer2013_cnn.keras runs/other/model.keras

A run trained with ``cycles`` > 1 (:func:`helpers.train.fit`, recipe ``cpu_wide_snapshots``) keeps the model
at the end of each cosine cycle in ``RUN_DIR/snapshots/``: a *snapshot ensemble* (Huang et al. 2017,
"Snapshot Ensembles: Train 1, get M for free"), several networks for the training time of one. The
candidates are the last m snapshots for every m (m = 1 is the run's final network), and, with ``--also``,
the same plus independently trained networks (an ensemble of independent runs; with ``--also`` and a folder
without ``snapshots/``, those networks alone: each one, every group of them, all of them together). Each
candidate is scored with each test-time augmentation (:func:`helpers.evaluate.views`); the one best on
PublicTest is chosen (ties: fewer members, then fewer views). The printed table shows PublicTest only, then
the choice's PrivateTest score; ``RUN_DIR/ensemble.json`` keeps every candidate's PrivateTest scores too, for
the record (how well a choice on PublicTest carries over), never to choose. It also prints how many of the
members' PublicTest errors are shared (:func:`shared_errors`): faces that every member gets wrong are out of
any average's reach (some of them are drawn in ``RUN_DIR/shared_errors.png``). The table, the choice, its
scores and the shared errors go to ``RUN_DIR/ensemble.json``; ``--save`` also writes the chosen ensemble as
one Keras model, ``RUN_DIR/ensemble.keras``, with the same input and output as a single network.

``--teach`` writes the chosen ensemble's probabilities for every Training image (with flip TTA: 2 views,
whatever TTA was chosen, to keep the cost at 2 passes per member) to ``RUN_DIR/teacher_train.npz`` (float16,
with the file of each image): the soft targets of a student network (Hinton et al. 2015, "Distilling the
Knowledge in a Neural Network"; :func:`distillation_targets`, recipe ``cpu_wide_student``).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from helpers import data, evaluate, plots
from helpers.backend import keras
from helpers.files import write_text

TTAS = ("none", "flip", "shifts")       # cheapest first: ties go to fewer views


def snapshot_paths(run_dir: str | Path) -> list[Path]:
    """The snapshots of a cyclic run, in the order of their cycles."""
    found = sorted((Path(run_dir) / "snapshots").glob("cycle-*.keras"), key=lambda p: int(p.stem.split("-")[1]))
    if not found:
        raise FileNotFoundError(f"{Path(run_dir) / 'snapshots'} holds no cycle-<k>.keras: train with cycles > 1 "
                                f"(helpers.train.fit, recipe cpu_wide_snapshots)")
    return found


def average_model(members: list, name: str = "ensemble") -> keras.Model:
    """One Keras model whose output is the mean of the ``members``' class probabilities: same input, same
    output as each member, so whatever takes a single network (evaluation, TTA, saliency, the app) takes it.
    Costs the sum of the members at inference. Each member enters as ``member_1``, ... (names must be unique
    inside a model: a view of the member's layers under a new name; the member itself is left as it is)."""
    inputs = keras.Input(members[0].inputs[0].shape[1:])      # .inputs: functional and Sequential models alike
    outputs = [keras.Model(m.inputs[0], m.outputs[0], name=f"member_{i}")(inputs) for i, m in enumerate(members, 1)]
    averaged = keras.layers.Average(dtype="float32")(outputs) if len(members) > 1 else outputs[0]
    return keras.Model(inputs, averaged, name=name)


def candidates(n_snapshots: int, also: Sequence[str] = (), max_subsets_of: int = 6) -> dict[str, list[int]]:
    """``{label: member indices}``: the last m snapshots (indices 0..n_snapshots-1) for every m and, with
    independent networks (``also``: their names, e.g. files; indices after the snapshots), every group of them
    (each alone, labelled by its name, every pair and so on, up to all of them; with more than
    ``max_subsets_of`` networks, only each alone and all together) and all of them with the last m snapshots."""
    last = {m: list(range(n_snapshots - m, n_snapshots)) for m in range(1, n_snapshots + 1)}
    found = {f"last {m} snapshot{'s' * (m > 1)}": idx for m, idx in last.items()}
    if also:
        extra = list(range(n_snapshots, n_snapshots + len(also)))
        sizes = range(1, len(also) + 1) if len(also) <= max_subsets_of else (1, len(also))
        for size in sizes:
            for group in itertools.combinations(range(len(also)), size):
                if size == 1:
                    label = f"{also[group[0]]} alone"
                elif size == len(also):
                    label = "all independent"
                else:
                    label = " + ".join(also[i] for i in group)
                found[label] = [extra[i] for i in group]
        found.update({f"last {m} snapshot{'s' * (m > 1)} + all independent": idx + extra for m, idx in last.items()})
    return found


def score_table(proba: dict, labels: dict, groups: dict[str, list[int]]) -> pd.DataFrame:
    """Accuracy and macro-F1 of each candidate (averaged members) with each TTA on each split.

    ``proba[split][tta]``: an array (members, images, classes); ``labels[split]``: the true classes."""
    rows = []
    for name, idx in groups.items():
        for tta in TTAS:
            row = {"ensemble": name, "members": len(idx), "tta": tta}
            for split, by_tta in proba.items():
                got = evaluate.scores(labels[split], by_tta[tta][idx].mean(axis=0).argmax(1))
                row.update({f"{split}_{k}": v for k, v in got.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def choose(table: pd.DataFrame) -> pd.Series:
    """The row best on PublicTest accuracy; ties go to fewer members, then to fewer views."""
    ranked = table.assign(views=table["tta"].map({t: i for i, t in enumerate(TTAS)}))
    ranked = ranked.sort_values(["public_accuracy", "members", "views"], ascending=[False, True, True],
                                kind="stable")
    return table.loc[ranked.index[0]]


def shared_errors(proba: np.ndarray, labels: np.ndarray, names: Sequence[str]) -> dict:
    """Why averaging gains little or much: which faces the members get wrong, from ``proba`` (members, images,
    classes) and the true ``labels``. An average can only change a face that some member gets right, so faces
    every member gets wrong are out of its reach (``all_wrong``); ``any_right`` is the ceiling of any way of
    combining them (an oracle that picks the right member for each face). For each pair, ``shared`` is the
    fraction of the faces either gets wrong that both get wrong: near 1, the two are nearly one network.
    ``all_wrong_agreeing``: the faces every member gets wrong *with the same class*, a hint of a doubtful
    label (or of a face that looks like another class to every network)."""
    guess = np.asarray(proba).argmax(axis=2)
    wrong = guess != np.asarray(labels)
    pairs = []
    for a, b in itertools.combinations(range(len(names)), 2):
        both, either = int((wrong[a] & wrong[b]).sum()), int((wrong[a] | wrong[b]).sum())
        pairs.append({"pair": f"{names[a]} + {names[b]}", "both_wrong": both, "one_only": either - both,
                      "shared": both / either if either else 1.0})
    all_wrong = int(wrong.all(axis=0).sum())
    agreeing = int((wrong.all(axis=0) & (guess == guess[0]).all(axis=0)).sum())
    return {"images": int(wrong.shape[1]), "wrong_each": [int(w) for w in wrong.sum(axis=1)],
            "all_wrong": all_wrong, "all_wrong_agreeing": agreeing, "any_right": 1 - all_wrong / wrong.shape[1],
            "pairs": pairs}


def shared_errors_figure(images: np.ndarray, labels: np.ndarray, proba: np.ndarray, classes: Sequence[str],
                         n: int = 32, seed: int = 0):
    """Up to ``n`` random faces that every member gets wrong (``proba``: members, images, classes), each titled
    with its label and the members' average answer: what no average of these networks can fix."""
    labels = np.asarray(labels)
    every = np.flatnonzero((np.asarray(proba).argmax(axis=2) != labels).all(axis=0))
    pick = np.sort(np.random.default_rng(seed).choice(every, min(n, len(every)), replace=False))
    said = np.asarray(proba).mean(axis=0).argmax(axis=1)
    titles = [f"label {classes[labels[i]]}\nsaid {classes[said[i]]}" for i in pick]
    return plots.image_grid(images[pick], titles, ncols=8, size=1.35,
                            suptitle=f"{len(pick)} of the {len(every)} faces every network gets wrong")


def member_probabilities(paths: list[Path], ds, splits=("public", "private")) -> dict:
    """``{split: {tta: array (members, images, classes)}}`` for the saved models at ``paths``; one model in
    memory at a time, each split seen once through all 10 views (:func:`helpers.evaluate.proba_each_tta`)."""
    per_member = []
    for i, path in enumerate(paths, start=1):
        print(f"  predicting with {path} ({i}/{len(paths)})", flush=True)
        model = keras.models.load_model(path, compile=False)
        per_member.append({s: evaluate.proba_each_tta(model, ds.xy(s)[0]) for s in splits})
        del model
    return {s: {t: np.stack([m[s][t] for m in per_member]) for t in TTAS} for s in splits}


def distillation_targets(labels: np.ndarray, teacher: np.ndarray, weight: float = 0.5,
                         temperature: float = 2.0) -> np.ndarray:
    """What a student network learns for each training image (Hinton et al. 2015): ``weight`` of the teacher's
    probabilities, softened by ``temperature`` (``p ** (1 / T)``, renormalised: T > 1 lifts the small ones,
    the teacher's knowledge of which wrong classes a face resembles), plus ``1 - weight`` of the one-hot
    label. Rows sum to 1; ``weight=0`` gives the labels alone."""
    soft = np.asarray(teacher, "float64") ** (1 / temperature)
    soft /= soft.sum(axis=1, keepdims=True)
    onehot = np.eye(teacher.shape[1])[np.asarray(labels)]
    return (weight * soft + (1 - weight) * onehot).astype("float32")


def save_teacher(path: str | Path, ds, teacher, made_of: list, tta: str = "flip") -> Path:
    """The ``teacher`` (a model: one network or :func:`average_model`) on every image of ``ds``'s train split,
    with ``tta``, written with each image's file to ``path`` (float16 probabilities: ~0.4 MB for FER2013's
    Training); ``made_of``: the saved files the teacher was built from, only recorded with it (provenance)."""
    proba = evaluate.predict_proba(teacher, ds.xy("train")[0], tta=tta)
    np.savez_compressed(path, proba=proba.astype("float16"), paths=ds.paths[ds.splits == "train"],
                        classes=np.array(ds.classes), members=np.array([str(p) for p in made_of]),
                        tta=np.array(tta))
    return Path(path)


def load_teacher(path: str | Path, ds) -> np.ndarray:
    """The teacher's probabilities saved by :func:`save_teacher`, one row per image of ``ds``'s train split, in
    its order (matched by file, so a train split with fewer images, e.g. without the leaked ones, works)."""
    saved = np.load(path)
    if list(saved["classes"]) != list(ds.classes):
        raise ValueError(f"{path}: the teacher's classes {list(saved['classes'])} are not the dataset's "
                         f"{list(ds.classes)}")
    row = {p: i for i, p in enumerate(saved["paths"])}
    wanted = ds.paths[ds.splits == "train"]
    missing = [p for p in wanted if p not in row]
    if missing:
        raise ValueError(f"{path} has no teacher prediction for {len(missing)} training image(s), e.g. "
                         f"{missing[0]}: it was made for another dataset")
    return saved["proba"][[row[p] for p in wanted]].astype("float32")


def main(argv=None) -> int:
    """``python -m helpers.ensemble``: see the module's docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.ensemble",
        description="Average the snapshots of a cyclic run (and other networks); "
                    "choose on PublicTest, print PrivateTest for the choice.")
    parser.add_argument("run_dir", help="a run folder with snapshots/cycle-<k>.keras (train with cycles > 1); "
                                        "with --also, any folder for the results")
    parser.add_argument("--data", default=None, help="dataset path (default: $FER_DATA, data/, demo)")
    parser.add_argument("--also", nargs="*", default=[], help="independently trained models to add")
    parser.add_argument("--save", action="store_true", help="write the chosen ensemble as RUN_DIR/ensemble.keras")
    parser.add_argument("--teach", action="store_true",
                        help="write its probabilities on Training to RUN_DIR/teacher_train.npz (for distillation)")
    args = parser.parse_args(argv)
    run = Path(args.run_dir)
    also = [Path(p) for p in args.also]
    missing = [str(p) for p in also if not p.is_file()]
    if missing:
        parser.error(f"--also: no such model file: {', '.join(missing)}")
    snapshots = snapshot_paths(run) if (run / "snapshots").is_dir() or not also else []   # independent runs alone
    ds = data.load(args.data)
    paths = snapshots + also
    proba = member_probabilities(paths, ds)
    labels = {s: ds.xy(s)[1] for s in proba}
    groups = candidates(len(snapshots), [str(p) for p in also])
    table = score_table(proba, labels, groups)
    best = choose(table)
    with pd.option_context("display.width", 200, "display.max_rows", 200, "display.precision", 4):
        print(table.drop(columns=[c for c in table if c.startswith("private_")]).to_string(index=False))
    print(f"Chosen on PublicTest: {best['ensemble']} with TTA {best['tta']}: PublicTest "
          f"{best['public_accuracy']:.2%}, PrivateTest {best['private_accuracy']:.2%} (the only PrivateTest score "
          f"printed; every candidate's is in {run / 'ensemble.json'}, for the record).")
    overlap = shared_errors(proba["public"]["none"], labels["public"], [str(p) for p in paths])
    chosen = [str(paths[i]) for i in groups[best["ensemble"]]]
    write_text(run / "ensemble.json", json.dumps({
        "members": [str(p) for p in paths], "chosen": {"ensemble": best["ensemble"], "tta": best["tta"],
                                                        "members": chosen},
        "scores": best.to_dict(),
        "table": table.to_dict(orient="records"), "public_errors": overlap,
        "data": data.without_machine_paths(ds.source)},
        indent=1, default=lambda v: v.item()))                  # numpy scalars
    if len(paths) > 1:
        shares = [p["shared"] for p in overlap["pairs"]]
        print(f"PublicTest errors (no TTA): {overlap['all_wrong']} faces wrong for every member, "
              f"{overlap['all_wrong'] / max(np.mean(overlap['wrong_each']), 1):.0%} of a member's errors (out of an "
              f"average's reach: any way of combining them is right on at most {overlap['any_right']:.1%}); "
              f"pairs share {min(shares):.0%}" + (f"-{max(shares):.0%}" if max(shares) > min(shares) else "")
              + f" of their errors; on {overlap['all_wrong_agreeing']} of those faces every member gives the same "
              f"wrong class.")
    if len(paths) > 1 and overlap["all_wrong"]:
        figure = shared_errors_figure(ds.xy("public")[0], labels["public"], proba["public"]["none"], ds.classes)
        drawn = io.BytesIO()
        figure.savefig(drawn, format="png", dpi=100)
        Image.open(drawn).convert("L").save(run / "shared_errors.png", optimize=True)   # all grey: half the bytes
        print(f"Some of them: {run / 'shared_errors.png'}")
    if args.save or args.teach:
        model = average_model([keras.models.load_model(p, compile=False) for p in chosen])
    if args.save:
        model.save(run / "ensemble.keras")
        print(f"Saved {run / 'ensemble.keras'} ({len(chosen)} members).")
    if args.teach:
        saved = save_teacher(run / "teacher_train.npz", ds, model, chosen)
        print(f"Teacher's soft targets: {saved} (flip TTA); train a student with "
              f"python -m helpers.train --recipe cpu_wide_student --teacher {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
