"""Fine-tuning on faces as the test sees them (helpers.finetune): the network rebuilt with mirror images only,
the epoch chosen on PublicTest (never worse than the model given), the command's files, and shipping."""

import dataclasses
import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest

from helpers import data, demo, finetune, models, shipped, train
from helpers.backend import keras

RECIPE = {"name": "cpu_compact", "model": "compact_cnn", "imbalance": "weights", "weight_power": 0.5,
          "label_smoothing": 0.1}


def _trained(ds, epochs=3):
    """A compact_cnn with the full training augmentation, trained a little on ``ds``."""
    train.set_seeds(0)
    model = models.build("compact_cnn", input_shape=ds.images.shape[1:], n_classes=len(ds.classes))
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    model.fit(*ds.xy("train"), epochs=epochs, batch_size=16, verbose=0)
    return model


def test_the_rebuilt_network_is_the_same_network_with_mirror_images_only(tiny):
    model = _trained(tiny, epochs=1)
    again = finetune.rebuilt(model, RECIPE)
    x = tiny.xy("public")[0].astype("float32")
    assert np.allclose(model.predict(x, verbose=0), again.predict(x, verbose=0), atol=1e-5)
    augmentation = again.get_layer("augmentation")
    assert [type(layer).__name__ for layer in augmentation.layers] == ["RandomFlip"]
    mirrored = keras.ops.convert_to_numpy(augmentation(x, training=True))    # each face as it is, or mirrored
    assert all(np.array_equal(m, f) or np.array_equal(m, f[:, ::-1]) for m, f in zip(mirrored, x))
    assert any(not np.array_equal(m, f) for m, f in zip(mirrored, x))
    with pytest.raises(ValueError, match="not a 'wide_cnn'"):
        finetune.rebuilt(model, {**RECIPE, "model": "wide_cnn"})


def test_the_epoch_kept_is_the_best_on_publictest_and_the_model_given_is_untouched(tmp_path):
    faces = demo.make_dataset(per_class=40, seed=3)
    model = _trained(faces)
    weights = [w.copy() for w in model.get_weights()]
    best, done = finetune.finetune(model, RECIPE, faces, tmp_path, epochs=2, lr=1e-3, batch_size=16, verbose=0)
    assert len(done["public"]) == 3 and done["chosen"] == int(np.argmax(done["public"]))
    assert done["optimizer"] == "nadam" and done["lr"] == 1e-3          # RECIPE names no optimizer: NAdam
    x, y = faces.xy("public")
    accuracy = float((best.predict(x.astype("float32"), verbose=0).argmax(1) == y).mean())
    after_bn = done["batch_norm"]["public_after"] if done["batch_norm"] and done["batch_norm"]["kept"] else None
    assert accuracy == pytest.approx(after_bn if after_bn is not None else max(done["public"]))
    assert accuracy >= done["public"][0]                          # never worse on PublicTest than as given
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    log = (tmp_path / "finetune_log.csv").read_text().splitlines()
    assert log[0] == "epoch,seconds,accuracy,loss,val_accuracy" and len(log) == 3
    assert [float(row.split(",")[-1]) for row in log[1:]] == pytest.approx(done["public"][1:], abs=1e-5)


@pytest.fixture
def same_policy():
    """The command sets the precision policy for this machine (mixed_bfloat16 on many CPUs): put it back."""
    policy = keras.config.dtype_policy()
    yield
    keras.config.set_dtype_policy(policy)


