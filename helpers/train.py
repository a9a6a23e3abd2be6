"""The training loop shared by the notebooks and the full runs: seeds, callbacks, schedules, ``fit``.

``fit`` trains any Keras model on a :class:`helpers.data.Dataset`: the ``train`` split to fit, the ``public``
split to select (checkpoint, early stopping). ``private`` is never touched here. Every epoch is backed up, so
an interrupted run, started again with the same ``out_dir``, resumes where it stopped.

``python -m helpers.train`` runs a full training recipe (:mod:`helpers.recipes`); device settings are in
:mod:`helpers.backend`, the shipped model in :mod:`helpers.shipped`.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from helpers import balance, distribute, models, stream
from helpers.backend import compilable, keras
from helpers.data import Dataset
from helpers.files import write_text


# ----------------------------------------------------------------------------------------------------------
# Seeds
# ----------------------------------------------------------------------------------------------------------

def set_seeds(seed: int = 42) -> None:
    """Seed Python, NumPy and TensorFlow together (call before building each model)."""
    keras.utils.set_random_seed(seed)


# ----------------------------------------------------------------------------------------------------------
# Callbacks
# ----------------------------------------------------------------------------------------------------------

@keras.saving.register_keras_serializable(package="helpers")
class MacroScore(keras.metrics.Metric):
    """Macro-averaged ``'precision'``, ``'recall'`` or ``'f1'`` over the classes, as scikit-learn computes them
    (``average='macro', zero_division=0``: the classes present in the labels or the predictions), from a
    confusion matrix kept across batches. A compiled metric: Keras computes it during validation itself (no
    second pass over the selection split) and sums it across devices when training is distributed. Logged as
    ``macro_<kind>`` (training) and ``val_macro_<kind>`` (the selection split)."""

    def __init__(self, kind: str, n_classes: int, name=None, **kwargs):
        super().__init__(name=name or f"macro_{kind}", **kwargs)
        self.kind, self.n_classes = kind, n_classes
        self.confusion = self.add_variable(shape=(n_classes, n_classes), initializer="zeros", name="confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        ops = keras.ops
        truth = ops.one_hot(ops.argmax(y_true, axis=-1), self.n_classes, dtype=self.dtype)
        guess = ops.one_hot(ops.argmax(y_pred, axis=-1), self.n_classes, dtype=self.dtype)
        self.confusion.assign_add(ops.matmul(ops.transpose(truth), guess))

    def result(self):
        ops = keras.ops
        hits, true, guessed = ops.diagonal(self.confusion), ops.sum(self.confusion, 1), ops.sum(self.confusion, 0)
        per_class = {"precision": ops.divide_no_nan(hits, guessed), "recall": ops.divide_no_nan(hits, true),
                     "f1": ops.divide_no_nan(2 * hits, true + guessed)}[self.kind]
        present = ops.cast(true + guessed > 0, self.dtype)
        return ops.divide_no_nan(ops.sum(per_class * present), ops.sum(present))

    def reset_state(self):
        self.confusion.assign(keras.ops.zeros((self.n_classes, self.n_classes), dtype=self.dtype))

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "n_classes": self.n_classes}


def macro_scores(n_classes: int) -> list:
    """The three :class:`MacroScore` metrics, for ``model.compile(metrics=[...])``."""
    return [MacroScore(kind, n_classes) for kind in ("precision", "recall", "f1")]


class EpochTimer(keras.callbacks.Callback):
    """Adds ``epoch_seconds`` (wall time of the epoch, validation included) to the logs; ``fit`` puts it after
    the callbacks that validate and checkpoint, so their time counts too. ``agree``: makes the workers of a
    run on several machines agree on one time (:meth:`helpers.distribute.Plan.agree`)."""

    def __init__(self, agree=float):
        super().__init__()
        self.agree = agree

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = self.agree(time.perf_counter() - self._start)


def warmup_cosine(epochs: int, peak_lr: float, warmup: int = 2, floor: float = 0.01):
    """Learning rate per epoch: linear warm-up to ``peak_lr``, then a cosine down to ``floor * peak_lr``."""
    def schedule(epoch, lr=None):
        if epoch < warmup:
            return peak_lr * (epoch + 1) / (warmup + 1)
        t = (epoch - warmup) / max(1, epochs - warmup - 1)
        return peak_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))
    return schedule


def epochs_that_fit(seconds: list, budget: float) -> int:
    """How many more epochs fit in ``budget`` seconds after epochs that took ``seconds``, each assumed to be as
    long as the slowest of the last three."""
    return math.floor((budget - sum(seconds)) / max(seconds[-3:]))


def budget_lr(seconds: list, budget: float, peak_lr: float, warmup: int = 2, floor: float = 0.01,
              cycles: int = 1) -> float:
    """The learning rate of the next epoch when a run must fit in ``budget`` seconds of wall time.

    ``seconds``: how long each epoch so far took. The warm-up is the same as :func:`warmup_cosine`'s; after it,
    the cosine runs over time rather than over a number of epochs: the epochs still to come are assumed to be
    as long as the slowest of the last three, and the floor is reached by the last one that fits. When every
    epoch takes the same time this is exactly ``warmup_cosine``.

    ``cycles``: cut the budget into this many equal parts (:func:`cycle_of_epochs`), each a cosine from
    ``peak_lr`` down to the floor; the rate jumps back up at the start of each (a cyclic cosine, as in
    snapshot ensembles); only the first cycle warms up."""
    done = len(seconds)
    if done < warmup or not seconds:
        return peak_lr * (done + 1) / (warmup + 1)
    cycle = cycle_of_epochs(seconds, budget, cycles)
    k = cycle[-1]                                  # the next epoch's cycle
    start = sum(seconds[:max(cycle.index(k), warmup)])     # its cosine starts here (after the warm-up)
    now, slowest = sum(seconds), max(seconds[-3:])
    last_start = now + (max(1, math.floor((budget * (k + 1) / cycles - now) / slowest)) - 1) * slowest
    t = (now - start) / (last_start - start) if last_start > start else 1.0
    return peak_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def cycle_of_epochs(seconds: list, budget: float, cycles: int = 1) -> list[int]:
    """The cycle (0, 1, ...) of each epoch so far and of the next one, when ``budget`` seconds are cut into
    ``cycles`` equal parts: an epoch starts the next cycle when, as long as the slowest of the last three, it
    would not end within its cycle's part. Replayed from the epoch times, so a resumed run finds the same."""
    found, now, k = [], 0.0, 0
    for i in range(len(seconds) + 1):
        if i and k < cycles - 1 and now + max(seconds[max(0, i - 3):i]) > budget * (k + 1) / cycles:
            k += 1
        found.append(k)
        now += seconds[i] if i < len(seconds) else 0.0
    return found


