"""gpu/run.sh, the one script for a rented GPU machine, run here on the CPU under JAX with a tiny pack (1 epoch),
the way it meets a GPU image: Keras missing, installed from the wheels gpu/fetch_wheels.sh downloads; then
what comes back, scored and shipped here (python -m helpers.train --ship-finished)."""

import dataclasses
import json
import os
import re
import subprocess
import sys

from helpers import data, pack, recipes, shipped


def _without(*packages, tmp_path):
    """This Python's environment for gpu/run.sh, seen as a GPU image sees it: ``packages`` (this Python has
    Keras and TensorFlow; the image has neither) fail to import, and no backend is named."""
    for name in packages:
        (tmp_path / "hide" / name).mkdir(parents=True)
        (tmp_path / "hide" / name / "__init__.py").write_text(f"raise ImportError('no {name} on this machine')\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return {**env, "PYTHON": _python_in(tmp_path), "PYTHONPATH": str(tmp_path / "hide")}


def _python_in(folder) -> str:
    """A launcher for this Python in ``folder``, whose path has a space, as in "~/My Projects": the scripts
    must quote every path they are given."""
    launcher = folder / "python"
    if not launcher.exists():
        launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
        launcher.chmod(0o755)
    return str(launcher)


def test_the_gpu_script_installs_keras_trains_the_gpu_recipe_and_the_run_ships_here(tiny, tmp_path, monkeypatch):
    tmp_path = tmp_path / "a folder with spaces"
    tmp_path.mkdir()
    faces = dataclasses.replace(tiny, source="fer2013 folders: /data/fer2013")   # as if real: it may ship
    pack.write(faces, tmp_path / "fer.npz", splits=("train", "public"))        # what travels: no PrivateTest
    root = data.project_root()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    fetched = subprocess.run(["bash", str(root / "gpu" / "fetch_wheels.sh"), version, str(tmp_path / "wheels")],
                             capture_output=True, text=True, env={**os.environ, "PYTHON": _python_in(tmp_path)},
                             timeout=300)
    assert fetched.returncode == 0, "fetching the wheels needs the package registry:\n" + fetched.stderr[-2000:]
    # JAX, the backend the script picks on a GPU machine without TensorFlow: the GPU recipe's augmentation,
    # crop, SGD and weight average compiled under it (a minute on a CPU, where TensorFlow takes seconds)
    env = {**_without("keras", "tensorflow", tmp_path=tmp_path), "FER_WHEELS": str(tmp_path / "wheels"),
           "TMPDIR": str(tmp_path), "FER_FINETUNE_EPOCHS": "1"}
    proc = subprocess.run(["bash", str(root / "gpu" / "run.sh"), str(tmp_path / "fer.npz"),
                           str(tmp_path / "out"), "--epochs", "1"], capture_output=True, text=True, env=env,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    site = next(tmp_path.glob("fer-keras.*"))                       # installed beside the machine's Python
    assert f"installed from {tmp_path / 'wheels'}/ into {site}" in proc.stdout and (site / "keras").is_dir()
    assert "Keras backend jax" in proc.stdout and "images/s" in proc.stdout
    clocks = re.findall(r"^\[gpu/run.sh (\d+):(\d\d)\] (\w+)", proc.stdout, re.M)     # where the minutes go
    assert [stage for *_, stage in clocks] == ["training", "trained", "fine"]
    assert [int(m) * 60 + int(s) for m, s, _ in clocks] == sorted(int(m) * 60 + int(s) for m, s, _ in clocks)
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["recipe"]["name"] == "gpu" and result["recipe"]["model"] == "thesis_cnn"
    assert result["epochs_run"] == 1 and result["train_images_per_s"] > 0
    assert set(result["scores"]) == {"public"}                               # evaluated on what it had
    assert {"accuracy", "accuracy_shift_tta"} <= set(result["scores"]["public"])
    assert result["hardware"]["backend"] == "jax"
    assert result["hardware"]["compiled"] is True      # augmentation and all: uncompiled, a GPU idles (backend.py)
    assert result["batch_norm"]["layers"] == 9 and result["batch_norm"]["faces"] > 0   # recomputed under JAX
    # what comes back from the GPU machine: the selected network alone (float32, no optimizer state), which is
    # what would ship, with its metadata; the checkpoint also holds the optimizer's momentum and weight average
    model_file = tmp_path / "out" / "model.keras"
    assert model_file.stat().st_size < 0.5 * (tmp_path / "out" / "best.keras").stat().st_size
    assert json.loads(model_file.with_suffix(".json").read_text())["labels"] == list(tiny.classes)
    # then fine-tuned on clean faces under JAX too: what comes back and ships, never worse on PublicTest
    tuned = json.loads((tmp_path / "out" / "finetune" / "result.json").read_text())
    assert tuned["finetune"]["hardware"]["backend"] == "jax" and len(tuned["finetune"]["public"]) == 2
    assert tuned["scores"]["public"]["accuracy"] >= tuned["finetune"]["public"][0]
    assert tuned["finetune"]["public"][0] == result["scores"]["public"]["accuracy"]     # the model as trained
    assert (tmp_path / "out" / "finetune" / "log.csv").read_text() == (tmp_path / "out" / "log.csv").read_text()

    # back here (TensorFlow), scored on the original files, PrivateTest included, then shipped if better
    monkeypatch.setattr(shipped, "project_root", lambda: tmp_path / "project")
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: faces)
    assert recipes.main(["--ship-finished", "--out", str(tmp_path / "out" / "finetune")]) == 0
    result = json.loads((tmp_path / "out" / "finetune" / "result.json").read_text())
    assert set(result["scores_at_training"]) == {"public"} and set(result["scores"]) == {"public", "private"}
    assert result["finetune"]["batch_norm_original_faces"]["layers"] == 9   # recomputed here, on the original faces
    assert result["batch_norm"]["layers"] == 9 and "JPEG quality" in result["data"]   # the training run's, as it was
    assert result["scores"]["private"]["n"] == int((tiny.splits == "private").sum())
    shipped_meta = json.loads((tmp_path / "project" / shipped.MODEL).with_suffix(".json").read_text())
    assert shipped_meta["scores"] == result["scores"] and shipped_meta["hardware"]["backend"] == "jax"


def test_without_keras_or_wheels_the_script_says_what_to_run(tmp_path):
    env = {**_without("keras", "tensorflow", tmp_path=tmp_path), "FER_WHEELS": str(tmp_path / "none")}
    proc = subprocess.run(["bash", str(data.project_root() / "gpu" / "run.sh"), "fer.npz", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "run bash gpu/fetch_wheels.sh first" in proc.stderr
    assert not (tmp_path / "out").exists()
