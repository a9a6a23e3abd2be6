"""Pack a dataset into one small file, to carry it where the data is not (a rented GPU machine, a Colab).

    python -m helpers.pack --out fer2013.pack.npz [--data PATH] [--quality 95] [--splits train public]

Any dataset :func:`helpers.data.load` reads goes in (FER2013's folders or CSV, a class-per-folder set); the
pack holds its faces as JPEG (tiles of 32 x 32 faces, so the file headers are paid once a tile) with their
labels, class names, splits and origins, in one ``.npz`` file that ``data.load`` reads back
(``data.load("fer2013.pack.npz")``): the same labels, classes and splits, the same faces up to JPEG's loss.

FER2013's 35,887 decoded faces are 82.7 MB and lossless compression gets them only to ~65 MB. Its files are
themselves JPEGs, though, and encoding their pixels again at quality 95 loses almost nothing: Training and
PublicTest pack into 42.0 MB with a mean error of 0.09 grey levels (``benchmarks/pack_cost.py``; 41.0 MB since
the pack leaves out Training's copies of test faces). The numbers this project reports still come from the
original files; a pack is for training where they are not.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

from helpers import FERDataError, audit
from helpers.dataset import SPLITS, Dataset, to_uint8
from helpers.files import atomic_path

SUFFIX = ".npz"
FORMAT = "fer-workbook pack 2"
GRID = 32                        # faces are tiled 32 x 32 into one JPEG: the file headers are paid once a tile


def _encode(faces: np.ndarray, quality: int) -> np.ndarray:
    """Up to GRID x GRID faces (N, H, W, C) tiled into one JPEG (optimised Huffman tables, progressive).
    With H and W multiples of 8 (16 in colour) JPEG's blocks never straddle two faces."""
    n, h, w, c = faces.shape
    tiles = np.zeros((GRID * GRID, h, w, c), np.uint8)
    tiles[:n] = faces
    mosaic = tiles.reshape(GRID, GRID, h, w, c).transpose(0, 2, 1, 3, 4).reshape(GRID * h, GRID * w, c)
    ok, encoded = cv2.imencode(".jpg", mosaic, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1,
                                                cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    if not ok:
        raise ValueError(f"JPEG encoding failed for faces of shape {faces.shape[1:]}")
    return encoded.ravel()


def _decode(blob: np.ndarray, n: int, shape: tuple) -> np.ndarray | None:
    h, w, c = shape
    mosaic = cv2.imdecode(blob, cv2.IMREAD_GRAYSCALE if c == 1 else cv2.IMREAD_COLOR)
    if mosaic is None:
        return None
    return mosaic.reshape(GRID, h, GRID, w, c).transpose(0, 2, 1, 3, 4).reshape(GRID * GRID, h, w, c)[:n]


def write(ds: Dataset, path: str | Path, quality: int = 95, splits=SPLITS) -> dict:
    """Write ``ds`` (only the images of ``splits``) to ``path`` as one pack; returns
    ``{'images', 'bytes', 'bytes_per_image', 'quality', 'dropped_train_leaks'}``.

    Training images that are pixel-identical to a test image are left out (:func:`helpers.audit.train_test_leaks`),
    whether or not that test split is packed: a pack of Training + PublicTest must not teach a model PrivateTest's
    faces, which its scores are later measured on (the first GPU runs, 2026-11-29, trained on a pack that still
    held 352 copies of 288 PrivateTest faces: ``docs/experiments.md``)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1-100 (JPEG), got {quality}")
    leaks = audit.train_test_leaks(ds)
    keep = np.isin(ds.splits, list(splits))
    keep[leaks] = False
    if not keep.any():
        raise ValueError(f"no images in splits {list(splits)}; the dataset has {sorted(set(ds.splits))}")
    images = ds.images[keep]
    blobs = [_encode(images[i:i + GRID * GRID], quality) for i in range(0, len(images), GRID * GRID)]
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:               # a file object: np.savez would otherwise add its own ".npz"
            np.savez_compressed(                 # compressed: the paths and labels shrink, the JPEGs do not
                f, format=FORMAT, jpeg=np.concatenate(blobs), offsets=offsets,
                labels=ds.labels[keep].astype(np.int16), classes=np.array(ds.classes),
                splits=np.array([SPLITS.index(x) for x in ds.splits[keep]], np.int8),
                paths=np.frombuffer("\n".join(ds.paths[keep]).encode(), np.uint8),     # 1 byte a character
                source=ds.source, quality=quality, shape=np.array(ds.images.shape[1:]))
    size = Path(path).stat().st_size
    return {"images": int(keep.sum()), "bytes": size, "bytes_per_image": size / keep.sum(), "quality": quality,
            "dropped_train_leaks": len(leaks)}


def is_pack(path: str | Path) -> bool:
    """Whether ``path`` is a file this module wrote (by its suffix; ``read`` checks the contents)."""
    return Path(path).is_file() and Path(path).suffix == SUFFIX


def read(path: str | Path, size=None, channels: int | None = None) -> Dataset:
    """The dataset packed in ``path``, decoded (a few seconds for FER2013's 32,000 faces); resized to
    ``size`` and converted to ``channels`` when they differ from the packed faces'."""
    path = Path(path)
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as pack:
            if "format" not in pack or str(pack["format"]) != FORMAT:
                raise FERDataError(f"{path}: not a pack written by python -m helpers.pack (format "
                                   f"{FORMAT!r}); write it again with python -m helpers.pack")
            jpeg, offsets, shape = pack["jpeg"], pack["offsets"], tuple(pack["shape"])
            labels, classes = pack["labels"].astype(np.int64), [str(c) for c in pack["classes"]]
            splits = np.array(SPLITS)[pack["splits"]]
            paths = np.array(pack["paths"].tobytes().decode().split("\n"))
            source, quality = str(pack["source"]), int(pack["quality"])
    except FERDataError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise FERDataError(f"{path}: cannot read this pack ({err}); write it again with python -m "
                           f"helpers.pack") from err
    images = np.empty((len(labels), *shape), np.uint8)
    for k in range(len(offsets) - 1):
        first = k * GRID * GRID
        faces = _decode(jpeg[offsets[k]:offsets[k + 1]], min(GRID * GRID, len(labels) - first), shape)
        if faces is None:
            raise FERDataError(f"{path}: tile {k} (images {first}-{first + GRID * GRID - 1}) is damaged; "
                               f"write the pack again")
        images[first:first + len(faces)] = faces
    size = (size, size) if isinstance(size, int) else tuple(size or shape[:2])
    channels = channels or shape[-1]
    if (*size, channels) != shape:
        images = np.stack([to_uint8(face, size, channels) for face in images])
    return Dataset(images, labels, classes, splits, paths,
                   source=f"{source} [pack {path.name}, JPEG quality {quality}]")


def is_packed_source(source: str) -> bool:
    """Whether a dataset's ``source`` (as a model's metadata records it) is a pack: faces JPEG-compressed."""
    return " [pack " in source


def main(argv=None) -> int:
    from helpers import data
    parser = argparse.ArgumentParser(prog="python -m helpers.pack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help=f"the pack to write (a {SUFFIX} file)")
    parser.add_argument("--data", default=None, help="the dataset (default: $FER_DATA, then data/)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality, 1-100 (default 95)")
    parser.add_argument("--splits", nargs="+", default=list(SPLITS), choices=list(SPLITS),
                        help="which splits to pack (default: all; 'train public' is what training needs)")
    args = parser.parse_args(argv)
    if Path(args.out).suffix != SUFFIX:
        parser.error(f"--out must end in {SUFFIX}, got {args.out}")
    try:
        if data.find_data(args.data, given_as="--data") is None:
            parser.error("no dataset found: pass --data or set FER_DATA (packing the demo set is pointless)")
        ds = data.load(args.data, verbose=False)
    except FERDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stats = write(ds, args.out, args.quality, args.splits)
    print(f"{args.out}: {stats['images']} faces of {ds.source} ({', '.join(args.splits)}), JPEG quality "
          f"{stats['quality']}: {stats['bytes'] / 1e6:.1f} MB ({stats['bytes_per_image']:.0f} bytes a face); "
          f"{stats['dropped_train_leaks']} Training faces left out, pixel-identical to a test face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
