"""Find and load facial-expression datasets into one in-memory :class:`Dataset`.

Everything the workbook reads goes through :func:`load`:

- FER2013 as the original CSV (``emotion,pixels,Usage``; labels 0 angry .. 6 neutral);
- FER2013 in Kaggle's folder layout (``train/<class>/Training_*.jpg``, ``test/<class>/PublicTest_*.jpg`` ...);
- any class-per-folder dataset (AffectNet-style, CK+-style ...), colour or grey, any image size;
- the generated demo faces (:mod:`helpers.demo`) when no real data is found.

Splits are always called ``train`` (fit), ``public`` (select: early stopping, hyper-parameters) and
``private`` (the final number only), after FER2013's Training / PublicTest / PrivateTest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from helpers import FERDataError, demo, pack
from helpers.dataset import SPLITS, SYNONYMS, Dataset, canonical_class, stratified_assign, to_uint8

#: FER2013's CSV codes, in code order (0 = angry ... 6 = neutral).
FER2013_CSV_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
#: Downloads not unpacked yet: the workbook reads images and CSVs, never archives.
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
#: The CSVs that hold all of FER2013 with its ``Usage`` column: the original archive (``fer2013.tar.gz``
#: unpacks to ``fer2013/fer2013.csv``) and the Kaggle competition's zip (``icml_face_data.csv``; its
#: ``train.csv`` holds the Training rows only).
FER2013_CSV_NAMES = ("fer2013.csv", "icml_face_data.csv")
#: A dataset folder's own class names: ``{"0": "neutral", "1": "happy", ...}`` for numbered class folders.
CLASS_MAP_FILE = "class_map.json"

#: Kaggle's FER2013 file-name prefixes give each image its original split.
_PREFIX_SPLIT = {"training": "train", "publictest": "public", "privatetest": "private"}
_FOLDER_SPLIT = {"train": "train", "training": "train",
                 "val": "public", "valid": "public", "validation": "public", "publictest": "public",
                 "test": "private", "privatetest": "private"}
_CACHE_VERSION = 4          # 4: the source says how public and private were drawn when not given


# ----------------------------------------------------------------------------------------------------------
# Finding data
# ----------------------------------------------------------------------------------------------------------

def project_root() -> Path:
    """The workbook's folder (the one holding ``helpers/``, ``data/``, ``models/`` and ``notebooks/``).

    ``pip install -e .`` leaves ``helpers`` there. A plain ``pip install .`` copies it into the environment,
    where it can find none of those folders (and ignores edits to ``helpers/``): that is an error which says so.
    """
    root = Path(__file__).resolve().parents[1]
    if not (root / "notebooks").is_dir():
        raise FERDataError(
            f"helpers runs from {root / 'helpers'}, a copy outside the workbook (pip install . without -e), so "
            "it cannot find the workbook's data/, models/, notebooks/ or runs/. From the workbook's folder, "
            "install it in place (README, command 1): .venv/bin/pip install -e .")
    return root


def user_path(path: str | os.PathLike) -> Path:
    """A path the user typed, with ``~`` expanded. A relative one counts from the current folder, or, when
    nothing is there, from the project folder: a notebook's kernel runs in ``notebooks/``, so ``DATA_DIR =
    "data/fer2013"`` or ``MODEL_PATH = "models/mine.keras"`` means the project's ``data/`` and ``models/``."""
    p = Path(path).expanduser()
    if not p.is_absolute() and not p.exists() and (project_root() / p).exists():
        return project_root() / p
    return p


def where_looked(p: Path) -> str:
    """For an error about a path that is not there: the folders :func:`user_path` looked in ('' if absolute)."""
    if p.is_absolute():
        return ""
    return f"looked in the current folder {Path.cwd()} and in the project folder {project_root()}"


