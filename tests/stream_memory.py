"""Peak memory of one training epoch over a folder of colour photos, streamed or loaded (its own process).

    python tests/stream_memory.py FOLDER OUT {stream|load}

Prints one JSON line: the growth of the process's peak resident memory (MB) from just before the data is
touched to the end of the epoch, the images trained on and the seconds it took.
"""

import json
import sys
import time
from pathlib import Path

from helpers import data, stream, train
from helpers.backend import keras


def peak_mb() -> float:
    """This process's peak resident memory (``VmHWM``). Not ``getrusage``'s ``ru_maxrss``: Linux starts that at
    the peak of the process that started this one (here a test worker, which may have held gigabytes)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


folder, out, how = sys.argv[1:4]
keras.utils.set_random_seed(0)
inputs = keras.Input((96, 96, 3))
x = keras.layers.Rescaling(1 / 255)(inputs)
x = keras.layers.Conv2D(4, 5, strides=4, activation="relu")(x)
model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(x)))
model(keras.ops.zeros((2, 96, 96, 3)))
before = peak_mb()
start = time.perf_counter()
source = (stream.open(folder, size=96, channels=3) if how == "stream"
          else data.load(folder, size=96, channels=3, cache=False, verbose=False))
history = train.fit(model, source, out, epochs=1, batch_size=64, patience=None, jit_compile=False, verbose=0)
peak = peak_mb()
print(json.dumps({"growth_mb": peak - before, "images": int((source.splits == "train").sum()),
                  "seconds": time.perf_counter() - start, "val_accuracy": history["val_accuracy"][-1]}))
