"""What packing FER2013 small costs: size, decoding time, pixel error and the shipped model's PublicTest accuracy.

    FER_DATA=/path/to/fer2013 python benchmarks/pack_cost.py [--quality 70 80 90 95]

For each JPEG quality, Training + PublicTest (what a GPU run needs) are packed with ``helpers.pack``; printed:
the pack's size, the seconds ``data.load`` takes to decode it, the mean absolute pixel error against the
original files, and the shipped model's PublicTest accuracy (no TTA) on the packed faces against the original
ones. The budget is ~45 MB: the repository and the pack must travel together in 64 MiB.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from helpers import data, evaluate, pack, shipped


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="FER2013 (default: $FER_DATA, then data/)")
    parser.add_argument("--quality", type=int, nargs="+", default=[70, 80, 90, 95])
    args = parser.parse_args(argv)
    if data.find_data(args.data) is None:
        raise SystemExit("FER2013 not found: pass --data or set FER_DATA")
    original = data.load(args.data, verbose=False)
    model, _ = shipped.load()
    x_public, y_public = original.xy("public")
    reference = np.mean(evaluate.predict_proba(model, x_public).argmax(1) == y_public)
    print(f"{original.source}: shipped model, PublicTest accuracy on the original files {reference:.4f}")
    print(f"{'quality':>7} {'MB':>6} {'bytes/face':>10} {'decode s':>8} {'pixel error':>11} {'PublicTest':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for quality in args.quality:
            path = Path(tmp) / f"q{quality}.npz"
            stats = pack.write(original, path, quality, splits=("train", "public"))
            start = time.perf_counter()
            packed = data.load(path, verbose=False)
            seconds = time.perf_counter() - start
            keep = original.splits != "private"
            error = np.abs(packed.images.astype(np.int16) - original.images[keep]).mean()
            x, y = packed.xy("public")
            accuracy = np.mean(evaluate.predict_proba(model, x).argmax(1) == y)
            print(f"{quality:>7} {stats['bytes'] / 1e6:>6.1f} {stats['bytes_per_image']:>10.0f} {seconds:>8.1f} "
                  f"{error:>11.2f} {accuracy:>10.4f}")


if __name__ == "__main__":
    main()
