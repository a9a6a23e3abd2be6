"""Find and classify the faces in photos from the command line.

    python -m helpers.predict PHOTO [PHOTO ...] [--model PATH] [--json] [--annotate OUT_DIR]

For each photo (a folder argument means every image in it), prints each face's box ``x y w h``, label and
class probabilities; ``--json`` prints one JSON document instead, a list with one object per photo given,
in order; a photo that could not be read has an ``error`` instead of ``faces``::

    [{"path": "team.jpg", "faces": [{"box": [x, y, w, h], "label": "happy", "probabilities": {...}}]},
     {"path": "broken.jpg", "error": "broken.jpg: not an image OpenCV can read ..."}]

``--annotate OUT_DIR`` also writes a copy of each photo with the boxes and labels drawn, named after the
photo (``team_annotated.png``; photos of the same name from different folders get the folder's name too).
The folder is checked before the model loads. A photo without a face is reported as such (not an error).
A missing or unreadable file, or a folder without images, gets a message on stderr, the other photos are
still processed, and the exit status is then 1; a model or ``--annotate`` folder that cannot be used: 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from helpers import FERDataError
from helpers.data import IMAGE_EXTENSIONS


def expand(paths) -> list[tuple[Path, str | None]]:
    """``(photo, None)`` for each photo, with each folder replaced by the images in it (sorted, hidden files
    left out); ``(folder, error)`` for a folder that holds no image."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.iterdir()
                           if q.is_file() and not q.name.startswith(".") and q.suffix.lower() in IMAGE_EXTENSIONS)
            out.extend((q, None) for q in found)
            if not found:
                out.append((p, f"{p}: the folder holds no images (looked for "
                               f"{', '.join(sorted(IMAGE_EXTENSIONS))})"))
        else:
            out.append((p, None))
    return out


def annotation_names(photos: list[Path]) -> dict:
    """A distinct output name for each photo: ``<stem>_annotated.png``; when two photos share a stem, the
    name of their folder is added (``holiday_team_annotated.png``), then a number if that is not enough."""
    names, used = {}, set()
    stems = [p.stem for p in photos]
    for photo in photos:
        base = photo.stem if stems.count(photo.stem) == 1 else f"{photo.resolve().parent.name}_{photo.stem}"
        name, k = f"{base}_annotated.png", 2
        while name in used:
            name, k = f"{base}_{k}_annotated.png", k + 1
        used.add(name)
        names[photo] = name
    return names


def photo_entry(name: str, found: list | None = None, error: str | None = None) -> dict:
    """One photo's entry in the JSON report (the CLI's ``--json`` and the web app's): its faces, or an error."""
    if error is not None:
        return {"path": str(name), "error": error}
    return {"path": str(name), "faces": [f.as_dict() for f in found]}


def check_output_folder(folder: Path) -> None:
    """Make sure annotated copies can be written into ``folder`` (created if needed), before any work."""
    if folder.exists() and not folder.is_dir():
        raise FERDataError(f"--annotate {folder}: exists and is not a folder; name a folder for the copies.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise FERDataError(f"--annotate {folder}: cannot write into this folder ({err.strerror or err}).") from err


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="+", help="image files or folders of images")
    parser.add_argument("--model", default=None, help="a .keras model with its .json (default: the shipped one)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--annotate", metavar="OUT_DIR", default=None, help="write annotated copies here")
    args = parser.parse_args(argv)

    out_dir = Path(args.annotate) if args.annotate else None
    try:
        if out_dir:
            check_output_folder(out_dir)
        import cv2

        from helpers import faces
        predictor = faces.Predictor(args.model)
    except FERDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    inputs = expand(args.photos)
    names = annotation_names([p for p, error in inputs if error is None])
    report, failed = [], 0
    for path, error in inputs:
        try:
            if error:
                raise FERDataError(error)
            image = faces.read_photo(path)
            found = predictor.predict(image)
            if out_dir:
                faces.save_image(out_dir / names[path], faces.annotate(image, found))
        except (FERDataError, ValueError, OSError, cv2.error) as err:
            print(f"error: {err}", file=sys.stderr)
            report.append(photo_entry(path, error=str(err)))
            failed += 1
            continue
        report.append(photo_entry(path, found))
        if not args.json:
            print(f"{path}: {len(found) or 'no'} face{'s' if len(found) != 1 else ''} found")
            for f in found:
                probs = "  ".join(f"{k} {v:.2f}" for k, v in f.probabilities.items())
                print(f"  box {' '.join(map(str, f.box))}: {f.label} ({f.confidence:.0%})   {probs}")
    if args.json:
        print(json.dumps(report, indent=1))
    if out_dir and len(report) > failed:
        print(f"annotated copies: {out_dir}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
