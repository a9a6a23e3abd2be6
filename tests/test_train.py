"""Training loop essentials on a tiny demo set: the schedule, resuming after an interruption, saving."""

import json

import keras
import numpy as np
import pytest

from helpers import FERDataError, data, demo, distribute, evaluate, models, recipes, shipped, train


def test_warmup_cosine_schedule():
    s = train.warmup_cosine(epochs=10, peak_lr=1.0, warmup=2, floor=0.01)
    lrs = [s(e) for e in range(10)]
    assert lrs[0] < lrs[1] < lrs[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:])) and lrs[-1] == pytest.approx(0.01)


def test_budget_lr_is_warmup_cosine_when_epochs_take_equal_time():
    cosine = train.warmup_cosine(epochs=10, peak_lr=1.0)
    for done in range(10):
        assert train.budget_lr([100.0] * done, budget=1000, peak_lr=1.0) == pytest.approx(cosine(done))


def test_cycles_cut_the_budget_into_equal_cosines_with_restarts():
    seconds = [100.0] * 12                                  # 12 epochs of 100 s in a 1200 s budget, 3 cycles
    assert train.cycle_of_epochs(seconds, budget=1200, cycles=3) == [0] * 4 + [1] * 4 + [2] * 4 + [2]
    lrs = [train.budget_lr(seconds[:done], budget=1200, peak_lr=1.0, cycles=3) for done in range(12)]
    assert lrs[0] < lrs[1] < lrs[2] == pytest.approx(1.0)   # the first cycle warms up
    assert lrs[3] == pytest.approx(0.01) and lrs[7] == pytest.approx(0.01) and lrs[11] == pytest.approx(0.01)
    assert lrs[4] == pytest.approx(1.0) and lrs[8] == pytest.approx(1.0)          # restarts at the peak
    assert lrs[4] > lrs[5] > lrs[6] > lrs[7]
    assert [train.budget_lr(seconds[:d], 1200, 1.0, cycles=1) for d in range(12)] == pytest.approx(
        [train.warmup_cosine(12, 1.0)(d) for d in range(12)])
    slower = [100.0] * 4 + [250.0] * 10                     # the machine slows down in the second cycle
    cycle = train.cycle_of_epochs(slower, budget=1200, cycles=3)
    assert cycle[:7] == [0, 0, 0, 0, 1, 2, 2]     # 650 + 250 > 800: the 6th epoch would end past cycle 2's part


def test_weight_decay_shrinks_every_weight_by_lr_times_decay():
    for decay, expected in ((0.0, 1.0), (0.5, 1 - 0.1 * 0.5)):
        weight = keras.Variable(np.ones(3, "float32"))
        train.make_optimizer("sgd", lr=0.1, weight_decay=decay).apply_gradients([(np.zeros(3, "float32"), weight)])
        assert np.allclose(keras.ops.convert_to_numpy(weight), expected)    # a zero gradient: only the decay moves it


class _Stub:
    """Just what TimeBudget touches of a model."""
    stop_training = False
    optimizer = keras.optimizers.SGD(1.0)


def _simulate(budget_minutes, epoch_seconds, cycles=1, logs=None):
    """Run TimeBudget over epochs of the given durations; returns the learning rates of the epochs it allowed
    (and appends each epoch's logs to ``logs``)."""
    cb, lrs = train.TimeBudget(budget_minutes, peak_lr=1.0, cycles=cycles), []
    cb.set_model(_Stub())
    cb.model.stop_training = False
    for epoch, seconds in enumerate(epoch_seconds):
        cb.on_epoch_begin(epoch)
        lrs.append(float(cb.model.optimizer.learning_rate))
        epoch_logs = {"epoch_seconds": seconds}
        cb.on_epoch_end(epoch, epoch_logs)
        if logs is not None:
            logs.append(epoch_logs)
        if cb.model.stop_training:
            return lrs
    raise AssertionError("the budget never stopped the run")


def test_time_budget_stops_in_time_and_anneals_even_when_the_machine_slows_down():
    assert len(_simulate(10, [60.0] * 50)) == 10                   # 10 one-minute epochs fit in 10 minutes
    slowing = [60.0] * 5 + [120.0] * 50                             # half speed from the 6th epoch
    lrs = _simulate(10, slowing)
    assert sum(slowing[:len(lrs)]) <= 600 and len(lrs) == 7
    after_warmup = lrs[2:]
    assert all(a >= b for a, b in zip(after_warmup, after_warmup[1:]))
    assert lrs[-1] == pytest.approx(0.01)                           # the last epoch still gets the floor rate