def find_data(path: str | os.PathLike | None = None, given_as: str = "the path you passed") -> Path | None:
    """Where the data is: ``path`` if given, else ``$FER_DATA``, else ``data/fer2013`` or
    ``data/fer2013.csv`` in the project; ``None`` when there is none (the caller then uses the demo set).

    A path that is given (argument or ``FER_DATA``) but does not exist is an error, not a silent fallback;
    ``given_as`` says in that error where the path came from (e.g. ``'--data'``).
    """
    given, what = _given(path, given_as)
    if given is not None:
        if str(given).lower() == "demo":
            return None
        p = user_path(given)
        if not p.exists():
            looked = "; ".join(filter(None, (what, where_looked(p))))
            raise FERDataError(f"{p}: no such file or folder ({looked}). Point it at a FER2013 folder "
                               f"(with train/ and test/), fer2013.csv, or any class-per-folder dataset.")
        return _csv_standing_for(p)
    for candidate in (project_root() / "data" / "fer2013", project_root() / "data" / "fer2013.csv"):
        if candidate.exists():
            return _csv_standing_for(candidate)
    return None


def _given(path, given_as: str):
    """The dataset path the user gave and where it came from: ``(path, given_as)``, else ``$FER_DATA``'s;
    ``(None, None)`` when neither is given (an empty string is not given)."""
    for given, what in ((path, given_as), (os.environ.get("FER_DATA"), "$FER_DATA")):
        if given is not None and str(given) != "":
            return given, what
    return None, None


def demo_asked(path: str | os.PathLike | None = None, given_as: str = "the path you passed") -> str | None:
    """How the demo set was asked for by name (``given_as`` or ``'$FER_DATA'``), read as :func:`find_data`
    reads ``path`` and ``$FER_DATA``; ``None`` when the demo set stands in for data not found."""
    given, what = _given(path, given_as)
    return what if given is not None and str(given).lower() == "demo" else None


def _csv_standing_for(folder: Path) -> Path:
    """``folder``, or the FER2013 CSV in it when the folder has no sub-folders (an unpacked download of the
    CSV): ``data/fer2013/`` then means ``data/fer2013/fer2013.csv``."""
    if not folder.is_dir() or any(d.is_dir() and not d.name.startswith(".") for d in folder.iterdir()):
        return folder
    return next((folder / name for name in FER2013_CSV_NAMES if (folder / name).is_file()), folder)


def _holds_splits(folder: Path) -> bool:
    """Whether ``folder`` has Kaggle's ``train/`` and ``test/`` sub-folders (any case)."""
    return {"train", "test"} <= {d.name.lower() for d in folder.iterdir() if d.is_dir()}


def misplaced_data() -> list[str]:
    """What in the project's ``data/`` looks like FER2013 where :func:`find_data` does not look, each with
    its fix: a download unzipped one folder off (``data/train/``, ``data/archive/train/``), a CSV under
    another name or an archive never unpacked. Said when the notebooks fall back to the demo set."""
    root = project_root() / "data"
    if not root.is_dir():
        return []
    hints = []
    folders = [root] + sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    for folder in folders:
        if folder.name != "fer2013" and _holds_splits(folder):
            where, fix = (("data/", "move them into data/fer2013/") if folder == root else
                          (f"data/{folder.name}/", "rename it data/fer2013/"))
            hints.append(f"{where} holds train/ and test/: {fix} (or use --data {where})")
    for csv in sorted(root.glob("*.csv")) + sorted(root.glob("*/*.csv")):
        if csv != root / "fer2013.csv":
            where = csv.relative_to(project_root()).as_posix()
            hints.append(f"{where}: name it data/fer2013.csv if it is FER2013's (or use --data {where})")
    for archive in (a for folder in folders for a in _archives(folder)):
        hints.append(f"{archive.relative_to(project_root()).as_posix()}: {_unpack_hint(archive)}")
    return hints


