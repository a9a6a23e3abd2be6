"""A trained model fine-tuned on faces as the test sees them: a few epochs at a low learning rate, mirror
images the only augmentation.

Training augments every face heavily (rotations, shifts, zooms, contrast and brightness changes), which is
what lets a network learn from 28,000 faces without memorising them; but a test face is clean, so the
finished network has been fitted to faces a little unlike the ones it will judge. Touvron et al. (2019,
"Fixing the train-test resolution discrepancy") fine-tune a trained network briefly under the test's own
preprocessing for that reason; :mod:`helpers.batchnorm` fixes the batch-norm statistics alone, this fixes the
weights too. The network is rebuilt from its recipe with a mirror as its only augmentation (test-time
augmentation mirrors too), its weights are copied in, and it trains for ``epochs`` epochs on Training with the
recipe's optimizer, weight decay, class weights and label smoothing, the learning rate falling from ``lr`` (a
tenth of the recipe's peak unless given) to 0 along a cosine. The
epoch kept is the best on PublicTest, the model as given counting as epoch 0 (so it never gets worse there);
then its batch-norm statistics are recomputed if PublicTest agrees. PrivateTest is not read here. The result's
metadata is the given model's, plus a ``finetune`` entry: every epoch's PublicTest accuracy, the command, and
the model it started from (with the git commit, or the SHA-256, that finds that file again).

    python -m helpers.finetune --out runs/finetune [--model models/fer2013_cnn.keras] [--epochs 6] [--ship]

``--ship`` then scores the result on every split and ships it if it beats the shipped model on PublicTest
(``python -m helpers.train --ship-finished --out runs/finetune`` does the same later).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from helpers import audit, balance, batchnorm, data, evaluate, models, shipped, train
from helpers.backend import configure_device, keras
from helpers.files import write_text

MIRROR_ONLY = dict(rotation=0, shift=0, zoom=0, contrast=0, brightness=0)   # models.augmentation: flips only
EPOCHS = 6
LR_SHARE = 0.1             # the rate starts at a tenth of the recipe's peak (NAdam's 2e-3: 2e-4), falls to 0


def start_rate(recipe: dict) -> float:
    """The fine-tuning's first learning rate for a network trained with ``recipe``: a tenth of the recipe's
    peak, for the recipe's own optimizer (a rate suits one optimizer only: NAdam's step is about the rate
    itself, whatever the gradient; SGD's is the rate times the gradient, which is why the GPU recipe's SGD
    peaks at 0.05 where the CPU recipes' NAdam peaks at 2e-3)."""
    return LR_SHARE * recipe.get("lr", 2e-3)


def optimizer_for(recipe: dict, lr: float, steps: int) -> keras.optimizers.Optimizer:
    """The recipe's optimizer and weight decay (:func:`helpers.train.make_optimizer`; NAdam if it names none),
    the rate falling from ``lr`` to 0 along a cosine over ``steps``; no weight average (the epochs are few)."""
    return train.make_optimizer(recipe.get("optimizer", "nadam"), keras.optimizers.schedules.CosineDecay(lr, steps),
                                weight_decay=recipe.get("weight_decay", 0.0))


def rebuilt(model: keras.Model, recipe: dict, augment=None) -> keras.Model:
    """``model``'s network built afresh from its ``recipe`` (its ``model`` name, ``crop``, ``image_size``)
    with ``augment`` as its augmentation layer (default: mirror images only), and ``model``'s weights copied
    in, layer by layer. Built under the precision policy in force, so it trains as fast as a new network."""
    from helpers.recipes import split_recipe
    shape, _ = split_recipe(recipe)
    augment = models.augmentation(**MIRROR_ONLY) if augment is None else augment
    new = models.build(recipe["model"], input_shape=model.input_shape[1:], n_classes=model.output_shape[-1],
                       augment=augment, **shape)
    old_layers = [layer for layer in model.layers if layer.name != "augmentation"]
    new_layers = [layer for layer in new.layers if layer.name != "augmentation"]

    def shapes(layers):
        return [(type(layer), [tuple(w.shape) for w in layer.weights]) for layer in layers]
    if shapes(old_layers) != shapes(new_layers):
        raise ValueError(f"the model is not a {recipe['model']!r} as its recipe says: its layers differ")
    for old, layer in zip(old_layers, new_layers):
        if old.weights:
            layer.set_weights(old.get_weights())
    return new