def test_time_budget_marks_the_last_epoch_of_each_cycle():
    logs = []
    lrs = _simulate(10, [50.0] * 30, cycles=3, logs=logs)         # 12 epochs: 4 per cycle (200 s each)
    assert len(lrs) == 12
    assert [e["cycle"] for e in logs] == [1] * 4 + [2] * 4 + [3] * 4
    assert [i for i, e in enumerate(logs) if e["cycle_end"]] == [3, 7, 11]
    assert all(lrs[i] == pytest.approx(0.01) for i in (3, 7, 11))


def _small_model(ds):
    train.set_seeds(0)
    return models.vgg_cnn(widths=(8, 16), dense=16, augment=False, n_classes=len(ds.classes))


def test_fit_logs_metrics_and_resumes(tiny, tmp_path):
    out = tmp_path / "run"
    history = train.fit(_small_model(tiny), tiny, out, epochs=2, batch_size=32, jit_compile=False, verbose=0)
    assert {"val_accuracy", "val_macro_f1", "val_macro_precision", "val_macro_recall"} <= set(history)
    assert len(train.read_log(out)["epoch"]) == 2 and (out / "best.keras").exists()
    # a finished run is not resumed: calling fit again starts a new run (and a new log)
    train.fit(_small_model(tiny), tiny, out, epochs=2, batch_size=32, jit_compile=False, verbose=0)
    assert train.read_log(out)["epoch"] == [0, 1]


def test_faces_go_to_keras_as_uint8_and_train_exactly_as_float32_copies(tiny, tmp_path):
    """A functional model converts each batch itself, so fit hands Keras the uint8 faces (a quarter of the
    memory of float32 copies, for Keras' own copy too) and learns the very same weights; a subclassed model
    gets no such conversion, so it still gets float32."""
    import dataclasses
    plan = distribute.plan("auto")
    given, _ = train._fit_inputs(tiny, "weights", 32, 0, 0, plan, model=_small_model(tiny))
    assert given["x"].dtype == np.uint8 and given["validation_data"][0].dtype == np.uint8

    class Subclassed(keras.Model):
        def call(self, x):
            return x
    given, _ = train._fit_inputs(tiny, "weights", 32, 0, 0, plan, model=Subclassed())
    assert given["x"].dtype == np.float32 and given["validation_data"][0].dtype == np.float32

    as_floats = dataclasses.replace(tiny, images=tiny.images.astype("float32"))   # the old path's arrays
    weights = []
    for ds, out in ((tiny, "uint8"), (as_floats, "float32")):
        model = _small_model(tiny)
        train.fit(model, ds, tmp_path / out, epochs=2, batch_size=32, jit_compile=False, verbose=0)
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def test_fit_with_a_time_budget_stops_when_the_next_epoch_would_not_fit(tiny, tmp_path):
    out = tmp_path / "run"
    train.fit(_small_model(tiny), tiny, out, epochs=None, minutes=1e-4, batch_size=32, jit_compile=False,
              verbose=0)
    log = train.read_log(out)
    assert log["epoch"] == [0] and log["learning_rate"] == [pytest.approx(1e-3 / 3)]   # the first warm-up rate


def _with_callback(model, callback):
    """``model``, whose ``fit`` also runs ``callback`` (``train.fit`` builds its own callback list)."""
    original_fit = model.fit
    model.fit = lambda *a, **kw: original_fit(*a, **{**kw, "callbacks": kw["callbacks"] + [callback]})
    return model


