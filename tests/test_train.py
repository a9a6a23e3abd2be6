"""Training loop essentials on a tiny demo set: the schedule, resuming after an interruption, saving."""

import json

import keras
import numpy as np
import pytest

from helpers import demo, evaluate, models, train


def test_warmup_cosine_schedule():
    s = train.warmup_cosine(epochs=10, peak_lr=1.0, warmup=2, floor=0.01)
    lrs = [s(e) for e in range(10)]
    assert lrs[0] < lrs[1] < lrs[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:])) and lrs[-1] == pytest.approx(0.01)


@pytest.fixture(scope="module")
def tiny():
    return demo.make_dataset(per_class=12, seed=0)


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


def test_resume_after_interruption(tiny, tmp_path):
    out = tmp_path / "run"

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    model = _small_model(tiny)
    original_fit = model.fit

    def fit_with_interrupt(*args, **kwargs):
        kwargs["callbacks"] = kwargs["callbacks"] + [Interrupt()]
        return original_fit(*args, **kwargs)

    model.fit = fit_with_interrupt
    with pytest.raises(KeyboardInterrupt):
        train.fit(model, tiny, out, epochs=4, batch_size=32, jit_compile=False, verbose=0)
    assert len(train.read_log(out)["epoch"]) == 2
    train.fit(_small_model(tiny), tiny, out, epochs=4, batch_size=32, jit_compile=False, verbose=0)
    assert train.read_log(out)["epoch"] == [0, 1, 2, 3]        # resumed at epoch 3, not started again


def test_shipped_model_round_trip(tiny, tmp_path):
    model = _small_model(tiny)
    path = train.save_shipped(model, tiny.classes, tmp_path / "m.keras", {"note": "test"})
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["labels"] == tiny.classes and meta["note"] == "test"
    loaded = keras.models.load_model(path)
    p = evaluate.predict_proba(loaded, tiny.images[:5], tta=True)
    assert p.shape == (5, 7) and np.allclose(p.sum(1), 1, atol=1e-3)
