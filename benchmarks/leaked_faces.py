"""How much a model's PrivateTest accuracy owes to PrivateTest faces it saw in training.

    FER_DATA=/path/to/fer2013 python benchmarks/leaked_faces.py MODEL.keras [MODEL.keras ...]

288 of FER2013's 3,589 PrivateTest faces are pixel-identical to a Training face (352 Training images are
such copies; ``helpers.audit``). Every run here drops those Training copies, except the first GPU runs, trained
on a pack made before ``helpers.pack`` dropped them too. For each model, printed: its PrivateTest accuracy (no TTA, flip TTA) on all faces, on the faces with a
copy in Training and on the rest. A model that never saw the copies scores about the same on both parts; one
that learnt them scores higher on the copied part, and only "the rest" compares it fairly with the others.
"""

from __future__ import annotations

import argparse

import numpy as np

from helpers import audit, data, evaluate, shipped


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help=".keras files (each with its .json beside it)")
    parser.add_argument("--data", default=None, help="FER2013 (default: $FER_DATA, then data/)")
    args = parser.parse_args(argv)
    if data.find_data(args.data) is None:
        raise SystemExit("FER2013 not found: pass --data or set FER_DATA")
    ds = data.load(args.data, verbose=False)
    hashes = audit.image_hashes(ds.images)
    private = np.flatnonzero(ds.splits == "private")
    copied = np.isin(hashes[private], hashes[ds.splits == "train"])
    x, y = ds.images[private].astype("float32"), ds.labels[private]
    print(f"PrivateTest: {len(private)} faces, {copied.sum()} with a pixel-identical Training face")
    print("model | TTA | all | copied in Training | the rest")
    for path in args.models:
        model, _ = shipped.load(path)
        for tta in (False, "flip"):
            right = evaluate.predict_proba(model, x, tta=tta).argmax(1) == y
            print(f"{path} | {tta or 'none'} | {right.mean():.2%} | {right[copied].mean():.2%} | "
                  f"{right[~copied].mean():.2%}")


if __name__ == "__main__":
    main()
