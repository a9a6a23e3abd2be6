"""How far to shift the faces for test-time augmentation: PublicTest accuracy per shift distance.

    FER_DATA=/path/to/fer2013 python benchmarks/tta_shift.py [--px 2 3 4] [--model models/fer2013_cnn.keras]

For each distance d, ``evaluate.predict_proba(tta="shifts", shift_px=d)`` averages the model's probabilities
over the face, copies moved d pixels up, down, left and right, and the mirror image of each (10 views); the
script prints PublicTest accuracy for each d next to no TTA and flip-only TTA. PublicTest only: this chooses ``evaluate.SHIFT_PX``,
so PrivateTest must not be looked at. Prints figures; asserts nothing.
"""

import argparse
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--px", type=int, nargs="+", default=[2, 3, 4], help="shift distances to compare")
    parser.add_argument("--model", default=None, help="default: the shipped model")
    parser.add_argument("--data", default=None, help="dataset path (default: $FER_DATA, data/, demo)")
    args = parser.parse_args()
    from helpers import data, evaluate, shipped
    ds = data.load(args.data)
    model, _ = shipped.load(args.model)
    x, y = ds.xy("public")
    t0 = time.perf_counter()
    options = [("none", dict(tta=False)), ("flip", dict(tta="flip"))]
    options += [(f"flip + shifts {d} px", dict(tta="shifts", shift_px=d)) for d in args.px]
    print(f"PublicTest, {len(y)} faces, {ds.source}")
    print(f"{'TTA':<22} {'accuracy':>8}")
    for name, kwargs in options:
        p = evaluate.predict_proba(model, x, **kwargs)
        print(f"{name:<22} {np.mean(p.argmax(1) == y):>8.2%}")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
