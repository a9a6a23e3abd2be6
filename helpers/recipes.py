"""The full training runs of the shipped model and of every experiment, and their command line.

    python -m helpers.train [--recipe cpu_wide_ema] [--minutes 150] [--out DIR] [--ship] [--devices auto]

On several GPUs it trains data-parallel by itself; on several machines, start the same command on each with
``TF_CONFIG`` naming them all (docs/commands.md, "Several GPUs or machines"; :mod:`helpers.distribute`).

A recipe is a model name and the settings of :func:`helpers.train.fit`. Training to fit, PublicTest to
select; PrivateTest is evaluated once at the end. After training, the batch-norm statistics are recomputed
on clean Training faces when that improves PublicTest (:mod:`helpers.batchnorm`). Every run, its figures and
what it taught are in ``docs/experiments.md``. ``--ship`` replaces the shipped model only if the new run beats it on PublicTest.
Interrupted (Ctrl-C, a lost machine), the same command resumes from the last finished epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from helpers import audit, batchnorm, data, distribute, ensemble, evaluate, models, pack, shipped, train
from helpers.backend import compilable, configure_device, keras
from helpers.files import write_text

DEFAULT_SEED = 42          # the shipped model's
_CPU_SETTINGS = dict(epochs=50, batch_size=128, optimizer="nadam", lr=2e-3, imbalance="weights", weight_power=0.5,
                     label_smoothing=0.1, schedule="cosine", patience=None)

#: Every full run so far; results and lessons in docs/experiments.md.
RECIPES = {
    "cpu_compact": dict(model="compact_cnn", **_CPU_SETTINGS),                       # shipped first
    "cpu_wide": dict(model="wide_cnn", **_CPU_SETTINGS),                             # shipped next
    "cpu_wide_ema": dict(model="wide_cnn", **{**_CPU_SETTINGS, "epochs": 62}, ema=0.998),   # the shipped model
    "cpu_wide_erase": dict(model="wide_cnn", **{**_CPU_SETTINGS, "epochs": 56}, ema=0.998, erasing=0.5),
    "cpu_wide_crop": dict(model="wide_cnn", **{**_CPU_SETTINGS, "epochs": 60}, ema=0.998, crop=40),
    "cpu_wide_unweighted": dict(model="wide_cnn", **{**_CPU_SETTINGS, "epochs": 60, "imbalance": "none"},
                                ema=0.998),
    "cpu_wide_sgd": dict(model="wide_cnn", **{**_CPU_SETTINGS, "epochs": 60, "optimizer": "sgd", "lr": 0.05},
                         weight_decay=5e-3, ema=0.998),                               # decay: see make_optimizer
    # Issue 23: a snapshot ensemble (Huang et al. 2017) in the same 150-minute budget: three cosine cycles,
    # the weight average at the end of each kept (snapshots/), averaged by python -m helpers.ensemble.
    "cpu_wide_snapshots": dict(model="wide_cnn", **{**_CPU_SETTINGS, "epochs": None}, ema=0.998, minutes=150,
                               cycles=3),
    # Issue 23: distillation (Hinton et al. 2015): the same network and budget as the shipped recipe, taught by
    # an ensemble's soft predictions on Training (--teacher, from python -m helpers.ensemble RUN --teach): half
    # the target is the teacher's probabilities softened at temperature 2, half the label.
    "cpu_wide_student": dict(model="wide_cnn", **{**_CPU_SETTINGS, "epochs": None}, ema=0.998, minutes=150,
                             distill=0.5, temperature=2.0),
    # A study's MobileNet reached 63%; offline (no ImageNet weights) this is the same network from random
    # weights, faces resized to 64x64 (96x96, MobileNet's smallest ImageNet size, trained at half the images/s
    # in benchmarks/train_throughput.py), in an 85-minute budget.
    "cpu_mobilenet": dict(model="mobilenet_v2", image_size=64, **{**_CPU_SETTINGS, "epochs": None}, ema=0.998,
                          minutes=85),
    # For one modern GPU, 8 minutes of training (gpu/run.sh): what the public >= 72% FER2013 recipes share
    # (Pramerdorfer & Kampel 2016; Khaireddin & Chen 2021: a VGG-style network, SGD with Nesterov momentum,
    # a long schedule, random 40x40 crops, 10-view TTA), with the checkpoint chosen on PublicTest, never on
    # PrivateTest. The epochs are an upper bound: the cosine follows the 8-minute budget. Run for 3 minutes on an
    # H200 under JAX (2026-11-29): 84 epochs, PublicTest 67.4% (docs/experiments.md); the 8 minutes not yet.
    "gpu": dict(model="thesis_cnn", **{**_CPU_SETTINGS, "epochs": 300, "optimizer": "sgd", "lr": 0.05},
                weight_decay=5e-3, ema=0.999, crop=40, minutes=8),
}


def split_recipe(recipe: dict) -> tuple[dict, dict]:
    """A recipe's network settings (``crop``, ``image_size``: for :func:`helpers.models.build`) and its
    training settings (for :func:`helpers.train.fit`). Neither holds the model's name, the augmentation's
    ``erasing`` or the distillation settings, which :func:`main` uses itself."""
    shape = {k: v for k, v in recipe.items() if k in ("crop", "image_size")}
    fit_args = {k: v for k, v in recipe.items()
                if k not in ("model", "erasing", "distill", "temperature", "teacher", *shape)}
    return shape, fit_args


def command_line(args: argparse.Namespace) -> str:
    """The training command as typed, less what depends on the machine (data and output paths, devices):
    what a run's metadata records, so that the run can be reproduced (its seed included)."""
    flags = ((f" --minutes {args.minutes:g}" if args.minutes else "")
             + (f" --epochs {args.epochs}" if args.epochs else "")
             + (f" --teacher {args.teacher}" if args.teacher else "")
             + (f" --seed {args.seed}" if args.seed != DEFAULT_SEED else "")
             + (" --ship" if args.ship else ""))
    return f"python -m helpers.train --recipe {args.recipe}{flags}"