def finetune(model: keras.Model, recipe: dict, ds, out_dir: str | Path, epochs: int = EPOCHS,
             lr: float | None = None, batch_size: int = 128, seed: int = 0,
             verbose: int = 2) -> tuple[keras.Model, dict]:
    """Fine-tune ``model`` (trained with ``recipe``) on ``ds``'s train split as the module says (``lr``: the
    first learning rate, by default :func:`start_rate`); returns the
    epoch kept (a float32 model: ``model`` itself is not changed) and what was done: PublicTest accuracy after
    every epoch (``public``, epoch 0 first), the ``chosen`` epoch, the ``seconds`` of training and the
    batch-norm refresh. Writes the per-epoch log to ``out_dir/finetune_log.csv``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, y = ds.xy("train")
    x_public, y_public = ds.xy("public")
    n_classes = model.output_shape[-1]
    lr = start_rate(recipe) if lr is None else lr

    def public_accuracy(network):
        return evaluate.scores(y_public, evaluate.predict_proba(network, x_public).argmax(1))["accuracy"]

    best = models.as_float32(model)
    public, rows, seconds = [public_accuracy(best)], [], 0.0
    train.set_seeds(seed)
    work = rebuilt(model, recipe)
    steps = int(np.ceil(len(x) / batch_size)) * epochs
    optimizer = optimizer_for(recipe, lr, steps)
    work.compile(optimizer=optimizer,
                 loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.get("label_smoothing", 0.0)),
                 metrics=["accuracy"])
    class_weight = (balance.class_weights(y, n_classes, power=recipe.get("weight_power", 1.0))
                    if recipe.get("imbalance", "weights") == "weights" else None)
    targets = keras.utils.to_categorical(y, n_classes)
    if verbose:
        print(f"Fine-tuning {epochs} epoch{'s' if epochs != 1 else ''} on {len(x)} Training faces, mirror images "
              f"only, {type(optimizer).__name__} at {lr:g} falling to 0; PublicTest as given: {public[0]:.2%}")
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        # one fit call an epoch, each with its own "Epoch k/k" header: the line below says it instead, with
        # the Training figures (Keras' own line only for its live progress bar, verbose=1)
        history = work.fit(x, targets, batch_size=batch_size, epochs=epoch, initial_epoch=epoch - 1,
                           class_weight=class_weight, verbose=1 if verbose == 1 else 0)
        took = time.perf_counter() - start
        seconds += took
        network = models.as_float32(work)
        public.append(public_accuracy(network))
        rows.append(f"{epoch},{took:.1f},{history.history['accuracy'][-1]:.5f},"
                    f"{history.history['loss'][-1]:.5f},{public[-1]:.5f}")
        if public[-1] > max(public[:-1]):
            best = network
        if verbose:
            print(f"Fine-tuning epoch {epoch}/{epochs} ({took:.0f} s): Training loss "
                  f"{history.history['loss'][-1]:.4f}, accuracy {history.history['accuracy'][-1]:.2%}; PublicTest "
                  f"{public[-1]:.2%} (best so far {max(public):.2%})")
    write_text(out / "finetune_log.csv", "epoch,seconds,accuracy,loss,val_accuracy\n" + "\n".join(rows) + "\n")
    chosen = int(np.argmax(public))
    refreshed = batchnorm.refresh_if_better(best, ds, verbose=bool(verbose)) if chosen else None
    return best, {"epochs": epochs, "optimizer": type(optimizer).__name__.lower(), "lr": lr, "batch_size": batch_size,
                  "augment": "mirror images only", "seed": seed, "public": public, "chosen": chosen,
                  "seconds": round(seconds, 1), "batch_norm": refreshed}


def training_log_of(model_path: Path) -> Path:
    """The per-epoch log of the run that trained a model: the shipped model's, or ``log.csv`` in its run folder."""
    if model_path.resolve() == shipped.path().resolve():
        return shipped.project_root() / shipped.LOG
    return model_path.parent / "log.csv"


def portable(model_path: Path) -> str:
    """A model's path as the metadata records it: relative to the project folder, or its last part."""
    try:
        return str(model_path.resolve().relative_to(shipped.project_root().resolve()))
    except ValueError:
        return data.without_machine_paths(str(model_path))


