"""Batch-norm statistics recomputed for the faces a trained model will see (clean, un-augmented ones).

During training each batch-norm layer keeps a running mean and variance of its inputs, and at inference it
normalises with them. Those statistics come from *training* batches: augmented faces (contrast, brightness,
shifts...), passed through dropout, and, when the weights are averaged (``ema`` in
:func:`helpers.train.make_optimizer`), from the raw weights rather than the averaged ones that are kept. A test
face is none of these, so the statistics are slightly wrong for it. Recomputing them on a few thousand clean
Training faces, in inference mode (no augmentation, no dropout), layer after layer, fixes that: no training,
no label, no test face is used ("precise BN", Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm"; SWA
recomputes them for its averaged weights too, but over training batches, augmentation and dropout included:
``benchmarks/batchnorm_stats.py`` compares the two).

``recompute(model, images)`` does it in place; ``refresh_if_better(model, ds)`` keeps it only if PublicTest
accuracy improves (a choice made on PublicTest, like every other choice in this project). Training does it at
the end of every run (:mod:`helpers.recipes`); for a model trained elsewhere or earlier, one command writes a
copy (the model given is left as it is)::

    python -m helpers.batchnorm MODEL.keras OUT.keras [--data DIR] [--faces 5000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from helpers import data, evaluate
from helpers.backend import keras
from helpers.data import Dataset
from helpers.files import write_text


def _in_order(model: keras.Model):
    """Every batch-norm layer of ``model``, nested models included, in the order data flows through them (a
    Functional model lists its layers in the order they run)."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            yield layer
        elif isinstance(layer, keras.Model):
            yield from _in_order(layer)


def _probes(model: keras.Model, feed=None):
    """``(layer, probe)`` for every batch-norm layer of ``model`` in the order data flows through them, nested
    models included; ``probe(images)`` returns the layer's input in inference mode, computed when called (so with
    the statistics already recomputed for the layers before it). Each probe is a model of its own that predicts
    compiled (``predict_on_batch``): called eagerly instead, under JAX every operation is a call of its own, which
    on a GPU is the slow path (the GPU recipe's first run spent 37 s here on 5,000 faces, 2026-11-29)."""
    feed = feed or (lambda x: x)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            if layer.axis not in (-1, len(layer.input.shape) - 1):
                raise ValueError(f"batch-norm layer {layer.name!r} normalises axis {layer.axis}; only the last "
                                 f"(channels) axis is supported")
            to_layer = keras.Model(model.input, layer.input)
            yield layer, (lambda x, f=feed, p=to_layer: p.predict_on_batch(f(x)))
        elif isinstance(layer, keras.Model) and next(_in_order(layer), None) is not None:
            # a nested model (MobileNetV2's base), fed with what it is given in `model` (its .input is its own)
            fed_by = layer._inbound_nodes[-1].input_tensors[0]
            to_nested = keras.Model(model.input, fed_by)
            yield from _probes(layer, lambda x, f=feed, p=to_nested: p.predict_on_batch(f(x)))


def recompute(model: keras.Model, images: np.ndarray, n: int | None = 5000, batch_size: int = 128,
              seed: int = 0) -> int:
    """Set every batch-norm layer's moving mean and variance to those of its inputs over ``n`` random faces of
    ``images`` (raw 0-255, as the model takes them; ``None``: all of them), in inference mode, first layer first.
    Changes ``model`` in place; returns how many layers were recomputed.

    Each layer's inputs take a pass through every layer before it, so the time grows with the square of the
    depth: on a 2-core CPU, 71 s for ``wide_cnn``'s 9 layers and 418 s for MobileNetV2's 52 (5,000 faces,
    TensorFlow, the probes then called eagerly). Compiled, under JAX on a 2-core AVX2 AMD EPYC: 46-48 s against
    80-88 s eagerly for ``wide_cnn`` on 2,000 faces (TensorFlow there: 38-59 s against 52-55 s; 2026-11-30).
    Updating every layer at once and repeating until nothing moves is no shortcut: a layer is exact only once
    the layers before it are, and the ones after swing widely until then (measured on the shipped model)."""
    if n is not None and n < len(images):
        images = images[np.random.default_rng(seed).choice(len(images), n, replace=False)]
    count = 0
    for layer, probe in _probes(model):
        total, squares, seen = 0.0, 0.0, 0
        for start in range(0, len(images), batch_size):
            x = keras.ops.convert_to_numpy(probe(images[start:start + batch_size].astype("float32")))
            x = x.astype("float64").reshape(-1, x.shape[-1])
            total, squares, seen = total + x.sum(0), squares + (x ** 2).sum(0), seen + len(x)
        mean = total / seen
        layer.moving_mean.assign(mean.astype("float32"))
        layer.moving_variance.assign(np.maximum(squares / seen - mean ** 2, 0.0).astype("float32"))
        count += 1
    return count


