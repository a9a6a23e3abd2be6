"""Find and classify the faces in photos from the command line.

    python -m helpers.predict PHOTO [PHOTO ...] [--model PATH] [--json] [--annotate OUT_DIR]

For each photo (a folder argument means every image in it), prints each face's box ``x y w h``, label and
class probabilities; ``--json`` prints one JSON document instead, a list with one object per photo::

    [{"path": "team.jpg", "faces": [{"box": [x, y, w, h], "label": "happy", "probabilities": {...}}]}]

``--annotate OUT_DIR`` also writes a copy of each photo with the boxes and labels drawn. A photo without a
face is reported as such (not an error). A missing or unreadable file gets a message on stderr, the other
photos are still processed, and the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import cv2

from helpers.data import IMAGE_EXTENSIONS


def expand(paths) -> list[Path]:
    """Photo paths, with each folder replaced by the images in it (sorted)."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTENSIONS))
        else:
            out.append(p)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="+", help="image files or folders of images")
    parser.add_argument("--model", default=None, help="a .keras model with its .json (default: the shipped one)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--annotate", metavar="OUT_DIR", default=None, help="write annotated copies here")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from helpers import FERDataError, faces
    try:
        predictor = faces.Predictor(args.model)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out_dir = Path(args.annotate) if args.annotate else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    report, failed = [], 0
    for path in expand(args.photos):
        try:
            image = faces.read_photo(path)
            found = predictor.predict(image)
        except (FERDataError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            failed += 1
            continue
        report.append({"path": str(path), "faces": [f.as_dict() for f in found]})
        if out_dir:
            target = out_dir / f"{path.stem}_annotated.png"
            cv2.imwrite(str(target), faces.annotate(image, found))
        if not args.json:
            print(f"{path}: {len(found) or 'no'} face{'s' if len(found) != 1 else ''} found")
            for f in found:
                probs = "  ".join(f"{k} {v:.2f}" for k, v in f.probabilities.items())
                print(f"  box {' '.join(map(str, f.box))}: {f.label} ({f.confidence:.0%})   {probs}")
    if args.json:
        print(json.dumps(report, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