def _archives(folder: Path) -> list[Path]:
    """The archive files (a download not unpacked yet) directly in ``folder``."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(ARCHIVE_SUFFIXES))


def _unpack_hint(archive: Path) -> str:
    """What to do with a downloaded archive: the workbook reads images and CSVs, never archives."""
    into = "into data/fer2013/" if archive.parent.name != "fer2013" else "where it is"
    return (f"an archive, not read as it is: unpack it {into} (FER2013's folders give data/fer2013/train/ and "
            f"test/; its CSV goes to data/fer2013.csv)")


# ----------------------------------------------------------------------------------------------------------
# Images
# ----------------------------------------------------------------------------------------------------------

def read_image(path: str | os.PathLike, size=(48, 48), channels: int = 1) -> np.ndarray:
    """Read one image file as uint8 (H, W, channels); a clear :class:`FERDataError` if it cannot be read."""
    path = Path(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)
    except OSError as err:
        raise FERDataError(f"{path}: cannot read the file ({err.strerror or err}).") from err
    img = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED) if raw.size else None
    if img is None:
        raise FERDataError(f"{path}: not a readable image (empty, truncated or not an image format).")
    return to_uint8(img, size, channels)


# ----------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------

def load(path: str | os.PathLike | None = None, *, size: int | tuple = 48, channels: int = 1,
         class_map: dict | None = None, seed: int = 0, public_fraction: float = 0.1,
         private_fraction: float = 0.1, max_bad_fraction: float = 0.01, cache: bool = True,
         demo_per_class: int | None = None, verbose: bool = True) -> Dataset:
    """Load a dataset into memory: images uint8 (N, size, size, channels), labels, classes and splits.

    ``path``: a FER2013 CSV, a folder (Kaggle FER2013 layout or any class-per-folder set), a pack written
    by ``python -m helpers.pack`` (``.npz``), ``'demo'``,
    or ``None`` to look in ``$FER_DATA`` then ``data/`` and fall back to the generated demo faces.
    ``class_map``: extra folder-name -> class-name mappings (e.g. AffectNet's ``{'0': 'neutral', ...}``); by
    default a folder's own ``class_map.json``, if it has one.
    Images without a split of their own get a stratified one (``public_fraction``, ``private_fraction``,
    ``seed``). Up to ``max_bad_fraction`` of the images may be unreadable: they are skipped and listed in
    ``Dataset.skipped``; more than that is an error. A second load of the same files comes from a cache.
    ``demo_per_class``: the demo set's size when no data is found: ``None`` for the FER2013-shaped set (about
    4,000 faces, see :func:`helpers.demo.make_dataset`), a number for a small, balanced, clean one.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    found = find_data(path)
    demo.IN_USE = found is None
    if found is None:
        ds = demo.make_dataset(per_class=demo_per_class, size=size, channels=channels, seed=seed,
                               public_fraction=public_fraction, private_fraction=private_fraction)
        if verbose:
            asked = demo_asked(path)
            demo.announce(ds, [] if asked or path is not None else misplaced_data(), asked_as=asked)
        return ds
    if found.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise FERDataError(f"{found}: {_unpack_hint(found)}.")
    if pack.is_pack(found):                             # python -m helpers.pack: one file, decoded in seconds
        ds = pack.read(found, size, channels)
        if verbose:
            print(f"Loaded {ds!r}")
        return ds
    splitting = dict(seed=seed, public_fraction=public_fraction, private_fraction=private_fraction)
    class_map = folder_class_map(found, class_map)            # before the cache key: a changed map reloads
    options = dict(size=size, channels=channels, class_map=class_map, **splitting)
    key, cached = (_cache_key(found, options) if cache else None), None
    if key and (cached := _cache_read(key)) is not None:
        ds = cached
    elif found.is_file():
        ds = _load_csv(found, size, channels, max_bad_fraction, verbose)
        ds.splits, note = complete_splits(ds.labels, ds.splits, **splitting)
        ds.source += note
    else:
        ds = _load_folders(found, size, channels, class_map, max_bad_fraction, verbose, splitting)
    if key and cached is None:
        _cache_write(key, ds)
    if verbose:
        print(f"Loaded {ds!r}")
        if ds.skipped:
            where, why = ds.skipped[0]
            print(f"Skipped {len(ds.skipped)} unreadable image(s) or row(s) (Dataset.skipped lists them); "
                  f"first: {where}: {why}")
    return ds


