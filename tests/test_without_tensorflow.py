"""Without TensorFlow (2.21 has no wheels for Python 3.14 nor for Intel Macs; requirements.txt installs JAX alone
there), Keras runs on JAX instead of failing at import, in the helpers and in the notebooks; a backend the user
names still wins."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import machine

HIDE_TENSORFLOW = Path(__file__).parent / "without_tensorflow"      # its sitecustomize.py hides TensorFlow
needs_jax = pytest.mark.skipif(not machine.installed("jax"), reason="JAX is not installed")


def without_tensorflow(tmp_path) -> dict:
    """The environment of a process that cannot import TensorFlow, names no backend and has Keras' settings
    folder to itself."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HIDE_TENSORFLOW), env.get("PYTHONPATH")]))
    env["KERAS_HOME"] = str(tmp_path / "keras_home")
    return env


@pytest.fixture
def no_tensorflow(monkeypatch, tmp_path):
    """This process as default_backend sees it without TensorFlow, with JAX and torch installed; Keras' settings
    folder is tmp_path."""
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(machine, "installed", lambda package: package in ("jax", "torch"))
    return tmp_path


def test_tensorflow_installed_or_a_backend_named_leaves_keras_to_choose(monkeypatch, no_tensorflow):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert machine.default_backend() is None
    monkeypatch.delenv("KERAS_BACKEND")
    assert machine.default_backend() == "jax"
    (no_tensorflow / "keras.json").write_text(json.dumps({"backend": "torch", "floatx": "float32"}))
    assert machine.default_backend() is None                     # the user's own settings file chose torch
    (no_tensorflow / "keras.json").write_text(json.dumps({"backend": "tensorflow"}))
    assert machine.default_backend() == "jax"                    # Keras' default, written on its first import
    (no_tensorflow / "keras.json").write_text("{not json")
    assert machine.default_backend() == "jax"


def test_with_tensorflow_installed_nothing_changes(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setattr(machine, "installed", lambda package: True)
    assert machine.default_backend() is None


@needs_jax
def test_the_helpers_train_and_explain_on_jax_without_tensorflow(tmp_path):
    code = ("import numpy as np\n"
            "from helpers import demo, models, saliency, train\n"
            "from helpers.backend import configure_device, keras\n"
            "device = configure_device(verbose=False)\n"
            "ds = demo.make_dataset(per_class=8, seed=0)\n"
            "model = models.compact_cnn(ds.images.shape[1:], len(ds.classes), augment=False)\n"
            f"train.fit(model, ds, {str(tmp_path / 'run')!r}, epochs=1, batch_size=16, patience=None,\n"
            "          jit_compile=device['jit_compile'], verbose=0)\n"
            "x = ds.xy('public')[0][:2].astype('float32')\n"
            "maps = saliency.compute('gradient', model, x)\n"
            "shaken = models.augmentation(seed=0)(x, training=True)    # called alone, as notebook 01 does\n"
            "print(keras.backend.backend(), maps.shape, tuple(shaken.shape))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env=without_tensorflow(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[0] == "jax" and proc.stdout.count("(2, 48, 48") == 2, proc.stdout


@needs_jax
def test_the_setup_notebook_runs_on_jax_without_tensorflow(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "helpers.run", "--only", "00", "--data", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=without_tensorflow(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((out / "metrics" / "00_setup_check.json").read_text())
    assert metrics["keras_backend"] == "jax", metrics
