"""Where a training step's time goes: augmentation, forward, backward, optimizer, weight average, and the
per-epoch work (validation, checkpoint, backup), for each model at the shipped settings, in one run.

    python benchmarks/step_profile.py [--models compact_cnn wide_cnn] [--batch 128] [--steps 20]

Each part is timed on its own, as a compiled TensorFlow function on one fixed batch of random 48x48 faces
(warmed up, then ``--steps`` calls, each waited for), under the precision ``configure_device`` picks:

- ``augmentation``: the model's random layers alone (flip, rotation, shift, zoom, contrast, brightness);
- ``forward``: the network without augmentation, in training mode;
- ``forward + backward``: the same and the gradient of the loss for every weight;
- ``+ NAdam``: and the optimizer's update; ``+ weight average``: with the EMA the shipped recipe keeps;
- ``Keras step``: ``train_on_batch`` of the whole compiled model as ``train.fit`` compiles it (augmentation,
  loss, accuracy and macro metrics, NAdam, EMA): what an epoch is made of.
Per epoch (FER2013: 225 steps of 128): the steps, validation on 3,589 faces (``evaluate``), the best
checkpoint (``model.save``) and the backup (``BackupAndRestore``'s save of weights and optimizer).
Then, per block of the network: its multiply-adds per face, its forward + backward time (the network cut
after each block, timed, minus the cut before) and the multiply-adds per second it reaches (3 x forward, as
``training_compute.py`` counts them). Prints tables; asserts nothing. TensorFlow backend only (the CPU path).
"""

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def timed(fn, steps):
    """Seconds per call of ``fn`` (its result fetched, so the work is done), after three warm-up calls."""
    for _ in range(3):
        np.asarray(fn())
    start = time.perf_counter()
    for _ in range(steps):
        np.asarray(fn())
    return (time.perf_counter() - start) / steps


def profile(name, batch, steps):
    import tensorflow as tf
    from helpers import models, train
    from helpers.backend import keras
    train.set_seeds(0)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.integers(0, 256, (batch, 48, 48, 1)).astype("float32"))
    y = tf.constant(keras.utils.to_categorical(rng.integers(0, 7, batch), 7))
    augment = models.augmentation()
    net = models.build(name, augment=False)
    loss_fn = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)

    def gradients():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, net(x, training=True))
        return loss, tape.gradient(loss, net.trainable_variables)

    def stepper(optimizer):
        optimizer.build(net.trainable_variables)

        @tf.function
        def step():
            loss, grads = gradients()
            optimizer.apply(grads, net.trainable_variables)
            return loss
        return step

    parts = {
        "augmentation": tf.function(lambda: augment(x, training=True)),
        "forward": tf.function(lambda: net(x, training=True)),
        "forward + backward": tf.function(lambda: tf.add_n([tf.reduce_sum(g) for g in gradients()[1]])),
        "+ NAdam": stepper(train.make_optimizer("nadam", 1e-3)),
        "+ weight average": stepper(train.make_optimizer("nadam", 1e-3, ema=0.998)),
    }
    seconds = {part: timed(fn, steps) for part, fn in parts.items()}

    full = models.build(name, augment=models.augmentation())
    full.compile(optimizer=train.make_optimizer("nadam", 1e-3, ema=0.998), loss=loss_fn,
                 metrics=["accuracy", *train.macro_scores(7)], jit_compile=False)
    xn, yn = x.numpy(), y.numpy()
    seconds["Keras step"] = timed(lambda: full.train_on_batch(xn, yn, return_dict=True)["loss"], steps)

    x_val = rng.integers(0, 256, (3589, 48, 48, 1)).astype("float32")
    y_val = keras.utils.to_categorical(rng.integers(0, 7, 3589), 7)
    epoch = {"steps (225)": 225 * seconds["Keras step"],
             "validation": timed(lambda: full.evaluate(x_val, y_val, batch_size=batch, verbose=0)[0], 1)}
    with tempfile.TemporaryDirectory() as tmp:
        epoch["checkpoint"] = timed(lambda: full.save(Path(tmp) / "best.keras") or 0, 1)
        backup = keras.callbacks.BackupAndRestore(str(Path(tmp) / "backup"))
        backup.set_model(full)
        epoch["backup"] = timed(lambda: backup.on_epoch_end(0) or 0, 1)
    return seconds, epoch, full.count_params(), blocks(net, x, steps)


def blocks(net, x, steps):
    """Forward + backward time and multiply-adds of each block of a VGG-style network: the network cut after
    block 1, 2, ... is timed, and each block's time is the difference from the cut before it."""
    import tensorflow as tf
    from helpers.backend import keras
    sys.path.insert(0, str(Path(__file__).parent))
    from training_compute import forward_macs
    rows, before, macs_before = [], 0.0, 0
    cuts = [layer.name for layer in net.layers if layer.name.endswith("_drop")]
    for cut in cuts:
        part = keras.Model(net.input, net.get_layer(cut).output)

        @tf.function
        def fwd_bwd():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.cast(part(x, training=True), "float32"))
            return tf.add_n([tf.reduce_sum(tf.cast(g, "float32"))
                             for g in tape.gradient(loss, part.trainable_variables)])
        total, macs = timed(fwd_bwd, steps), forward_macs(part)
        rows.append((cut.removesuffix("_drop"), part.output.shape[1:], (macs - macs_before) / 1e6,
                     total - before))
        before, macs_before = total, macs
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["compact_cnn", "wide_cnn"])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    from helpers.backend import configure_device
    device = configure_device(verbose=False)
    print(f"{platform.processor() or platform.machine()} ({device['cpu']}), {device['policy']}, batch {args.batch}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    for name in args.models:
        seconds, epoch, params, per_block = profile(name, args.batch, args.steps)
        step = seconds["Keras step"]
        print(f"{name} ({params / 1e6:.2f} M parameters): ms per step, and share of the Keras step")
        print("| part | ms | share |\n|---|---|---|")
        for part, s in seconds.items():
            print(f"| {part} | {s * 1000:.0f} | {s / step:.0%} |")
        print(f"| images/s (Keras step) | {args.batch / step:.0f} | |")
        total = sum(epoch.values())
        print("\nper epoch: seconds, and share of the epoch\n| part | s | share |\n|---|---|---|")
        for part, s in epoch.items():
            print(f"| {part} | {s:.1f} | {s / total:.0%} |")
        print("\nforward + backward per block: multiply-adds per face, time per step, and rate")
        print("| block | output | M multiply-adds | ms | G multiply-adds/s |\n|---|---|---|---|---|")
        for block, shape, mmacs, s in per_block:
            print(f"| {block} | {'x'.join(map(str, shape))} | {mmacs:.1f} | {s * 1000:.0f} | "
                  f"{3 * mmacs * 1e6 * args.batch / s / 1e9:.0f} |")
        print(flush=True)


if __name__ == "__main__":
    main()
