"""Training throughput (images/s) of the model zoo on this machine, one configuration against another.

    python benchmarks/train_throughput.py [--models compact_cnn thesis_cnn] [--batch 128] [--steps 12]
    python benchmarks/train_throughput.py --models compact_cnn --policies float32 --no-augment
    python benchmarks/train_throughput.py --models wide_cnn mobilenet_v2@64 mobilenet_v2@96

``mobilenet_v2@64``: MobileNetV2 (random weights) with the faces resized to 64x64 (default 96).

For each model it trains on random 48x48 faces with augmentation (``--no-augment``: without, as the
notebooks' quick CNN trains), under each setting: float32 or ``mixed_bfloat16``, with XLA
(``jit_compile=True``) or without (``False``), and prints images/s and the ratio to float32 without XLA. That
is TensorFlow's own choice on a CPU: Keras' ``jit_compile="auto"`` compiles with XLA only where there is a
GPU (JAX compiles either way under ``"auto"``; ``False`` there runs op by op). Under TensorFlow the
augmentation layers cannot be compiled, and Keras then trains without XLA whatever it is asked: those
settings are reported as not possible instead of measured.
A shared machine's speed drifts from minute to minute, so every setting is measured ``--repeats`` times, the
settings taking turns, and the median is printed with the range. Prints figures; asserts nothing.
"""

import argparse
import statistics
import time

import numpy as np


def build(model_name, augment=True):
    """A network of the zoo by name (``NAME@SIZE``: faces resized to SIZE)."""
    from helpers import models
    name, _, size = model_name.partition("@")
    return models.build(name, augment=augment, **({"image_size": int(size)} if size else {}))


def xla_possible(model) -> bool:
    """Whether Keras can compile this network's training step with XLA under the current backend."""
    from keras.src.trainers.trainer import model_supports_jit
    return model_supports_jit(model)


def measure(model_name, policy, jit, batch, steps, augment=True):
    """Images/s of ``steps`` training steps after a warm-up (which also compiles), and the parameter count."""
    import keras
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(0)
    model = build(model_name, augment)
    model.compile(optimizer=keras.optimizers.Nadam(1e-3), loss="categorical_crossentropy", jit_compile=jit)
    x = np.random.default_rng(0).integers(0, 256, (batch * (steps + 3), 48, 48, 1)).astype("float32")
    y = keras.utils.to_categorical(np.arange(len(x)) % 7, 7)
    try:
        model.fit(x[: batch * 3], y[: batch * 3], batch_size=batch, epochs=1, verbose=0)     # warm-up, tracing
        start = time.perf_counter()
        model.fit(x[batch * 3:], y[batch * 3:], batch_size=batch, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return batch * steps / seconds, model.count_params()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["compact_cnn", "thesis_cnn", "affectnet_cnn"])
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"],
                        choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3, help="measurements per setting (median printed)")
    parser.add_argument("--no-augment", action="store_true", help="the networks without augmentation layers")
    args = parser.parse_args()
    print(f"{'model':<15} {'params':>9} {'policy':<15} {'XLA':<5} {'images/s':>9} {'range':>11} {'vs float32':>10}")
    for name in args.models:
        xla = (False, True) if xla_possible(build(name, not args.no_augment)) else (False,)
        if len(xla) == 1:
            print(f"{name:<15} XLA not possible here (layers Keras cannot compile under this backend): not measured")
        settings = [(policy, jit) for policy in args.policies for jit in xla]
        rates = {setting: [] for setting in settings}
        for _ in range(args.repeats):                   # the settings take turns: drift hits them alike
            for setting in settings:
                try:
                    rate, params = measure(name, *setting, args.batch, args.steps, not args.no_augment)
                except Exception as err:                # e.g. an op XLA cannot compile on this device
                    print(f"{name:<15} {setting[0]:<15} XLA={setting[1]}: failed ({type(err).__name__}: "
                          f"{str(err).splitlines()[0][:120]})", flush=True)
                    rate = float("nan")
                rates[setting].append(rate)
        base = statistics.median(rates[settings[0]])
        for (policy, jit), values in rates.items():
            rate = statistics.median(values)
            print(f"{name:<15} {params:>9,} {policy:<15} {str(jit):<5} {rate:>9.0f} "
                  f"{f'{min(values):.0f}-{max(values):.0f}':>11} {rate / base:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
