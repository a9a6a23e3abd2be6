"""gpu/run.sh, the one script for a rented GPU machine, run here on the CPU under JAX with a tiny pack (1 epoch)."""

import json
import os
import subprocess
import sys

from helpers import data, pack


def test_the_gpu_script_trains_the_gpu_recipe_from_a_pack(tiny, tmp_path):
    pack.write(tiny, tmp_path / "fer.npz", splits=("train", "public"))         # what travels: no PrivateTest
    # JAX, the backend the script picks on a GPU machine without TensorFlow: the GPU recipe's augmentation,
    # crop, SGD and weight average compiled under it (a minute on a CPU, where TensorFlow takes seconds)
    env = {**os.environ, "PYTHON": sys.executable, "KERAS_BACKEND": "jax"}
    proc = subprocess.run(["bash", str(data.project_root() / "gpu" / "run.sh"), str(tmp_path / "fer.npz"),
                           str(tmp_path / "out"), "--epochs", "1"], capture_output=True, text=True, env=env,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "Keras backend" in proc.stdout and "images/s" in proc.stdout
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["recipe"]["name"] == "gpu" and result["recipe"]["model"] == "thesis_cnn"
    assert result["epochs_run"] == 1 and result["train_images_per_s"] > 0
    assert set(result["scores"]) == {"public"}                               # evaluated on what it had
    assert {"accuracy", "accuracy_shift_tta"} <= set(result["scores"]["public"])
    assert result["hardware"]["backend"] == "jax" and "Keras backend jax" in proc.stdout
    assert (tmp_path / "out" / "best.keras").exists()
