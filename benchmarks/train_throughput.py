"""Training throughput (images/s) of the model zoo on this machine, one configuration against another.

    python benchmarks/train_throughput.py [--models compact_cnn thesis_cnn] [--batch 128] [--steps 12]
    python benchmarks/train_throughput.py --models wide_cnn mobilenet_v2@64 mobilenet_v2@96

``mobilenet_v2@64``: MobileNetV2 (random weights) with the faces resized to 64x64 (default 96).

For each model it trains on random 48x48 faces with augmentation, under each setting:
``jit_compile`` (XLA) on/off and float32 vs. ``mixed_bfloat16``, and prints images/s and the ratio to the
Keras default (float32, jit_compile="auto"). Prints figures; asserts nothing.
"""

import argparse
import time

import numpy as np


def measure(model_name, policy, jit, batch, steps):
    import keras
    from helpers import models
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    name, _, size = model_name.partition("@")
    model = models.build(name, **({"image_size": int(size)} if size else {}))
    model.compile(optimizer=keras.optimizers.Nadam(1e-3), loss="categorical_crossentropy", jit_compile=jit)
    x = np.random.default_rng(0).integers(0, 256, (batch * (steps + 3), 48, 48, 1)).astype("float32")
    y = keras.utils.to_categorical(np.arange(len(x)) % 7, 7)
    model.fit(x[: batch * 3], y[: batch * 3], batch_size=batch, epochs=1, verbose=0)     # warm-up, tracing
    start = time.perf_counter()
    model.fit(x[batch * 3:], y[batch * 3:], batch_size=batch, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    keras.mixed_precision.set_global_policy("float32")
    return batch * steps / seconds, model.count_params()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["compact_cnn", "thesis_cnn", "affectnet_cnn"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    settings = [("float32", "auto"), ("float32", False), ("mixed_bfloat16", False)]
    print(f"{'model':<15} {'params':>9} {'policy':<15} {'jit':<5} {'images/s':>9} {'vs default':>10}")
    for name in args.models:
        base = None
        for policy, jit in settings:
            rate, params = measure(name, policy, jit, args.batch, args.steps)
            base = base or rate
            print(f"{name:<15} {params:>9,} {policy:<15} {str(jit):<5} {rate:>9.0f} {rate / base:>9.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