class Interrupt(keras.callbacks.Callback):
    """Stops training as Ctrl-C would, after epoch ``after`` (0-based; ``None``: never)."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after:
            raise KeyboardInterrupt


def test_resume_after_interruption(tiny, tmp_path):
    out = tmp_path / "run"
    model = _with_callback(_small_model(tiny), Interrupt(after=1))
    with pytest.raises(KeyboardInterrupt):
        train.fit(model, tiny, out, epochs=4, batch_size=32, jit_compile=False, verbose=0)
    assert len(train.read_log(out)["epoch"]) == 2
    train.fit(_small_model(tiny), tiny, out, epochs=4, batch_size=32, jit_compile=False, verbose=0)
    assert train.read_log(out)["epoch"] == [0, 1, 2, 3]        # resumed at epoch 3, not started again


def test_a_resumed_budget_run_counts_the_time_already_spent(tiny, tmp_path):
    out = tmp_path / "run"
    run = dict(epochs=4, minutes=60, batch_size=32, jit_compile=False, verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train.fit(_with_callback(_small_model(tiny), Interrupt(after=2)), tiny, out, **run)
    train.fit(_small_model(tiny), tiny, out, **run)
    log = train.read_log(out)
    assert log["epoch"] == [0, 1, 2, 3]
    # after the warm-up the rate depends on the time spent: the resumed epoch's is that of three epochs done
    expected = train.budget_lr(log["epoch_seconds"][:3], budget=3600, peak_lr=1e-3)
    assert log["learning_rate"][3] == pytest.approx(expected, rel=1e-5) and expected < 1e-3


def test_a_resumed_run_does_not_replay_the_first_epochs(tiny, tmp_path):
    """Keras does not back up the random layers' seed states: resuming must draw new ones, or the resumed epochs
    would see the first epochs' augmentation and dropout masks again."""
    out = tmp_path / "run"
    seen = []

    class RecordSeeds(Interrupt):
        def on_train_begin(self, logs=None):
            seen.append([v.numpy().tolist() for v in self.model.variables if v.name == "seed_generator_state"])

    def build(stop_after):
        train.set_seeds(0)
        model = models.vgg_cnn(widths=(8, 16), dense=16, n_classes=len(tiny.classes))    # augmentation, dropout
        return _with_callback(model, RecordSeeds(after=stop_after))

    with pytest.raises(KeyboardInterrupt):
        train.fit(build(stop_after=0), tiny, out, epochs=2, batch_size=32, jit_compile=False, verbose=0)
    train.fit(build(stop_after=None), tiny, out, epochs=2, batch_size=32, jit_compile=False, verbose=0)
    assert train.read_log(out)["epoch"] == [0, 1]
    first, resumed = seen
    assert len(first) >= 2 and len(first) == len(resumed)      # augmentation and dropout layers
    assert all(a != b for a, b in zip(first, resumed))


def test_shipped_model_round_trip(tiny, tmp_path):
    model = _small_model(tiny)
    path = shipped.save(model, tiny.classes, tmp_path / "m.keras", {"note": "test"})
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["labels"] == tiny.classes and meta["note"] == "test"
    loaded = keras.models.load_model(path)
    p = evaluate.predict_proba(loaded, tiny.images[:5], tta=True)
    assert p.shape == (5, 7) and np.allclose(p.sum(1), 1, atol=1e-3)


def test_ema_checkpoint_holds_the_weights_that_were_validated(tiny, tmp_path):
    out = tmp_path / "run"
    model = _small_model(tiny)
    train.fit(model, tiny, out, epochs=3, batch_size=16, lr=3e-3, ema=0.6, patience=None, jit_compile=False,
              verbose=0)
    assert model.optimizer.use_ema
    log = train.read_log(out)
    best = int(np.argmax(log["val_accuracy"]))
    x, y = tiny.xy("public")
    saved = keras.models.load_model(out / "best.keras")
    loss = saved.evaluate(x.astype("float32"), keras.utils.to_categorical(y, 7), verbose=0)[0]
    # validated on the averaged weights, saved the averaged weights: the same loss (not the raw weights')
    assert loss == pytest.approx(log["val_loss"][best], rel=1e-4)