def test_the_command_writes_a_run_folder_that_ships_if_better(tiny, tmp_path, monkeypatch, capsys, same_policy):
    monkeypatch.setattr(shipped, "project_root", lambda: tmp_path / "project")
    faces = dataclasses.replace(tiny, source="fer2013 folders: /data/fer2013")   # as if real: it may ship
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: faces)
    given_dir = tmp_path / "given"
    given = shipped.save(_trained(tiny), tiny.classes, given_dir / "model.keras",
                         {"recipe": RECIPE, "scores": {"public": {"accuracy": 0.0, "n": 1}},
                          "data": "fer2013 folders: fer2013", "batch_norm": {"kept": True, "public_after": 0.0}})
    (given_dir / "log.csv").write_text("epoch,accuracy,val_accuracy\n0,0.5,0.4\n")
    before = given.read_bytes()
    out = tmp_path / "tuned"
    assert finetune.main(["--model", str(given), "--out", str(out), "--epochs", "1", "--lr", "1e-3"]) == 0
    result = json.loads((out / "result.json").read_text())
    last_line = capsys.readouterr().out.strip().splitlines()[-1]    # names the PublicTest of the model written
    assert f"{result['scores']['public']['accuracy']:.2%}" in last_line and str(out / "model.keras") in last_line
    assert result["labels"] == list(tiny.classes) and set(result["scores"]) == {"public"}
    assert len(result["finetune"]["public"]) == 2                  # the model it started from, no machine path:
    assert result["finetune"]["model"] == f"model.keras (sha256 {hashlib.sha256(before).hexdigest()[:12]})"
    assert result["finetune"]["command"] == "python -m helpers.finetune --model model.keras --epochs 1 --lr 0.001"
    assert result["scores"]["public"]["accuracy"] >= result["finetune"]["public"][0]
    assert json.loads((out / "model.json").read_text())["finetune"] == result["finetune"]
    assert (out / "log.csv").read_text() == (given_dir / "log.csv").read_text() and given.read_bytes() == before

    assert finetune.main(["--model", str(given), "--out", str(out), "--epochs", "1", "--ship"]) == 0
    shipped_meta = shipped.metadata()                            # nothing was shipped before: it ships
    assert shipped_meta["finetune"]["chosen"] in (0, 1) and set(shipped_meta["scores"]) == {"public", "private"}
    assert shipped_meta["batch_norm"] == {"kept": True, "public_after": 0.0}     # the training run's, as it was
    assert (tmp_path / "project" / shipped.LOG).read_text() == (given_dir / "log.csv").read_text()

    (given_dir / "log.csv").unlink()
    for args, said in ((["--out", str(given_dir)], "folder of its own"), (["--out", str(out), "--ship"], "log.csv")):
        with pytest.raises(SystemExit):
            finetune.main(["--model", str(given), *args])
        assert said in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_committed_model_is_named_by_its_commit_until_it_changes(tmp_path):
    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                              capture_output=True, text=True, check=True).stdout.strip()
    model = tmp_path / "m.keras"
    model.write_bytes(b"weights")
    assert finetune.committed_at(model) is None                   # not a repository
    git("init", "-q")
    assert finetune.committed_at(model) is None                   # untracked
    git("add", "m.keras")
    git("commit", "-qm", "a model")
    (tmp_path / "other").write_text("x")
    git("add", "other")
    git("commit", "-qm", "something else")
    first = git("log", "--format=%h", "--reverse").splitlines()[0]
    assert finetune.committed_at(model) == first                  # the commit that last changed it
    model.write_bytes(b"weights, fine-tuned")
    assert finetune.committed_at(model) is None                   # changed since
    assert finetune.described(model).endswith(f"(sha256 {hashlib.sha256(b'weights, fine-tuned').hexdigest()[:12]})")


def test_the_fine_tuning_continues_with_the_recipes_own_optimizer_at_a_tenth_of_its_rate():
    from helpers.recipes import RECIPES
    shipped_recipe = RECIPES["cpu_wide_ema"]                 # how the shipped model was fine-tuned: NAdam, 2e-4
    assert finetune.start_rate(shipped_recipe) == pytest.approx(2e-4)
    nadam = finetune.optimizer_for(shipped_recipe, finetune.start_rate(shipped_recipe), steps=100)
    assert isinstance(nadam, keras.optimizers.Nadam) and not nadam.use_ema and not nadam.weight_decay
    gpu = RECIPES["gpu"]                                     # SGD at 0.05: its tenth, with its momentum and decay
    sgd = finetune.optimizer_for(gpu, finetune.start_rate(gpu), steps=100)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == 0.9
    assert sgd.weight_decay == gpu["weight_decay"] and not sgd.use_ema
    schedule = keras.optimizers.schedules.deserialize(sgd.get_config()["learning_rate"])   # a cosine to 0
    rates = [float(keras.ops.convert_to_numpy(schedule(step))) for step in (0, 50, 100)]
    assert rates == pytest.approx([0.005, 0.0025, 0.0], abs=1e-9)
