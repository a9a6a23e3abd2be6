"""The same helpers on every Keras backend: training (with the weight average, checkpoints and resume),
prediction with TTA and saliency maps run under JAX, and a model saved under TensorFlow predicts the same there.

Each backend runs in its own Python process (Keras picks its backend once, at import). Skipped where the
backend is not installed; CI installs JAX's CPU wheel (requirements.txt).
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import data, shipped

BACKENDS = [b for b in ("jax", "torch") if importlib.util.find_spec(b) is not None]

SCRIPT = r"""
import json, sys
import numpy as np
from helpers import demo, evaluate, models, saliency, shipped, train
from helpers.backend import configure_device, keras

out, faces_file = sys.argv[1], sys.argv[2]
device = configure_device(verbose=False)
ds = demo.make_dataset(per_class=16, seed=0)
train.set_seeds(0)
model = models.compact_cnn(ds.images.shape[1:], len(ds.classes), bn_momentum=0.9,
                           augment=False)          # augmentation under JAX: tests/test_gpu_script.py
train.fit(model, ds, out, epochs=2, batch_size=16, ema=0.9, patience=None, jit_compile=device["jit_compile"],
          verbose=0)
train.fit(model, ds, out, epochs=3, batch_size=16, ema=0.9, patience=None, jit_compile=device["jit_compile"],
          verbose=0)                                              # the same folder: resumes after epoch 2
x = ds.xy("public")[0]
p = evaluate.predict_proba(model, x, tta="shifts")
maps = {m: saliency.compute(m, model, x[:4]) for m in ("gradient", "gradcam")}
faces = np.load(faces_file)
shipped_model, _ = shipped.load()
print("RESULT" + json.dumps({
    "backend": keras.backend.backend(), "device": device,
    "epochs": len(train.read_log(out)["epoch"]),
    "probabilities_sum_to_1": bool(np.allclose(p.sum(1), 1, atol=1e-4)),
    "maps": {m: [list(v.shape), float(v.min()), float(v.max())] for m, v in maps.items()},
    "shipped": evaluate.predict_proba(shipped_model, faces).tolist(),
}))
"""


@pytest.mark.skipif(not BACKENDS, reason="neither JAX nor PyTorch is installed")
@pytest.mark.parametrize("backend", BACKENDS)
def test_train_predict_and_explain_on_another_backend(backend, tmp_path):
    from helpers import evaluate
    faces = data.load("demo", demo_per_class=3, verbose=False).images.astype("float32")
    np.save(tmp_path / "faces.npy", faces)
    env = {**os.environ, "KERAS_BACKEND": backend}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "run"), str(tmp_path / "faces.npy")],
                          capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert result["backend"] == backend and result["device"]["backend"] == backend
    assert result["epochs"] == 3 and result["probabilities_sum_to_1"]
    for method, (shape, low, high) in result["maps"].items():
        assert shape == [4, 48, 48] and low >= 0 and high > 0, method
    # the shipped model, saved under TensorFlow, predicts the same on this backend
    model, _ = shipped.load()
    here = evaluate.predict_proba(model, faces)
    there = np.array(result["shipped"])
    assert np.abs(here - there).max() < 0.02 and (here.argmax(1) == there.argmax(1)).mean() >= 0.95


def test_configure_device_says_which_backend_it_set_up():
    from helpers.backend import configure_device, keras
    info = configure_device(verbose=False)
    assert info["backend"] == keras.backend.backend() and info["policy"] in {"float32", "mixed_bfloat16"}
    keras.mixed_precision.set_global_policy("float32")


def test_input_gradient_is_each_samples_own_gradient():
    from helpers.backend import input_gradient, keras
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    g = input_gradient(lambda t: keras.ops.sum(t ** 2, axis=1), x)       # d/dx sum(x^2) = 2x, row by row
    assert np.allclose(g, 2 * x, atol=1e-5)