class TimeBudget(keras.callbacks.Callback):
    """Fit a run into ``minutes`` of wall time on whatever machine runs it: sets each epoch's learning rate with
    :func:`budget_lr`, and stops when one more epoch, as long as the slowest of the last three, would not fit.

    ``spent``: the seconds of the epochs already done (on resume, from the run's log). ``cycles`` > 1: a
    cyclic cosine (:func:`budget_lr`); each epoch's log then says its ``cycle`` (1, 2, ...) and whether it
    ends it (``cycle_end``, for :class:`Snapshots`)."""

    def __init__(self, minutes: float, peak_lr: float, spent=(), cycles: int = 1):
        super().__init__()
        self.budget, self.peak_lr, self.seconds, self.cycles = minutes * 60, peak_lr, list(spent), cycles

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = budget_lr(self.seconds, self.budget, self.peak_lr,
                                                       cycles=self.cycles)

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(logs["epoch_seconds"])
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        stop = epochs_that_fit(self.seconds, self.budget) < 1 or epoch + 1 >= (self.params or {}).get(
            "epochs", math.inf)
        if self.cycles > 1:
            cycle = cycle_of_epochs(self.seconds, self.budget, self.cycles)
            logs["cycle"], logs["cycle_end"] = cycle[-2] + 1, int(stop or cycle[-1] != cycle[-2])
        if stop:
            self.model.stop_training = True


class Snapshots(keras.callbacks.Callback):
    """Save the model at the end of each cycle of a cyclic schedule (``TimeBudget(cycles=...)``) as
    ``snapshots/cycle-<k>.keras`` under ``out_dir``: the members of a snapshot ensemble (Huang et al. 2017,
    "Snapshot Ensembles: Train 1, get M for free"; :mod:`helpers.ensemble`). Placed after the weight average's
    swap, it saves the average, as the best checkpoint does; in float32 and without the optimizer's state
    (a third of the size: a snapshot is for predicting, not for resuming)."""

    def __init__(self, out_dir):
        super().__init__()
        self.folder = Path(out_dir) / "snapshots"

    def on_epoch_end(self, epoch, logs=None):
        if logs and logs.get("cycle_end"):
            self.folder.mkdir(parents=True, exist_ok=True)
            models.as_float32(self.model).save(self.folder / f"cycle-{int(logs['cycle'])}.keras")