def main(argv=None) -> int:
    """``python -m helpers.train``: train a recipe on FER2013 (see the module's docstring)."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.train",
        description="Train a FER2013 CNN: Training to fit, PublicTest to select, "
                    "PrivateTest evaluated once at the end.")
    parser.add_argument("--recipe", default="cpu_wide_ema", choices=sorted(RECIPES),
                        help="default: the shipped model's recipe")
    parser.add_argument("--data", default=None, help="dataset path (default: $FER_DATA, data/, demo)")
    parser.add_argument("--out", default="runs/train_full", help="folder for checkpoints and logs")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--minutes", type=float, default=None,
                        help="fit the training into this much wall time instead (the cosine runs over time; "
                             "with --epochs too, that many epochs at most)")
    parser.add_argument("--ship", action="store_true",
                        help="then make it models/fer2013_cnn.keras (+ .json, log) if it beats the shipped "
                             "model on PublicTest")
    parser.add_argument("--ship-finished", action="store_true",
                        help="do not train: score the finished run in --out (its model.keras) on --data, the "
                             "original files, PrivateTest included, then ship it on the same condition (a run "
                             "trained elsewhere, e.g. by gpu/run.sh on a pack)")
    parser.add_argument("--force", action="store_true",
                        help="with --ship/--ship-finished: ship even if worse, or scored on another dataset "
                             "(never one scored on the demo set)")
    parser.add_argument("--teacher", default=None,
                        help="for a distillation recipe (cpu_wide_student): the teacher's soft targets, written "
                             "by python -m helpers.ensemble RUN --teach")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--devices", default="auto",
                        help="'auto' (every GPU, else the CPU; every worker $TF_CONFIG names) or a number of "
                             "this machine's devices; on several, --recipe's batch is per device (see "
                             "helpers.distribute)")
    args = parser.parse_args(argv)
    devices = int(args.devices) if args.devices.isdigit() else args.devices
    plan = distribute.plan(devices)              # first: several workers must set up before anything runs
    out = Path(args.out)
    if args.ship_finished:
        return ship_finished(out, args.data, args.force)
    recipe = dict(RECIPES[args.recipe])
    if args.minutes:                      # epochs: an upper bound only (None: as many as fit)
        recipe.update(minutes=args.minutes, epochs=args.epochs)
    elif args.epochs:
        recipe["epochs"] = args.epochs
    if recipe.get("distill") and not args.teacher:
        raise SystemExit(f"--recipe {args.recipe} learns from a teacher: pass --teacher RUN/teacher_train.npz "
                         f"(python -m helpers.ensemble RUN --teach writes it)")
    ds = data.load(args.data)
    ds, n_leaks = audit.without_train_leaks(ds)
    print(f"Dropped {n_leaks} Training images that are pixel-identical to a test image (leakage).")
    if recipe.get("distill"):
        recipe["targets"] = ensemble.distillation_targets(ds.xy("train")[1], ensemble.load_teacher(args.teacher, ds),
                                                          recipe["distill"], recipe["temperature"])
        recipe["teacher"] = args.teacher
    device = configure_device()
    train.set_seeds(args.seed)
    augment = models.augmentation(erasing=recipe.get("erasing", 0.0))
    shape, fit_args = split_recipe(recipe)
    model = models.build(recipe["model"], input_shape=ds.images.shape[1:], n_classes=len(ds.classes),
                         augment=augment, **shape)
    try:
        fitted = train.fit(model, ds, out, jit_compile=device["jit_compile"], devices=devices, seed=args.seed,
                           **fit_args)
    except KeyboardInterrupt:
        again = " ".join(["python -m helpers.train", *(argv if argv is not None else sys.argv[1:])])
        print(f"\nInterrupted: {train.backed_up_epochs(out)} epoch(s) are finished and backed up in {out}. "
              f"The same command resumes there: {again}", file=sys.stderr)
        return 130
    if not plan.is_chief:                         # worker 0 evaluates, writes and ships the run
        return 0
    log = train.read_log(out)
    seconds = sum(log.get("epoch_seconds", [])) or float("nan")
    images_per_s = len(log.get("epoch", [])) * int((ds.splits == "train").sum()) / seconds
    print(f"Trained {len(log.get('epoch', []))} epochs in {seconds / 60:.1f} min: {images_per_s:.0f} images/s "
          f"(with validation and checkpoints)")
    refreshed = batchnorm.refresh_if_better(model, ds)     # statistics of clean faces, if PublicTest agrees
    present = [s for s in ("public", "private") if (ds.splits == s).any()]      # a pack may hold no PrivateTest
    report = evaluate.split_scores(model, ds, present)
    settings = {k: v for k, v in recipe.items() if k != "targets"}
    meta = {"recipe": {"name": args.recipe, **settings}, "seed": args.seed, "epochs_run": len(log.get("epoch", [])),
            "best_epoch": int(np.argmax(log["val_accuracy"])) + 1 if log.get("val_accuracy") else None,
            "train_wall_minutes": round(seconds / 60, 1), "train_images_per_s": round(images_per_s),
            "hardware": {**device, "compiled": fitted["compiled"], "replicas": plan.replicas,
                         "workers": plan.workers},
            "data": data.without_machine_paths(ds.source), "dropped_train_leaks": n_leaks,
            "batch_norm": refreshed, "scores": report, "keras": keras.__version__,
            "command": command_line(args)}
    print(json.dumps(meta, indent=2))
    write_text(out / "result.json", json.dumps({"labels": list(ds.classes), **meta}, indent=2))
    shipped.save(model, ds.classes, out / "model.keras", meta)     # what --ship copies: float32, no optimizer
    if args.ship:
        shipped.ship_if_better(model, ds.classes, meta, out, args.force)
    return 0


def ship_finished(out: Path, data_path=None, force: bool = False) -> int:
    """``--ship-finished``: a run that finished elsewhere (a GPU machine trains on a lossy pack of Training and
    PublicTest) is scored here on the original files, every split they have, and shipped if it beats the
    shipped model on PublicTest. The run's ``result.json`` keeps the scores it was trained with under
    ``scores_at_training`` and gets these as ``scores``; the run's ``model.keras`` (written if the run is older
    than that file) gets the same metadata. Before scoring, its batch-norm statistics are recomputed on the
    original Training faces if that improves PublicTest (:func:`helpers.batchnorm.refresh_if_better`), unless
    the run is a fine-tuning (:mod:`helpers.finetune`) of the original faces, which tried that already (one
    of a pack records this refresh under ``finetune``, keeping the training run's own record)."""
    if not (out / "result.json").exists():
        raise SystemExit(f"{out / 'result.json'} not found: the run in {out} has not finished")
    meta = json.loads((out / "result.json").read_text(encoding="utf-8"))
    classes = meta.pop("labels")
    if (out / "model.keras").exists():
        model, _ = shipped.load(out / "model.keras")
    else:                                         # a run from before model.keras was written: its checkpoint
        model = compilable(keras.models.load_model(out / "best.keras", compile=False))
    ds, _ = audit.without_train_leaks(data.load(data_path))
    if list(ds.classes) != classes:
        raise SystemExit(f"the run's classes {classes} are not those of {ds.source}: {list(ds.classes)}")
    meta.setdefault("scores_at_training", meta["scores"])
    tuned = meta.get("finetune")
    if (ds.splits == "train").any():                  # statistics of the original faces (a pack's are lossy)
        if not tuned:
            meta["batch_norm"] = batchnorm.refresh_if_better(model, ds)
        elif pack.is_packed_source(meta.get("data", "")):
            tuned["batch_norm_original_faces"] = batchnorm.refresh_if_better(model, ds)
    meta["scores"] = evaluate.split_scores(model, ds, [s for s in ("public", "private") if (ds.splits == s).any()])
    meta["evaluated_on"] = data.without_machine_paths(ds.source)
    for split, scores in meta["scores"].items():
        print(f"{split}: accuracy {scores['accuracy']:.2%}, flip TTA {scores['accuracy_tta']:.2%}, "
              f"flip + shifts TTA {scores['accuracy_shift_tta']:.2%} ({scores['n']} faces)")
    write_text(out / "result.json", json.dumps({"labels": classes, **meta}, indent=2))
    shipped.save(model, classes, out / "model.keras", meta)
    shipped.ship_if_better(model, classes, meta, out, force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