def _load_csv(path: Path, size, channels, max_bad_fraction, verbose) -> Dataset:
    """The original FER2013 CSV: ``emotion`` (0-6), ``pixels`` (space-separated grey levels), ``Usage``."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise FERDataError(f"{path}: not a readable CSV file ({err}).") from err
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = {"emotion", "pixels"} - set(frame.columns)
    if missing:
        raise FERDataError(f"{path}: missing column(s) {sorted(missing)}; a FER2013 CSV has "
                           f"'emotion,pixels,Usage' (found {list(frame.columns)}).")
    if "usage" not in frame.columns:
        warnings.warn(f"{path}: no 'Usage' column, so no Training/PublicTest/PrivateTest split; the rows get a "
                      f"stratified train/public/private split instead (as a folder dataset without split "
                      f"folders does).", stacklevel=3)
    usage_split = {"training": "train", "publictest": "public", "privatetest": "private"}
    images = np.empty((len(frame), *size, channels), np.uint8)    # filled in place, as _load_folders does
    labels, splits, paths, skipped = [], [], [], []
    for i, (emotion, pixels, usage) in enumerate(zip(frame["emotion"], frame["pixels"],
                                                      frame.get("usage", [""] * len(frame)))):
        where = f"{path}:row {i + 2}"          # +2: the header is line 1, rows count from 1
        try:
            code = _csv_emotion(emotion)
            values = _csv_pixels(pixels)
            split = usage_split.get(usage.strip().lower(), "") if usage.strip() else ""
            if usage.strip() and not split:
                raise ValueError(f"column 'Usage': {usage!r} is not Training, PublicTest or PrivateTest")
        except ValueError as err:
            skipped.append((where, str(err)))
            continue
        side = int(round(np.sqrt(values.size)))
        images[len(paths)] = to_uint8(values.reshape(side, side).astype(np.uint8), size, channels)
        labels.append(FER2013_CSV_LABELS[code])
        splits.append(split)
        paths.append(where)
    _check_bad_fraction(path, len(paths), skipped, max_bad_fraction)
    return _assemble(images[:len(paths)], labels, splits, paths, skipped, f"fer2013 csv: {path}")


def _csv_emotion(text: str) -> int:
    """The ``emotion`` cell as a FER2013 code 0-6, or a ValueError that names the column and the value."""
    try:
        code = int(text)
    except ValueError:
        raise ValueError(f"column 'emotion': {text!r} is not a whole number (FER2013 codes 0-6)") from None
    if not 0 <= code < len(FER2013_CSV_LABELS):
        raise ValueError(f"column 'emotion': {text!r} is not one of the FER2013 codes 0-6")
    return code


def _csv_pixels(text: str) -> np.ndarray:
    """The ``pixels`` cell as grey levels of a square image, or a ValueError naming the column and the value."""
    tokens = text.split()
    try:
        values = np.array(tokens, dtype=np.int64)
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("+-").isdigit())
        raise ValueError(f"column 'pixels': value {tokens.index(bad) + 1} ({bad!r}) is not a whole number "
                         f"0-255") from None
    side = int(round(np.sqrt(values.size)))
    if values.size == 0 or side * side != values.size:
        raise ValueError(f"column 'pixels': {values.size} pixel values, not a square image (FER2013 has "
                         f"48x48 = 2304)")
    if values.min() < 0 or values.max() > 255:
        raise ValueError("column 'pixels': values outside 0-255")
    return values


def folder_class_map(root: str | os.PathLike, class_map: dict | None = None) -> dict | None:
    """``class_map`` if one is given, else the folder's own ``class_map.json`` (folder name -> class name), so
    that numbered class folders (AffectNet's ``0``-``7``) have their names in the notebooks and commands too,
    which take no ``class_map``; ``None`` when there is neither."""
    path = Path(root) / CLASS_MAP_FILE
    if class_map is not None:
        return {str(folder): name for folder, name in class_map.items()}    # {0: "neutral"} names folder 0/
    if not path.is_file():
        return None
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FERDataError(f"{path}: not a readable JSON file ({err}).") from err
    if not (isinstance(mapping, dict) and mapping
            and all(isinstance(v, str) and v.strip() for v in mapping.values())):
        raise FERDataError(f"{path}: expected an object of folder name -> class name, e.g. "
                           f'{{"0": "neutral", "1": "happy"}} (found {str(mapping)[:80]}).')
    return mapping


def _check_class_map(root: Path, class_map: dict, folders: set) -> None:
    """A class map that names none of the class folders, or leaves a numbered one out (which would become a
    class called "7"), is a mistake: an error that names the folders."""
    named = ", ".join(sorted(class_map))
    where = f"the class map ({CLASS_MAP_FILE} or class_map=)"
    if folders and not folders & set(class_map):
        raise FERDataError(f"{root}: {where} names the folders {named}, but the class folders are "
                           f"{', '.join(sorted(folders))}: its keys must be the folders' names.")
    unnamed = sorted(f for f in folders - set(class_map) if f.isdigit())
    if unnamed:
        raise FERDataError(f"{root}: the numbered class folder(s) {', '.join(f + '/' for f in unnamed)} are not "
                           f'in {where}, which names {named}: add them, e.g. "{unnamed[0]}": "<class name>".')


def _list_folder_images(root: Path, class_map: dict | None):
    """(file, class, split or '') for every image under ``root``; checks the folder structure."""
    def is_image(p: Path):                                      # hidden files (.name.jpg) are not data
        return p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS

    def class_dirs(folder: Path):
        return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))

    subdirs = class_dirs(root)
    split_dirs = [d for d in subdirs if d.name.lower() in _FOLDER_SPLIT]
    if split_dirs:
        groups = [(d, _FOLDER_SPLIT[d.name.lower()]) for d in split_dirs]
    else:
        groups = [(root, "")]
    if class_map:
        _check_class_map(root, class_map, {d.name for folder, _ in groups for d in class_dirs(folder)})
    entries, class_sets = [], {}
    for folder, folder_split in groups:
        classes_here = class_dirs(folder)
        if not classes_here:
            csvs = sorted(p.name for p in folder.glob("*.csv"))
            archives = [p.name for p in _archives(folder)]
            raise FERDataError(f"{folder}: expected one sub-folder per class (angry/, happy/, ...), found none."
                               + (f" It holds {', '.join(csvs)}: point at the file instead." if csvs else "")
                               + (f" It holds {', '.join(archives)}: unpack it first." if archives else ""))
        names = set()
        for cdir in classes_here:
            files = sorted(p for p in cdir.iterdir() if is_image(p))
            if not files and _holds_splits(cdir):                 # an unzipped download inside its folder
                raise FERDataError(f"{cdir}: holds train/ and test/, so the dataset is this folder, one below "
                                   f"{root}: point at {cdir} (--data, FER_DATA or DATA_DIR), or move what it "
                                   f"holds up into {root}.")
            if not files:
                raise FERDataError(f"{cdir}: the class folder holds no images "
                                   f"(looked for {', '.join(sorted(IMAGE_EXTENSIONS))}). Remove it or fill it.")
            name = canonical_class(cdir.name, class_map)
            names.add(name)
            for f in files:
                prefix = f.name.split("_", 1)[0].lower()
                entries.append((f, name, _PREFIX_SPLIT.get(prefix, folder_split)))
        class_sets[folder] = names
    if len({frozenset(v) for v in class_sets.values()}) > 1:
        union = set().union(*class_sets.values())
        detail = "; ".join(f"{f.name}/ lacks {sorted(union - v)}" for f, v in class_sets.items() if union - v)
        raise FERDataError(f"{root}: the splits have different classes: {detail}. "
                           f"Every split needs the same class folders (check spelling).")
    return entries


def list_folder(root: str | os.PathLike, class_map: dict | None = None, seed: int = 0,
                public_fraction: float = 0.1, private_fraction: float = 0.1):
    """Every image file of a class-per-folder dataset with its class name and split, without decoding any:
    ``(files, class_names, splits, note)``.

    Splits come from the split folders (``train/``, ``val/``, ``test/``...) and FER2013's file-name prefixes;
    files without one get a stratified split (:func:`complete_splits`) computed from this listing alone, so a
    file's split never depends on which other files turn out to be unreadable: :func:`load` and
    :mod:`helpers.stream` give every file the same split."""
    entries = _list_folder_images(Path(root), folder_class_map(root, class_map))
    files = [e[0] for e in entries]
    names = np.array([e[1] for e in entries])
    splits, note = complete_splits(names, np.array([e[2] for e in entries], dtype="<U8"), seed,
                                   public_fraction, private_fraction)
    return files, names, splits, note


def _watched() -> bool:
    """Whether a progress bar has someone to watch it: a terminal, or a notebook (tqdm draws a widget there).
    Not a log file or a pipe, where each update of the bar would be one more line of carriage returns."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


def _load_folders(root: Path, size, channels, class_map, max_bad_fraction, verbose, splitting) -> Dataset:
    files, names, given_splits, note = list_folder(root, class_map, **splitting)
    try:
        from tqdm.auto import tqdm
    except ImportError:                                            # pragma: no cover - tqdm is a dependency
        def tqdm(it, **_):
            return it

    def decode(path):
        try:
            return read_image(path, size, channels), None
        except FERDataError as err:                           # the reason only: the path is listed beside it
            return None, str(err).removeprefix(f"{path}: ")

    images = np.empty((len(files), *size, channels), np.uint8)   # filled in place: no list of faces to stack
    labels, splits, paths, skipped = [], [], [], []
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        results = pool.map(decode, files, chunksize=256)
        for file, name, split, (img, error) in tqdm(zip(files, names, given_splits, results), total=len(files),
                                                    desc=f"reading {root.name}",
                                                    disable=not (verbose and _watched())):
            if img is None:
                skipped.append((str(file), error))
                continue
            images[len(paths)] = img
            labels.append(name)
            splits.append(split)
            paths.append(str(file))
    _check_bad_fraction(root, len(paths), skipped, max_bad_fraction)
    kind = "fer2013 folders" if _looks_like_fer(files) else "folders"
    return _assemble(images[:len(paths)], labels, splits, paths, skipped, f"{kind}: {root}{note}")


def _looks_like_fer(files) -> bool:
    return any(f.name.split("_", 1)[0].lower() in _PREFIX_SPLIT for f in files[:1000])


def _check_bad_fraction(where, n_good, skipped, max_bad_fraction):
    n_bad = len(skipped)
    if n_good == 0:
        first = f" First problem: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise FERDataError(f"{where}: no usable images.{first}")
    if n_bad > max(3, max_bad_fraction * (n_good + n_bad)):
        listing = "\n  ".join(f"{w}: {why}" for w, why in skipped[:5])
        share = n_bad / (n_good + n_bad)
        raise FERDataError(
            f"{where}: {n_bad} of {n_good + n_bad} images/rows ({share:.1%}) are unusable, more than the "
            f"{max_bad_fraction:.0%} accepted (max_bad_fraction). The first ones:\n  {listing}\n"
            f"Fix or remove them, or accept them (they are skipped and counted): "
            f"data.load(..., max_bad_fraction={_round_up(share)}), the notebooks' MAX_BAD_FRACTION "
            f"parameter, or python -m helpers.run --max-bad-fraction {_round_up(share)}.")


def _round_up(share: float) -> float:
    """A tidy fraction at least ``share`` (0.046 -> 0.05), to suggest in a message."""
    return math.ceil(share * 100) / 100


def _assemble(images: np.ndarray, labels, splits, paths, skipped, source) -> Dataset:
    """A ``Dataset`` of the decoded ``images`` (uint8, one per entry of ``paths``) and their class names."""
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    return Dataset(images=images,
                   labels=np.array([index[c] for c in labels], dtype=np.int64),
                   classes=classes, splits=np.array(splits, dtype="<U8"),
                   paths=np.array(paths), source=source, skipped=skipped)


def complete_splits(labels: np.ndarray, splits: np.ndarray, seed: int = 0, public_fraction: float = 0.1,
                    private_fraction: float = 0.1):
    """Give a split to the images that have none: ``(splits, note)``, ``note`` saying what was done.

    All unsplit -> stratified train/public/private. A given train/test pair without a validation set ->
    ``public`` carved out of train (the test set stays untouched). A train/val pair without a test set
    (AffectNet's layout, whose val/ the literature reports on) -> val/ becomes ``private`` and ``public`` is
    carved out of train. ``labels``: class indices or names (the same classes in the same order either way)."""
    splits, note = np.array(splits, dtype="<U8"), ""
    if (splits == "public").any() and not (splits == "private").any() and not (splits == "").any():
        splits[splits == "public"] = "private"
        note += " (no test set given: the validation images are the private split)"
    missing = splits == ""
    if missing.any():
        splits[missing] = stratified_assign(labels[missing], {"public": public_fraction,
                                                              "private": private_fraction}, seed)
        note = (f" (no split given: {int(missing.sum())} images split stratified "
                f"{1 - public_fraction - private_fraction:.0%}/{public_fraction:.0%}/{private_fraction:.0%}, "
                f"seed {seed})")
    if not (splits == "public").any() and (splits == "train").any():
        train = np.flatnonzero(splits == "train")
        splits[train] = stratified_assign(labels[train], {"public": public_fraction}, seed)
        note += f" (no validation set given: public is {public_fraction:.0%} of train, stratified, seed {seed})"
    return splits, note


# An absolute path: a "/" that no word, dot, "~", ":", "/", "+", "%" or "<" comes right before (so not "a/b",
# "~/x", the "//" of a URL, "80%/10%" or an HTML closing tag) and a letter or "_" comes right after, then its
# parts up to a space, quote or angle bracket. Images inlined as base64 data URIs are matched first, kept whole.
_ABSOLUTE_PATH = re.compile(r"(data:[\w/+.-]+;base64,[\w+/=]+)"
                            r"|(?<![\w.~:/+%<])/(?=[A-Za-z_])(?:[^/\s<>\"'`]+/)*([^/\s<>\"'`]+)")


def without_machine_paths(source: str) -> str:
    """A text with absolute paths cut to their last part (``'fer2013 folders: /srv/data/fer2013'`` ->
    ``'fer2013 folders: fer2013'``), for files that are committed or shared; URLs, relative paths, HTML and
    inlined images are left as they are."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or m.group(2), source)


def label_order_table(classes) -> pd.DataFrame:
    """How a dataset's label indices relate to FER2013's CSV codes (they differ: alphabetical vs. 0-6)."""
    rows = [{"index here": i, "class": c,
             "FER2013 CSV code": FER2013_CSV_LABELS.index(c) if c in FER2013_CSV_LABELS else None}
            for i, c in enumerate(classes)]
    return pd.DataFrame(rows).set_index("index here").astype({"FER2013 CSV code": "Int64"})


# ----------------------------------------------------------------------------------------------------------
# Cache: a .npz per (files, options); a second load of FER2013 takes a fraction of a second
# ----------------------------------------------------------------------------------------------------------

#: The most the dataset cache holds. FER2013 decoded is about 95 MB, and each copy of the data (a fresh download,
#: another clone's path) or changed option (size, seed, class map) is a file of its own: past this, the least
#: recently used files are deleted.
CACHE_LIMIT_BYTES = 2_000_000_000


def cache_dir() -> Path:
    """``$FER_CACHE``, else ``~/.cache/fer-workbook`` (never inside the user's data folder). Deleting it is
    always safe: the next load decodes the images again."""
    return Path(os.environ.get("FER_CACHE") or Path.home() / ".cache" / "fer-workbook")


def _cache_key(found: Path, options: dict) -> str:
    h = hashlib.sha1(json.dumps([_CACHE_VERSION, str(found.resolve()), repr(sorted(options.items()))]).encode())
    if found.is_file():
        st = found.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        for dirpath, dirnames, filenames in os.walk(found):
            dirnames.sort()
            for name in sorted(filenames):
                st = os.stat(os.path.join(dirpath, name))
                h.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def _cache_read(key: str) -> Dataset | None:
    """The cached Dataset, or ``None``: none cached yet, or a damaged file (truncated, emptied, bit-flipped,
    another format), which is named in a warning, deleted and then rebuilt by the caller."""
    file = cache_dir() / f"{key}.npz"
    if not file.exists():
        return None
    try:
        with np.load(file, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            ds = Dataset(z["images"], z["labels"], meta["classes"], z["splits"].astype("<U8"), z["paths"],
                         meta["source"], [tuple(s) for s in meta["skipped"]])
        if not len(ds.images) == len(ds.labels) == len(ds.splits) == len(ds.paths):
            raise ValueError("arrays of different lengths")
        with contextlib.suppress(OSError):    # recently used: the last file _cache_prune deletes
            os.utime(file)                    # (a read-only cache is still read)
        return ds
    except Exception as err:                  # zipfile, zlib, EOF, JSON, key errors: all mean "damaged"
        warnings.warn(f"{file}: the dataset cache is damaged ({type(err).__name__}: {err}); deleting it and "
                      f"reading the dataset again.", stacklevel=3)
        file.unlink(missing_ok=True)
        return None


def _cache_write(key: str, ds: Dataset) -> None:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{key}.tmp.npz"
        meta = json.dumps({"classes": ds.classes, "source": ds.source, "skipped": ds.skipped})
        np.savez(tmp, images=ds.images, labels=ds.labels, splits=ds.splits, paths=ds.paths, meta=meta)
        tmp.replace(folder / f"{key}.npz")
        _cache_prune(folder, keep=folder / f"{key}.npz")
    except OSError:
        pass                                                         # no cache is slower, not wrong


def _cache_prune(folder: Path, keep: Path) -> None:
    """Delete the least recently used cached datasets (by modification time, which a read refreshes) until the
    folder holds at most :data:`CACHE_LIMIT_BYTES`; ``keep``, the file just written, stays whatever its size."""
    files = sorted(folder.glob("*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
    total = 0
    for file in files:
        size = file.stat().st_size
        if file != keep and total + size > CACHE_LIMIT_BYTES:
            file.unlink(missing_ok=True)
        else:
            total += size


__all__ = ["Dataset", "load", "find_data", "demo_asked", "user_path", "misplaced_data", "read_image", "to_uint8",
           "canonical_class", "label_order_table", "stratified_assign", "complete_splits", "list_folder",
           "without_machine_paths", "where_looked", "SPLITS", "FER2013_CSV_LABELS", "FER2013_CSV_NAMES",
           "ARCHIVE_SUFFIXES", "CLASS_MAP_FILE", "folder_class_map", "SYNONYMS", "cache_dir", "CACHE_LIMIT_BYTES",
           "project_root"]