def committed_at(path: Path) -> str | None:
    """The short hash of the last git commit that changed the file at ``path``, if git tracks it and it has not
    changed since; else None (no git, no repository, an untracked or an edited file)."""
    def git(*args):
        return subprocess.run(["git", *args, "--", path.name], cwd=path.parent, capture_output=True, text=True)
    try:
        if git("diff", "--quiet", "HEAD").returncode != 0:
            return None
        return git("log", "-1", "--format=%h").stdout.strip() or None
    except OSError:                                   # git is not installed
        return None


def described(model_path: Path) -> str:
    """The model a fine-tuning started from, as its metadata records it: its :func:`portable` path and what finds
    that very file again once it has been replaced (shipping the fine-tuned model overwrites the shipped one):
    the git commit it was last committed at, or else the start of its SHA-256."""
    commit = committed_at(model_path.resolve())
    if commit:
        return f"{portable(model_path)} as committed at git {commit}"
    return f"{portable(model_path)} (sha256 {hashlib.sha256(model_path.read_bytes()).hexdigest()[:12]})"


def command_line(args: argparse.Namespace) -> str:
    """The command as typed, less what depends on the machine (the data and output folders): what the model's
    metadata records, so that the fine-tuning can be reproduced."""
    return ("python -m helpers.finetune" + (f" --model {portable(args.model)}" if args.model else "")
            + (f" --epochs {args.epochs}" if args.epochs != EPOCHS else "")
            + (f" --lr {args.lr:g}" if args.lr is not None else "")
            + (f" --seed {args.seed}" if args.seed else "") + (" --ship" if args.ship else ""))


def main(argv=None) -> int:
    """``python -m helpers.finetune``: see the module's docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.finetune",
        description="Fine-tune a trained model on faces as the test sees them "
                    "(mirror images only, low learning rate); PublicTest chooses.")
    parser.add_argument("--model", type=Path, default=None, help="a .keras file with its .json (default: the "
                                                                 "shipped model)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the result (not the model's own)")
    parser.add_argument("--data", default=None, help="dataset path (default: $FER_DATA, data/, demo)")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS}")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate at the start (default: a tenth of the recipe's peak, for its own "
                             "optimizer: 2e-4 for the CPU recipes' NAdam, 0.005 for the GPU recipe's SGD)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ship", action="store_true", help="score on every split and ship if PublicTest improves")
    args = parser.parse_args(argv)
    model_path = shipped.path(args.model)
    if args.out.resolve() == model_path.parent.resolve():
        parser.error(f"--out must be a folder of its own, not {args.out} (the model given is never overwritten)")
    training_log = training_log_of(model_path)
    if args.ship and not training_log.exists():
        parser.error(f"--ship ships the model's training log with it, and {training_log} is not there")
    model, meta = shipped.load(model_path)
    classes = meta.pop("labels")
    ds, _ = audit.without_train_leaks(data.load(args.data))
    if list(ds.classes) != classes:
        parser.error(f"the model's classes {classes} are not those of {ds.source}: {list(ds.classes)}")
    device = configure_device()
    best, done = finetune(model, meta["recipe"], ds, args.out, args.epochs, args.lr, seed=args.seed)
    done.update(model=described(model_path), hardware=device, command=command_line(args))
    meta.update(finetune=done, scores=evaluate.split_scores(best, ds, ["public"]),
                data=data.without_machine_paths(ds.source))
    write_text(args.out / "result.json", json.dumps({"labels": classes, **meta}, indent=2,
                                                    default=lambda v: v.item()))   # numpy scalars
    shipped.save(best, classes, args.out / "model.keras", meta)
    if training_log.exists():                     # the network's own training, which --ship ships beside it
        shutil.copyfile(training_log, args.out / "log.csv")
    refreshed = done["batch_norm"] or {}
    print(f"PublicTest {done['public'][0]:.2%} as given, {max(done['public']):.2%} after epoch {done['chosen']}"
          + (f", {refreshed['public_after']:.2%} with its batch-norm statistics recomputed" if refreshed.get("kept")
             else "")
          + f" ({done['seconds'] / 60:.1f} min of fine-tuning). Wrote {args.out / 'model.keras'} and its .json.")
    if args.ship:
        from helpers.recipes import ship_finished
        return ship_finished(args.out, args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
