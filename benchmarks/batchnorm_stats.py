"""Which batch-norm statistics suit a trained model: PublicTest accuracy for each way of getting them.

    FER_DATA=/path/to/fer2013 python benchmarks/batchnorm_stats.py --model RUN/model.keras [--faces 1000 5000 0]

Give it a model **as trained** (a run's ``model.keras``, or the shipped model of before 2026-11-28: ``git show
497003d:models/fer2013_cnn.keras``; today's shipped model already has recomputed statistics). It compares:

- the statistics as trained: running averages over augmented, dropped-out training batches;
- recomputed SWA-style: the average over Training batches passed in training mode, so still augmented and
  dropped out (what ``torch.optim.swa_utils.update_bn`` does);
- recomputed on clean faces, :func:`helpers.batchnorm.recompute` (inference mode, layer after layer), on
  ``--faces`` random Training faces each (0: all of them).

PublicTest only, no TTA / flip / flip + shifts: these choose how the shipped model's statistics are made, so
PrivateTest must not be looked at. Training less the faces that are pixel-identical to a test face. Prints
figures; asserts nothing.
"""

import argparse
import time

import numpy as np


def swa_style(model, images, batch_size=256, seed=0):
    """Average each batch-norm layer's batch statistics over ``images`` passed in training mode (augmentation and
    dropout on), by giving the running average the momentum k / (k + 1) at batch k: a plain mean."""
    from helpers import batchnorm
    layers = list(batchnorm._in_order(model))
    momenta = [layer.momentum for layer in layers]
    order = np.random.default_rng(seed).permutation(len(images))
    for k, start in enumerate(range(0, len(images), batch_size)):
        for layer in layers:
            layer.momentum = k / (k + 1)
        model(images[order[start:start + batch_size]].astype("float32"), training=True)
    for layer, momentum in zip(layers, momenta):
        layer.momentum = momentum


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a .keras model as trained (see above)")
    parser.add_argument("--faces", type=int, nargs="+", default=[1000, 5000, 0],
                        help="Training faces for the clean recomputation (0: all)")
    parser.add_argument("--data", default=None, help="dataset path (default: $FER_DATA, data/, demo)")
    args = parser.parse_args()
    from helpers import audit, batchnorm, data, evaluate
    from helpers.backend import keras
    ds, _ = audit.without_train_leaks(data.load(args.data))
    x_train, _ = ds.xy("train")
    x, y = ds.xy("public")
    print(f"PublicTest, {len(y)} faces, {ds.source}; model {args.model}")
    print(f"{'statistics':<46} {'seconds':>7} {'none':>7} {'flip':>7} {'shifts':>7}")
    variants = [("as trained", lambda m: None),
                (f"SWA-style, training mode, {len(x_train)} faces", lambda m: swa_style(m, x_train))]
    variants += [(f"clean, helpers.batchnorm, {n or len(x_train)} faces",
                  lambda m, n=n: batchnorm.recompute(m, x_train, n or None)) for n in args.faces]
    for name, recompute in variants:
        model = keras.models.load_model(args.model, compile=False)
        start = time.perf_counter()
        recompute(model)
        seconds = time.perf_counter() - start
        proba = evaluate.proba_each_tta(model, x)
        print(f"{name:<46} {seconds:>7.0f} " + " ".join(f"{np.mean(proba[t].argmax(1) == y):>7.2%}"
                                                       for t in ("none", "flip", "shifts")), flush=True)


if __name__ == "__main__":
    main()
