"""What an ensemble costs at inference: faces/s and file size for 1, 2, 3... averaged networks.

    python benchmarks/ensemble_cost.py [--members 1 2 3] [--model wide_cnn] [--faces 3589] [--repeat 3]

Builds the members with random weights (the cost does not depend on the weights), averages them with
``helpers.ensemble.average_model`` and times them with ``helpers.evaluate.faces_per_second`` on random 48x48
faces, without TTA and with flip + shifts (10 views), float32 as shipped. Prints figures; asserts nothing.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--model", default="wide_cnn")
    parser.add_argument("--faces", type=int, default=3589, help="default: PublicTest's size")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from helpers import ensemble, evaluate, models, train
    faces = np.random.default_rng(0).uniform(0, 255, (args.faces, 48, 48, 1)).astype("float32")
    print(f"{args.model}, {args.faces} faces, float32, median of {args.repeat}")
    print(f"{'members':>7} {'MB':>6} {'faces/s':>8} {'faces/s, 10-view TTA':>21}")
    for m in args.members:
        train.set_seeds(m)
        members = [models.as_float32(models.build(args.model, input_shape=(48, 48, 1), n_classes=7))
                   for _ in range(m)]
        model = ensemble.average_model(members)
        with tempfile.TemporaryDirectory() as tmp:
            model.save(Path(tmp) / "e.keras")
            size = (Path(tmp) / "e.keras").stat().st_size / 1e6
        rates = [evaluate.faces_per_second(model, faces, tta=tta, repeats=args.repeat) for tta in (False, "shifts")]
        print(f"{m:>7} {size:>6.1f} {rates[0]:>8.0f} {rates[1]:>21.0f}")


if __name__ == "__main__":
    main()