class Backup(keras.callbacks.BackupAndRestore):
    """Keras' ``BackupAndRestore`` of the run in ``out_dir``, meant to be the **last** callback: an epoch
    counts as done (for a resume) only once its validation, best checkpoint and log row are written, so a run
    killed at any moment resumes with a complete, consistent log (:func:`restore_run`). It also keeps the best
    checkpoint as of the backed-up epoch, and saves the raw weights even when ``SwapEMAWeights``
    (``ema_swap``) has put the weight average into the model for validation."""

    def __init__(self, out_dir, ema_swap=None):
        self.out = Path(out_dir)
        super().__init__(str(self.out / "backup"))
        self.ema_swap = ema_swap

    def on_epoch_end(self, epoch, logs=None):
        folder, best = self.out / "backup", self.out / "best.keras"
        folder.mkdir(parents=True, exist_ok=True)
        staged = folder / f"best.{epoch + 1}.keras"       # named by epoch: restore_run knows which to trust
        if best.exists():
            shutil.copyfile(best, staged)
        swapped = self.ema_swap is not None and self.ema_swap._ema_weights_in_model
        if swapped:
            self.ema_swap._swap_variables()                  # the raw weights go into the backup
        try:
            super().on_epoch_end(epoch, logs)                # weights, then the epoch count
        finally:
            if swapped:
                self.ema_swap._swap_variables()
        if staged.exists():
            staged.replace(folder / "best.keras")