def _statistics(model: keras.Model) -> list:
    """Every batch-norm layer's moving mean and variance (the variables themselves)."""
    return [v for layer in _in_order(model) for v in (layer.moving_mean, layer.moving_variance)]


def refresh_if_better(model: keras.Model, ds: Dataset, n: int | None = 5000, seed: int = 0,
                      verbose: bool = True) -> dict:
    """:func:`recompute` on ``n`` faces of ``ds``'s train split, kept only if accuracy on its public split
    (no TTA) improves; otherwise the statistics are put back. Returns what was done, for the model's metadata:
    ``{"kept", "layers", "faces", "seconds", "public_before", "public_after"}``."""
    x_train, _ = ds.xy("train")
    x_public, y_public = ds.xy("public")

    def accuracy():
        return evaluate.scores(y_public, evaluate.predict_proba(model, x_public).argmax(1))["accuracy"]

    before, saved = accuracy(), [keras.ops.convert_to_numpy(v) for v in _statistics(model)]
    start = time.perf_counter()
    layers = recompute(model, x_train, n, seed=seed)
    seconds = time.perf_counter() - start
    after = accuracy()
    kept = after > before
    if not kept:
        for variable, value in zip(_statistics(model), saved):
            variable.assign(value)
    result = {"kept": kept, "layers": layers, "faces": min(n or len(x_train), len(x_train)),
              "seconds": round(seconds, 1), "public_before": before, "public_after": after}
    if verbose:
        print(f"Batch-norm statistics recomputed on {result['faces']} clean Training faces ({layers} layers, "
              f"{seconds:.0f} s): PublicTest {before:.2%} -> {after:.2%}, "
              + ("kept." if kept else "not better: the training statistics are kept."))
    return result


def main(argv=None) -> int:
    """``python -m helpers.batchnorm``: see the module's docstring. Writes ``OUT`` (the statistics recomputed if
    PublicTest improves, else the model unchanged) and what was done to ``OUT`` with ``.json`` for suffix."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.batchnorm",
        description="Recompute a model's batch-norm statistics on clean Training "
                    "faces; keep them if PublicTest accuracy improves.")
    parser.add_argument("model", type=Path, help="a saved Keras model (.keras)")
    parser.add_argument("out", type=Path, help="where to write the result (.keras; not the model itself)")
    parser.add_argument("--data", default=None, help="dataset path (default: $FER_DATA, data/, demo)")
    parser.add_argument("--faces", type=int, default=5000, help="random Training faces to use (default 5000)")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        parser.error(f"no such model file: {args.model}")
    if args.out.suffix != ".keras" or args.out.resolve() == args.model.resolve():
        parser.error(f"OUT must be a new .keras file, not {args.out} (the model given is never overwritten)")
    model = keras.models.load_model(args.model, compile=False)
    done = refresh_if_better(model, data.load(args.data), n=args.faces)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.out)
    write_text(args.out.with_suffix(".json"), json.dumps({"model": str(args.model), **done}, indent=1,
                                                         default=lambda v: v.item()))   # numpy scalars
    print(f"Wrote {args.out} and {args.out.with_suffix('.json')}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
