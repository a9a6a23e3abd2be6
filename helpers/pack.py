"""Pack a dataset into one small file, to carry it where the data is not (a rented GPU machine, a Colab).

    python -m helpers.pack --out fer2013.pack.npz [--data PATH] [--quality 90] [--splits train public]

Any dataset :func:`helpers.data.load` reads goes in (FER2013's folders or CSV, a class-per-folder set); the
pack holds its faces as JPEG files at ``--quality``, with their labels, class names, splits and origins, in
one ``.npz`` file that ``data.load`` reads back (``data.load("fer2013.pack.npz")``): the same labels,
classes and splits, the same faces up to JPEG's loss. FER2013's 35,887 decoded faces are 82.7 MB and lossless
compression gets them only to ~65 MB, hence JPEG: the numbers this project reports always come from the
original files; a pack is for training where they are not (``benchmarks/pack_cost.py`` measures the loss).
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

from helpers import FERDataError
from helpers.dataset import SPLITS, Dataset, to_uint8
from helpers.files import atomic_path

SUFFIX = ".npz"
FORMAT = "fer-workbook pack 1"


def write(ds: Dataset, path: str | Path, quality: int = 90, splits=SPLITS) -> dict:
    """Write ``ds`` (only the images of ``splits``) to ``path`` as one pack; returns
    ``{'images', 'bytes', 'bytes_per_image', 'quality'}``."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be 1-100 (JPEG), got {quality}")
    keep = np.isin(ds.splits, list(splits))
    if not keep.any():
        raise ValueError(f"no images in splits {list(splits)}; the dataset has {sorted(set(ds.splits))}")
    blobs = []
    for image in ds.images[keep]:
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        blobs.append(encoded.ravel())
    offsets = np.cumsum([0] + [len(b) for b in blobs])
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:               # a file object: np.savez would otherwise add its own ".npz"
            np.savez(f, format=FORMAT, jpeg=np.concatenate(blobs), offsets=offsets,
                     labels=ds.labels[keep].astype(np.int16), classes=np.array(ds.classes),
                     splits=ds.splits[keep], paths=ds.paths[keep], source=ds.source, quality=quality,
                     shape=np.array(ds.images.shape[1:]))
    size = Path(path).stat().st_size
    return {"images": int(keep.sum()), "bytes": size, "bytes_per_image": size / keep.sum(), "quality": quality}


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
                raise FERDataError(f"{path}: not a pack written by python -m helpers.pack")
            jpeg, offsets, shape = pack["jpeg"], pack["offsets"], tuple(pack["shape"])
            labels, classes = pack["labels"].astype(np.int64), [str(c) for c in pack["classes"]]
            splits, paths = pack["splits"].astype(str), pack["paths"].astype(str)
            source, quality = str(pack["source"]), int(pack["quality"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
        raise FERDataError(f"{path}: cannot read this pack ({err}); write it again with python -m "
                           f"helpers.pack") from err
    flag = cv2.IMREAD_GRAYSCALE if shape[-1] == 1 else cv2.IMREAD_COLOR
    images = np.empty((len(labels), *shape), np.uint8)
    for i in range(len(labels)):
        face = cv2.imdecode(jpeg[offsets[i]:offsets[i + 1]], flag)
        if face is None:
            raise FERDataError(f"{path}: image {i} ({paths[i]}) is damaged; write the pack again")
        images[i] = face.reshape(shape)
    size = (size, size) if isinstance(size, int) else tuple(size or shape[:2])
    channels = channels or shape[-1]
    if (*size, channels) != shape:
        images = np.stack([to_uint8(face, size, channels) for face in images])
    return Dataset(images, labels, classes, splits, paths,
                   source=f"{source} [pack {path.name}, JPEG quality {quality}]")


def main(argv=None) -> int:
    from helpers import data
    parser = argparse.ArgumentParser(prog="python -m helpers.pack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help=f"the pack to write (a {SUFFIX} file)")
    parser.add_argument("--data", default=None, help="the dataset (default: $FER_DATA, then data/)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality, 1-100 (default 90)")
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
          f"{stats['quality']}: {stats['bytes'] / 1e6:.1f} MB ({stats['bytes_per_image']:.0f} bytes a face)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