def test_ship_if_better_compares_on_public(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(shipped, "project_root", lambda: tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.csv").write_text("epoch,accuracy\n0,0.5\n")
    model = _small_model(tiny)

    def meta(public, n=30, data="fer2013 folders: fer2013"):
        return {"scores": {"public": {"accuracy": public, "n": n}}, "data": data}

    target = tmp_path / shipped.MODEL
    assert shipped.ship_if_better(model, tiny.classes, meta(0.50), run)                 # nothing shipped yet
    assert target.exists() and (tmp_path / shipped.LOG).exists()
    assert not shipped.ship_if_better(model, tiny.classes, meta(0.49), run)             # worse: kept the old
    assert json.loads(target.with_suffix(".json").read_text())["scores"]["public"]["accuracy"] == 0.50
    assert shipped.ship_if_better(model, tiny.classes, meta(0.49), run, force=True)
    assert shipped.ship_if_better(model, tiny.classes, meta(0.60), run)
    assert json.loads(target.with_suffix(".json").read_text())["scores"]["public"]["accuracy"] == 0.60
    (run / "log.csv").unlink()                                # no training log: nothing is written at all
    with pytest.raises(FERDataError, match="log.csv is missing"):
        shipped.ship_if_better(model, tiny.classes, meta(0.70), run)
    assert json.loads(target.with_suffix(".json").read_text())["scores"]["public"]["accuracy"] == 0.60


def test_only_a_model_scored_on_the_same_publictest_ships(tiny, tmp_path, monkeypatch, capsys):
    """A run on the demo set (no FER2013 found) or on another dataset has a higher PublicTest accuracy of other
    faces: it must not replace the shipped FER2013 model on that comparison."""
    monkeypatch.setattr(shipped, "project_root", lambda: tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.csv").write_text("epoch,accuracy\n0,0.5\n")
    model = _small_model(tiny)
    fer = {"scores": {"public": {"accuracy": 0.60, "n": 3589}}, "data": "fer2013 folders: fer2013"}
    assert shipped.ship_if_better(model, tiny.classes, fer, tmp_path / "run")
    demo_run = {"scores": {"public": {"accuracy": 0.95, "n": 3589}}, "data": "demo (generated faces)"}
    for force in (False, True):                                          # never, not even forced
        assert not shipped.ship_if_better(model, tiny.classes, demo_run, tmp_path / "run", force=force)
    assert "scored on the demo set" in capsys.readouterr().out
    other = {"scores": {"public": {"accuracy": 0.90, "n": 120}}, "data": "ckplus folders: ckplus"}
    assert not shipped.ship_if_better(model, tiny.classes, other, tmp_path / "run")
    assert "cannot be compared" in capsys.readouterr().out
    assert shipped.metadata()["scores"]["public"]["accuracy"] == 0.60       # the FER2013 model is still shipped
    assert shipped.ship_if_better(model, tiny.classes, other, tmp_path / "run", force=True)   # the user's call


def test_notebook_02_defaults_are_the_shipped_recipe():
    """RETRAIN = True in notebook 02 must train what was shipped, not an older recipe."""
    from helpers.data import project_root
    nb = json.loads((project_root() / "notebooks" / "02_cnn_training.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    params = {}
    exec("".join(cell["source"]), params)
    recipe = shipped.metadata()["recipe"]
    recipe.pop("name")
    names = {"model": "MODEL", "epochs": "EPOCHS", "batch_size": "BATCH_SIZE", "optimizer": "OPTIMIZER",
             "lr": "LEARNING_RATE", "imbalance": "IMBALANCE", "weight_power": "WEIGHT_POWER",
             "label_smoothing": "LABEL_SMOOTHING", "ema": "EMA", "erasing": "ERASING", "crop": "CROP",
             "weight_decay": "WEIGHT_DECAY", "minutes": "MINUTES"}
    fixed = {"schedule": "cosine", "patience": None}          # written into the notebook's fit call
    assert set(recipe) <= set(names) | set(fixed), "the recipe has a setting notebook 02 cannot reproduce"
    notebook = {**{key: params[name] for key, name in names.items()}, **fixed}
    assert {k: notebook[k] for k in recipe} == recipe
    # settings the shipped recipe does not use must be off in the notebook
    assert all(not notebook[k] for k in set(names) - set(recipe))


def _shipped():
    return shipped.load()


def test_shipped_model_has_the_documented_interface():
    model, meta = _shipped()
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, len(meta["labels"]))
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")     # raw grey levels
    assert np.allclose(model.predict(x, verbose=0).sum(1), 1, atol=1e-2)


def test_shipped_model_reproduces_its_json_on_publictest():
    """The committed model and the figures committed beside it (and quoted in the README) belong together."""
    from conftest import SESSION_DATA
    from helpers import data
    if SESSION_DATA == "demo":
        pytest.skip("needs FER2013 ($FER_DATA)")
    model, meta = _shipped()
    ds = data.load(SESSION_DATA)
    assert ds.classes == meta["labels"]
    x, y = ds.xy("public")
    public = meta["scores"]["public"]
    for tta, key in ((False, "accuracy"), ("flip", "accuracy_tta")):
        accuracy = evaluate.scores(y, evaluate.predict_proba(model, x, tta=tta).argmax(1))["accuracy"]
        assert accuracy == pytest.approx(public[key], abs=0.002), key       # bfloat16 rounds differently across CPUs


# ---- a killed run resumes with a complete, consistent log wherever the kill lands ----

def _kill_at_backup(monkeypatch, epoch, when):
    """Kill the run (as Ctrl-C or a lost machine would) just ``'before'`` or just ``'after'`` the backup of
    epoch ``epoch`` (0-based) is saved."""
    save = keras.callbacks.BackupAndRestore._save_model

    def killed(self):
        if self._current_epoch == epoch + 1 and when == "before":
            raise KeyboardInterrupt
        save(self)
        if self._current_epoch == epoch + 1 and when == "after":
            raise KeyboardInterrupt
    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "_save_model", killed)


@pytest.mark.parametrize("when", ["after", "before"])
def test_a_run_killed_around_its_backup_resumes_with_a_complete_log(tiny, tmp_path, monkeypatch, when):
    out = tmp_path / "run"
    kwargs = dict(epochs=4, batch_size=32, lr=3e-3, ema=0.5, jit_compile=False, verbose=0)
    _kill_at_backup(monkeypatch, epoch=1, when=when)
    with pytest.raises(KeyboardInterrupt):
        train.fit(_small_model(tiny), tiny, out, **kwargs)
    monkeypatch.undo()
    history = train.fit(_small_model(tiny), tiny, out, **kwargs)
    log = train.read_log(out)
    assert log["epoch"] == [0, 1, 2, 3]                        # every epoch once, in order
    assert len(log["epoch_seconds"]) == 4 and history["epoch"] == log["epoch"]    # history: the whole run
    assert json.loads((out / "history.json").read_text())["epoch"] == [0, 1, 2, 3]
    best = int(np.argmax(log["val_accuracy"]))
    x, y = tiny.xy("public")
    saved = keras.models.load_model(out / "best.keras")         # the checkpoint is the logged best epoch's
    loss = saved.evaluate(x.astype("float32"), keras.utils.to_categorical(y, 7), verbose=0)[0]
    assert loss == pytest.approx(log["val_loss"][best], rel=1e-4)


def test_ctrl_c_in_the_training_command_says_how_to_resume(tmp_path, monkeypatch, capsys):
    def interrupted(model, ds, out, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(train, "fit", interrupted)
    monkeypatch.setattr(data, "load", lambda *a, **k: demo.make_dataset(per_class=3))
    argv = ["--recipe", "cpu_compact", "--data", "demo", "--out", str(tmp_path / "run")]
    assert recipes.main(argv) == 130
    err = capsys.readouterr().err
    assert "Interrupted: 0 epoch(s) are finished" in err
    assert f"python -m helpers.train {' '.join(argv)}" in err and "Traceback" not in err


def test_a_runs_metadata_records_the_command_as_typed():
    """Its seed (a run with another seed is not the shipped one) and --ship only when it was asked for."""
    import argparse
    args = argparse.Namespace(recipe="cpu_wide_ema", minutes=125.0, epochs=None, teacher=None, seed=7, ship=False)
    assert recipes.command_line(args) == "python -m helpers.train --recipe cpu_wide_ema --minutes 125 --seed 7"
    args = argparse.Namespace(recipe="cpu_wide_ema", minutes=None, epochs=None, teacher=None,
                              seed=recipes.DEFAULT_SEED, ship=True)
    assert recipes.command_line(args) == "python -m helpers.train --recipe cpu_wide_ema --ship"


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_every_recipe_builds_its_network_and_fit_takes_its_settings(name):
    """A recipe is only run in full (hours): a setting fit does not take, or a network setting sent to fit,
    would surface there. Each recipe's network builds with its crop/size, and fit knows every other setting."""
    import inspect
    recipe = recipes.RECIPES[name]
    shape, fit_args = recipes.split_recipe(recipe)
    model = models.build(recipe["model"], augment=False, **shape)
    assert model.output_shape == (None, 7)
    unknown = set(fit_args) - set(inspect.signature(train.fit).parameters)
    assert not unknown, f"{name}: train.fit takes no {sorted(unknown)}"
    assert "model" not in fit_args and not set(shape) & set(fit_args)


def test_the_training_command_keeps_its_name():
    """``python -m helpers.train`` (quoted in the shipped model's .json and the docs) runs helpers.recipes."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "helpers.train", "--help"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "--recipe" in proc.stdout and "cpu_wide_ema" in proc.stdout


def test_a_run_too_short_for_the_weight_average_validates_what_it_trains(tmp_path, capsys):
    """ema=0.998 averages ~500 steps: over 10 epochs of 28 steps it would still be the random start, and
    validation would sit at chance while training accuracy climbs (what the demo set showed). 80 faces a
    class, so 56 validate: with 28 (40 a class) one face either way decided the assert on some machines."""
    ds = demo.make_dataset(per_class=80, seed=1)
    train.set_seeds(0)
    model = models.vgg_cnn(widths=(16, 32), dense=32, augment=False, n_classes=7, bn_momentum=0.9)
    history = train.fit(model, ds, tmp_path / "run", epochs=10, batch_size=16, lr=3e-3, ema=0.998, patience=None,
                        jit_compile=False, verbose=1)
    assert "Weight average off" in capsys.readouterr().out and not model.optimizer.use_ema
    assert max(history["accuracy"]) > 0.4                               # it trains...
    assert max(history["val_accuracy"]) > 1 / 7 + 0.15                   # ...and validation sees it
    assert train.ema_for_run(0.998, steps=None) == 0.998 and train.ema_for_run(0.998, steps=5000) == 0.998


def test_the_quick_cnn_is_trained_once_per_run_and_settings(tiny, monkeypatch, capsys):
    """Notebook 02 trains it, 04 and 05 reuse it; other settings get their own network and folder."""
    from helpers import notebook
    monkeypatch.setattr(notebook, "QUICK_CNN", notebook.QUICK_CNN._replace(epochs=1))
    first, folder = notebook.quick_cnn(tiny, seed=0, optimizer="nadam", imbalance="weights")   # the defaults
    assert len(train.read_log(folder)["val_accuracy"]) == 1
    capsys.readouterr()
    again, _ = notebook.cnn_to_study(tiny, fast=True, seed=0)                # what notebooks 04 and 05 call
    assert "reusing the quick CNN" in capsys.readouterr().out
    x = tiny.xy("public")[0][:8]
    assert np.allclose(first.predict(x, verbose=0), again.predict(x, verbose=0), atol=1e-5)
    other, other_folder = notebook.quick_cnn(tiny, seed=0, imbalance="oversample")
    assert "reusing" not in capsys.readouterr().out and other_folder != folder and other_folder.with_suffix(".keras").exists()


def test_macro_scores_are_scikit_learns():
    from sklearn.metrics import precision_recall_fscore_support
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 6, 200)                       # class 6 never occurs, and is predicted twice
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 7, 200))
    y_pred[:2] = 6
    expected = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)[:3]
    for metric, value in zip(train.macro_scores(7), expected):
        for part in (slice(0, 70), slice(70, 200)):        # accumulated over two batches
            metric.update_state(keras.utils.to_categorical(y_true[part], 7), keras.utils.to_categorical(y_pred[part], 7))
        assert float(metric.result()) == pytest.approx(value, abs=1e-6)
        metric.reset_state()
        assert float(metric.result()) == 0.0


class _OneSecondEpochs(train.EpochTimer):
    """Every epoch "takes" one second: the time budget's decisions no longer depend on the machine."""

    def on_epoch_end(self, epoch, logs=None):
        logs["epoch_seconds"] = 1.0


def test_a_cyclic_budget_keeps_a_snapshot_at_the_end_of_each_cycle(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(train, "EpochTimer", _OneSecondEpochs)
    out = tmp_path / "run"
    train.fit(_small_model(tiny), tiny, out, epochs=None, minutes=0.2, cycles=2, patience=None, batch_size=32,
              jit_compile=False, verbose=0)
    log = train.read_log(out)                   # 12 one-second epochs in 12 s: 6 per cycle
    assert log["cycle"] == [1] * 6 + [2] * 6 and log["cycle_end"] == [0] * 5 + [1] + [0] * 5 + [1]
    assert sorted(p.name for p in (out / "snapshots").iterdir()) == ["cycle-1.keras", "cycle-2.keras"]
    assert log["learning_rate"][6] > 50 * log["learning_rate"][5]          # the rate jumped back up
    last = keras.models.load_model(out / "snapshots" / "cycle-2.keras")
    assert not last.compiled and all(w.dtype == "float32" for w in last.weights)      # for predicting only
    x = tiny.xy("public")[0][:4].astype("float32")
    assert last.predict(x, verbose=0).shape == (4, len(tiny.classes))
