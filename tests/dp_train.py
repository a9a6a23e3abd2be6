"""One small data-parallel training run, as its own process (tests/test_distribute.py starts it).

    python tests/dp_train.py OUT [--devices N] [--split-cpu N] [--data FOLDER] [--batch B] [--lr LR]

Trains a tiny network without batch norm, dropout or augmentation (nothing that differs per replica) for
two epochs with ``train.fit`` and writes ``OUT/weights-<worker>.npz`` and ``OUT/result-<worker>.json`` (worker
0 when there is one). ``--split-cpu``: show
TensorFlow the CPU as N logical devices first. ``--data``: stream that class-per-folder dataset
(``helpers.stream``) instead of the demo faces in memory. ``$TF_CONFIG`` / ``$KERAS_BACKEND`` are honoured.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--devices", default="auto")
parser.add_argument("--split-cpu", type=int, default=0)
parser.add_argument("--data", default=None)
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--lr", type=float, default=0.05)
args = parser.parse_args()

from helpers import demo, distribute, stream, train  # noqa: E402
from helpers.backend import keras  # noqa: E402

if args.split_cpu:
    distribute.split_cpu(args.split_cpu)
devices = int(args.devices) if args.devices.isdigit() else args.devices
plan = distribute.plan(devices)                    # first: several workers need it before anything runs
ds = stream.open(args.data) if args.data else demo.make_dataset(per_class=20, seed=0)
keras.utils.set_random_seed(0)
inputs = keras.Input((48, 48, 1))
x = keras.layers.Rescaling(1 / 255)(inputs)
x = keras.layers.Conv2D(4, 5, strides=2, activation="relu")(x)
x = keras.layers.Flatten()(x)
model = keras.Model(inputs, keras.layers.Dense(len(ds.classes), activation="softmax")(x))
# Compiled under JAX, as every JAX run is (helpers.backend.configure_device); why: distribute.split_cpu.
history = train.fit(model, ds, args.out, epochs=2, batch_size=args.batch, optimizer="sgd", lr=args.lr,
                    patience=None, jit_compile=plan.backend == "jax", devices=devices, seed=0, verbose=0)
out = Path(args.out)
np.savez(out / f"weights-{plan.worker}.npz", *model.get_weights())
(out / f"result-{plan.worker}.json").write_text(json.dumps(
    {"replicas": plan.replicas, "workers": plan.workers, "worker": plan.worker, "backend": plan.backend,
     "loss": history["loss"], "val_accuracy": history["val_accuracy"], "val_macro_f1": history["val_macro_f1"]}))
sys.exit(0)
