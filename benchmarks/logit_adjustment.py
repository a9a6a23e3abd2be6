"""Undoing the class weights at test time (logit adjustment): PublicTest accuracy per strength.

    FER_DATA=/path/to/fer2013 python benchmarks/logit_adjustment.py [--a 0 0.25 0.5 1] [--model PATH]

The recipes weight each class by its count to the power -0.5, which leans the network towards rare classes.
Adding ``a * log(the class's share of Training)`` to the log-probabilities (Menon et al. 2021, "Long-tail
learning via logit adjustment") undoes part of that lean: ``a = 0`` is the model as it is, ``a = 0.5`` undoes
the weights of a ^0.5 recipe in theory. The script prints PublicTest accuracy for each ``a`` with no TTA,
flip, and flip + shifts (float32). PublicTest only, since it would choose ``a``: PrivateTest is not looked at.
Prints figures; asserts nothing.
"""

import argparse
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=float, nargs="+", default=[0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0],
                        help="strengths to compare (0: no adjustment)")
    parser.add_argument("--model", default=None, help="default: the shipped model")
    parser.add_argument("--data", default=None, help="dataset path (default: $FER_DATA, data/, demo)")
    args = parser.parse_args()
    from helpers import audit, data, evaluate, models, shipped
    ds, _ = audit.without_train_leaks(data.load(args.data))
    model, _ = shipped.load(args.model)
    model = models.as_float32(model)
    y_train = ds.xy("train")[1]
    log_share = np.log(np.bincount(y_train, minlength=len(ds.classes)) / len(y_train))
    x, y = ds.xy("public")
    t0 = time.perf_counter()
    proba = evaluate.proba_each_tta(model, x)
    print(f"PublicTest, {len(y)} faces, {ds.source}; accuracy with log-probabilities + a x log(Training share)")
    names = {"none": "none", "flip": "flip", "shifts": "flip + shifts"}
    print(f"{'a':>5} " + " ".join(f"{names[name]:>13}" for name in proba))
    for a in args.a:
        row = [np.mean((np.log(p + 1e-9) + a * log_share).argmax(1) == y) for p in proba.values()]
        print(f"{a:>5g} " + " ".join(f"{acc:>13.2%}" for acc in row))
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