def backed_up_epochs(out_dir: str | Path) -> int:
    """How many epochs the backup of an unfinished run in ``out_dir`` holds (0 if it holds none)."""
    meta = Path(out_dir) / "backup" / "training_metadata.json"
    try:
        return int(json.loads(meta.read_text(encoding="utf-8"))["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def restore_run(out_dir: str | Path) -> int:
    """Put an unfinished run's log and best checkpoint back as they were at its last backed-up epoch, whatever
    moment it was killed at: log rows of a later epoch (logged, not backed up) are dropped, to be run and logged
    again, and ``best.keras`` is the backup's. Returns the number of epochs done."""
    out = Path(out_dir)
    done = backed_up_epochs(out)
    log_file = out / "log.csv"
    if log_file.exists():
        lines = log_file.read_text(encoding="utf-8").splitlines(keepends=True)
        if len(lines) > done + 1:
            write_text(log_file, "".join(lines[:done + 1]))
    for saved in (out / "backup" / f"best.{done}.keras", out / "backup" / "best.keras"):
        if saved.exists():
            shutil.copyfile(saved, out / "best.keras")
            break
    else:
        (out / "best.keras").unlink(missing_ok=True)
    return done


def _best_so_far(log_file: Path, monitor: str):
    """On resume: the best ``monitor`` value already reached, so the checkpoint is not overwritten by worse."""
    if not log_file.exists():
        return None
    with log_file.open() as fh:
        values = [float(row[monitor]) for row in csv.DictReader(fh) if row.get(monitor)]
    return max(values) if values else None


# ----------------------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------------------

def make_optimizer(name: str = "nadam", lr: float = 1e-3, ema: float | None = None, weight_decay: float = 0.0):
    """``'nadam'`` (one study found it best), ``'adam'`` or ``'sgd'`` (Nesterov momentum 0.9).

    ``ema``: also keep an exponential moving average of the weights with this momentum (``0.998`` averages
    over about 500 steps); ``fit`` then validates, checkpoints and returns the averaged weights.
    ``weight_decay``: each step also shrinks every weight by ``lr * weight_decay`` of itself (Keras' decoupled
    weight decay, as in AdamW). With momentum 0.9 this is *not* the coupled decay of PyTorch's SGD, whose
    shrink goes through the momentum and so is about 10x larger: ``5e-3`` here is roughly PyTorch's ``5e-4``."""
    extra = dict(use_ema=True, ema_momentum=ema) if ema else {}
    if weight_decay:
        extra["weight_decay"] = weight_decay
    if name == "nadam":
        return keras.optimizers.Nadam(lr, **extra)
    if name == "adam":
        return keras.optimizers.Adam(lr, **extra)
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=0.9, nesterov=True, **extra)
    raise ValueError(f"unknown optimizer {name!r}: use 'nadam', 'adam' or 'sgd'")


def ema_for_run(ema: float | None, steps: int | None, verbose: int = 1) -> float | None:
    """The weight average to use in a run of ``steps`` optimisation steps (``None``: not known in advance).

    An average with momentum ``ema`` spans about ``1 / (1 - ema)`` steps (0.998: ~500) and starts from the
    random initial weights; in a run shorter than three spans it is still mostly the random start when it
    is validated, so validation stays near chance while training accuracy climbs. Such runs (FAST_MODE, the
    demo set, a small dataset of your own) validate and keep the raw weights instead, and say so."""
    if ema and steps is not None and steps < 3 / (1 - ema):
        if verbose:
            print(f"Weight average off: EMA {ema} averages over ~{round(1 / (1 - ema))} steps, and this run has "
                  f"only {steps}; the raw weights are validated and kept.")
        return None
    return ema


def fit(model: keras.Model, ds: Dataset | stream.FolderSource, out_dir: str | Path, *, epochs: int | None = 30,
        batch_size: int = 128, optimizer: str = "nadam", lr: float = 1e-3, imbalance: str = "weights",
        weight_power: float = 1.0, label_smoothing: float = 0.0, patience: int | None = 10,
        schedule: str = "cosine", ema: float | None = None, weight_decay: float = 0.0,
        minutes: float | None = None, cycles: int = 1, targets: np.ndarray | None = None, jit_compile="auto",
        devices="auto", seed: int = 42, verbose: int = 2) -> dict:
    """Train ``model`` on ``ds``'s train split, selecting on its public split; returns the history dict.

    ``ds``: a :class:`helpers.data.Dataset` in memory, or a :class:`helpers.stream.FolderSource` whose
    images are read from disk batch by batch (datasets bigger than memory).
    ``imbalance``: ``'weights'`` (class weights ``(n / (k * n_c)) ** weight_power``), ``'oversample'``
    (repeat minority images up to the largest class) or ``'none'``.
    ``schedule``: ``'cosine'`` (warm-up then cosine decay over ``epochs``) or ``'plateau'`` (halve the rate
    when the public accuracy stalls). ``minutes``: fit the run into this much wall time (:class:`TimeBudget`;
    the cosine then runs over time, and ``epochs`` is only an upper bound, ``None`` for none). ``cycles``:
    with a time budget, that many cosine cycles in it, and the model at the end of each is kept as
    ``snapshots/cycle-<k>.keras`` (a snapshot ensemble: :class:`Snapshots`, :mod:`helpers.ensemble`).
    ``ema`` and ``weight_decay``: see :func:`make_optimizer`. ``targets``: what to learn for each training
    image instead of its one-hot label, rows of probabilities in ``ds.xy("train")``'s order (distillation: a
    teacher's soft predictions mixed with the labels, :func:`helpers.ensemble.distillation_targets`); the
    class weights still come from the labels. The best epoch on public accuracy is kept (``best.keras``)
    and its weights are restored at the end. Everything is written under ``out_dir``; calling ``fit`` again
    with the same ``out_dir`` after an interruption resumes from the last finished epoch, and says so.

    ``devices``: ``'auto'`` trains data-parallel on every device and machine there is
    (:func:`helpers.distribute.plan`: several GPUs, logical CPUs, the workers of ``$TF_CONFIG``). Then
    ``batch_size`` is **per replica**: the global batch is ``batch_size * replicas``, and ``lr`` grows with it,
    times the number of replicas for SGD, times its square root for Adam/NAdam
    (:func:`helpers.distribute.scaled`). On one device nothing changes. Worker 0 writes ``out_dir``.
    Returns the per-epoch log of the whole run (:func:`read_log`, across resumes) with its ``seconds``, and
    ``compiled``: whether Keras compiled the training step (XLA), which ``jit_compile="auto"`` leaves to it.
    """
    plan = distribute.plan(devices)
    out = plan.out_dir(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if plan.replicas > 1:
        per_replica, (batch_size, lr) = batch_size, distribute.scaled(batch_size, lr, plan.replicas, optimizer)
        if verbose:
            print(f"Data-parallel on {plan.describe()}: {per_replica} images per replica, global batch "
                  f"{batch_size}, learning rate {lr:.3g} ({'linear' if optimizer == 'sgd' else 'square-root'} "
                  f"scaling).")
    if imbalance not in ("weights", "oversample", "none"):
        raise ValueError(f"imbalance must be 'weights', 'oversample' or 'none', not {imbalance!r}")
    if epochs is None and not minutes:
        raise ValueError("epochs=None (no upper bound) needs a time budget (minutes)")
    if minutes and schedule != "cosine":
        raise ValueError(f"a time budget (minutes={minutes}) needs schedule='cosine', not {schedule!r}")
    if cycles > 1 and (not minutes or patience):
        raise ValueError(f"cycles={cycles} needs a time budget (minutes: the cycles cut it) and patience=None "
                         f"(each restart lowers the public accuracy for a while: early stopping would cut a cycle)")
    log_file = out / "log.csv"
    resuming = (out / "backup").exists()          # BackupAndRestore deletes it when a run finishes
    done = restore_run(out) if resuming else 0
    inputs, y_train = _fit_inputs(ds, imbalance, batch_size, seed, done, plan, targets, model)
    class_weight = (balance.class_weights(y_train, len(ds.classes), power=weight_power)
                    if imbalance == "weights" else None)
    ema = ema_for_run(ema, steps=math.ceil(len(y_train) / batch_size) * epochs if epochs and not minutes else None,
                      verbose=verbose)
    with plan.scope():
        work = compilable(plan.adopt(model))      # on several devices: a copy whose variables are on all
        work.compile(optimizer=make_optimizer(optimizer, lr, ema, weight_decay),
                     loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
                     metrics=["accuracy", *macro_scores(len(ds.classes))], jit_compile=jit_compile)
    if not resuming:                              # a new run: forget an earlier finished run's log and best
        log_file.unlink(missing_ok=True)
        (out / "best.keras").unlink(missing_ok=True)
        shutil.rmtree(out / "snapshots", ignore_errors=True)
    else:
        print(f"Resuming the unfinished run in {out} after its epoch {done} (from {out / 'backup'}; delete that "
              f"folder to start afresh).")
        fresh_randomness(work, seed + 1 + done)   # new random draws for the epochs still to run
    best = _best_so_far(log_file, "val_accuracy")
    ema_swap = keras.callbacks.SwapEMAWeights(swap_on_epoch=True) if ema else None   # validate/save the average
    callbacks = [
        *([ema_swap] if ema else []),
        keras.callbacks.ModelCheckpoint(str(out / "best.keras"), monitor="val_accuracy", mode="max",
                                        save_best_only=True, initial_value_threshold=best),
        EpochTimer(plan.agree),                   # times the epoch with its validation and checkpoint
    ]
    if minutes:
        spent = read_log(out).get("epoch_seconds", []) if resuming and log_file.exists() else []
        callbacks.append(TimeBudget(minutes, lr, spent, cycles))
        if cycles > 1:
            callbacks.append(Snapshots(out))
        if verbose:
            print(f"Time budget {minutes:g} min ({sum(spent) / 60:.1f} spent): as many epochs as fit"
                  + (f", at most {epochs}" if epochs else "") + "; the cosine follows the time spent"
                  + (f", in {cycles} cycles, a snapshot kept at the end of each." if cycles > 1 else "."))
    elif schedule == "cosine":
        callbacks.append(keras.callbacks.LearningRateScheduler(warmup_cosine(epochs, lr)))
    elif schedule == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau("val_accuracy", mode="max", factor=0.5,
                                                           patience=max(2, (patience or 10) // 3)))
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping("val_accuracy", mode="max", patience=patience))
    callbacks.append(keras.callbacks.CSVLogger(str(log_file), append=True))      # logs everything above
    callbacks.append(Backup(out, ema_swap))                  # last: an epoch is done once it is logged
    with plan.scope():
        work.fit(**inputs, epochs=epochs or 10_000, class_weight=class_weight, callbacks=callbacks,
                 verbose=verbose)
    if (out / "best.keras").exists():
        model.set_weights(keras.models.load_model(out / "best.keras", compile=False).get_weights())
    elif work is not model:
        model.set_weights(work.get_weights())
    result = read_log(out)                        # every epoch of the run, across resumes
    result["seconds"] = sum(result.get("epoch_seconds", []))
    result["compiled"] = bool(work.jit_compile)   # what Keras did with jit_compile (see backend.compilable)
    write_text(out / "history.json", json.dumps(result, indent=1))
    return result


def _fit_inputs(ds, imbalance: str, batch_size: int, seed: int, done: int, plan, targets=None,
                model=None) -> tuple:
    """``model.fit``'s data arguments for ``ds``, and the training labels (after oversampling, if asked).
    ``targets``: soft targets for the training images (rows in ``ds.xy("train")``'s order) instead of one-hot.

    Arrays in memory go to Keras as arrays, its fastest path, and on one device as the dataset holds them (uint8)
    when ``model`` converts each batch to its input's dtype itself (:func:`casts_its_input`): a quarter of the
    memory of float32 copies, for Keras' own copy too, and the same training to the last bit. A streamed source goes
    as :class:`helpers.stream.Batches`, shuffled from a seed that counts the epochs already ``done`` (so that a
    resumed run does not replay its first epochs), and Keras does not shuffle them again (it would reorder the
    batches with Python's global random state, which differs with what ran before). On several devices each batch
    must split evenly across the replicas where it is the first of a split (Keras 3.15 under TensorFlow) or anywhere
    (JAX): JAX trains from ``Batches`` cut to a multiple of the replicas, TensorFlow from arrays of which only a
    split smaller than one global batch is cut. Either way, fewer than ``replicas`` images of a split are left out."""
    n_classes, even = len(ds.classes), plan.replicas
    if isinstance(ds, stream.FolderSource):
        if targets is not None:
            raise ValueError("soft targets (distillation) are for a Dataset in memory, not a streamed folder")
        train_index = ds.index("train")
        if imbalance == "oversample":
            train_index = train_index[balance.oversample_indices(ds.labels[train_index], seed=seed)]
        return dict(x=ds.batches("train", batch_size, shuffle=True, seed=seed + done, index=train_index,
                                 multiple_of=even), shuffle=False,          # Batches shuffles, from its seed
                    validation_data=ds.batches("public", batch_size, multiple_of=even)), ds.labels[train_index]
    x_train, y_train = ds.xy("train")
    x_val, y_val = ds.xy("public")
    if targets is not None and np.shape(targets) != (len(y_train), n_classes):
        raise ValueError(f"targets has shape {np.shape(targets)}; the train split needs ({len(y_train)}, "
                         f"{n_classes}): one row of class probabilities per training image")
    y_fit = np.asarray(targets, "float32") if targets is not None else keras.utils.to_categorical(y_train, n_classes)
    if imbalance == "oversample":
        idx = balance.oversample_indices(y_train, seed=seed)
        x_train, y_train, y_fit = x_train[idx], y_train[idx], y_fit[idx]
    if even > 1 and plan.backend == "jax":
        return dict(x=stream.array_batches(x_train, y_fit, n_classes, batch_size, True, seed + done, even),
                    shuffle=False,
                    validation_data=stream.array_batches(x_val, y_val, n_classes, batch_size,
                                                         multiple_of=even)), y_train
    if even > 1:
        x_train, y_train, y_fit, x_val, y_val = (a[:len(a) - len(a) % even] if len(a) < batch_size else a
                                                 for a in (x_train, y_train, y_fit, x_val, y_val))
    if even > 1 or not casts_its_input(model):    # (TensorFlow's all-reduce of a batch takes no uint8)
        x_train, x_val = x_train.astype("float32"), x_val.astype("float32")
    return dict(x=x_train, y=y_fit, batch_size=batch_size, shuffle=True,
                validation_data=(x_val, keras.utils.to_categorical(y_val, n_classes))), y_train


def casts_its_input(model) -> bool:
    """Whether Keras converts a batch given to ``model`` to its input's dtype before the first layer: a
    functional model and a ``Sequential`` do (uint8 faces may go in as they are), a subclassed model gets
    the batch as it comes (it has no ``inputs``)."""
    try:
        return all(keras.backend.is_float_dtype(t.dtype) for t in model.inputs)
    except AttributeError:                   # a subclassed model, or a Sequential not built yet
        return False


def fresh_randomness(model: keras.Model, seed: int) -> None:
    """Reseed the shuffling and the model's random layers (augmentation, dropout) from ``seed``.

    Keras saves neither the global seed nor these layers' seed-generator states with a backup, so without this
    a resumed run would replay its first epochs exactly: the same batches, augmented the same way, with the same
    dropout masks. On resume, ``fit`` calls it with its seed + 1 + the number of epochs already done."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    for variable in model.variables:
        if variable.name == "seed_generator_state":
            variable.assign(keras.ops.cast(rng.integers(0, 2**31, size=2), variable.dtype))


def read_log(out_dir: str | Path) -> dict:
    """The whole per-epoch log of a (possibly resumed) run, as ``{metric: [values per epoch]}``."""
    with (Path(out_dir) / "log.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in rows[0]} if rows else {}


if __name__ == "__main__":                       # python -m helpers.train: the command line is in helpers.recipes
    from helpers.recipes import main
    sys.exit(main())
