"""Faces in ordinary photos: read any image, find the faces (OpenCV's Haar cascade), crop them to the model's
48x48 grey input, classify, and draw the result.

    predictor = faces.Predictor()                  # the shipped model, models/fer2013_cnn.keras
    found = predictor.predict(faces.read_photo("group.jpg"))
    for face in found:
        print(face.box, face.label, face.probabilities)

Photos may be any size, colour (BGR as OpenCV reads them), greyscale, with alpha, 8 or 16 bits; a phone's
portrait photo is turned upright as its EXIF orientation tag says.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from helpers import FERDataError
from helpers.data import to_uint8
from helpers.files import atomic_path

CASCADE = "haarcascade_frontalface_default.xml"


@dataclass
class Face:
    """One detected face: ``box`` = ``(x, y, w, h)`` in the photo's pixels, the predicted ``label`` and the
    probability of every class."""
    box: tuple
    label: str
    probabilities: dict = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return self.probabilities[self.label]

    def as_dict(self) -> dict:
        return {"box": [int(v) for v in self.box], "label": self.label,
                "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()}}


MAX_PIXELS = 150_000_000   # a 12000x9000 phone photo fits; a few-KB file claiming more would fill the memory


def read_photo(path: str | os.PathLike, name: str | None = None) -> np.ndarray:
    """Read a photo as OpenCV does (BGR / grey / BGRA, 8 or 16 bits), upright (:func:`decode_photo`), with a
    clear error naming the file (``name``, default its path) if it cannot be: missing, empty, not an image,
    or over ``MAX_PIXELS``."""
    path = Path(path)
    name = name or str(path)
    if not path.is_file():
        raise FERDataError(f"{name}: no such file")
    if path.stat().st_size == 0:
        raise FERDataError(f"{name}: the file is empty (0 bytes)")
    return decode_photo(path.read_bytes(), name)


def decode_photo(data: bytes, name: str = "the photo") -> np.ndarray:
    """A photo file's bytes -> its pixels as OpenCV reads them (BGR / grey / BGRA, 8 or 16 bits), turned
    upright as its EXIF orientation says. A phone stores a portrait photo sideways with a tag that tells
    viewers to turn it; OpenCV's ``IMREAD_UNCHANGED`` (kept for 16-bit and alpha) ignores the tag, and the
    frontal face detector finds no face lying on its side. Raises ``FERDataError`` naming ``name``."""
    from PIL import Image
    try:
        width, height, orientation = _header(data)
    except Image.DecompressionBombError as err:          # Pillow's own limit (179 megapixels), above ours
        raise FERDataError(f"{name}: more than {MAX_PIXELS / 1e6:.0f} megapixels, more than this tool reads; "
                           "shrink the photo first") from err
    if width * height > MAX_PIXELS:
        raise FERDataError(f"{name}: {width}x{height} pixels is more than this tool reads "
                           f"({MAX_PIXELS / 1e6:.0f} megapixels); shrink the photo first")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if image is None and data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1"):
        raise FERDataError(f"{name}: a HEIC photo (an iPhone's own format), which OpenCV cannot read: export "
                           "it as JPEG (on the iPhone: Settings > Camera > Formats > Most Compatible)")
    if image is None:
        raise FERDataError(f"{name}: not an image OpenCV can read (corrupt, truncated or another format)")
    return upright(image, orientation)


def _header(data: bytes) -> tuple[int, int, int]:
    """``(width, height, EXIF orientation)`` from the file's header, without decoding the pixels (Pillow);
    ``(0, 0, 1)`` when Pillow does not know the format (OpenCV may still read it)."""
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data)) as im:
            return (*im.size, im.getexif().get(ORIENTATION, 1))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 0, 0, 1


ORIENTATION = 0x0112        # the EXIF tag; 1 = stored upright
_TURNS = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
          5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1), 7: lambda a: np.rot90(a, 2).swapaxes(0, 1),
          8: lambda a: np.rot90(a, 1)}


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels -> as the photo is meant to be seen, for an EXIF ``orientation`` of 1-8 (2-8 mirror
    and/or turn it, as Pillow's ``ImageOps.exif_transpose`` does); any other value leaves it as stored."""
    turn = _TURNS.get(orientation)
    return np.ascontiguousarray(turn(image)) if turn else image


def to_grey8(image: np.ndarray) -> np.ndarray:
    """Any photo array -> 8-bit grey at full size (the loaders' ``to_uint8`` does the conversion: alpha
    dropped, BGR colour to grey, 16-bit or float rescaled)."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ValueError(f"a photo has 1, 3 or 4 channels, not {image.shape[2]}")
    return to_uint8(image, size=image.shape[:2], channels=1)[..., 0]


_detectors: dict = {}


def detector(name: str = CASCADE):
    """OpenCV's Haar cascade face detector (loaded once). OpenCV 5 removed ``CascadeClassifier`` from the
    main package; this workbook pins opencv 4.x, which has it and ships the cascade files."""
    if not hasattr(cv2, "CascadeClassifier"):
        raise RuntimeError(f"OpenCV {cv2.__version__} has no CascadeClassifier (removed in 5.0): "
                           "install opencv-python-headless~=4.14 (see requirements.txt)")
    if name not in _detectors:
        path = Path(cv2.data.haarcascades) / name
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise RuntimeError(f"could not load the face cascade {path}")
        _detectors[name] = cascade
    return _detectors[name]


DETECT_MAX_SIDE = 1600     # pixels: larger photos are searched on a shrunk copy (a 24-megapixel photo in ~1 s)


def detect(image: np.ndarray, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 30,
           max_side: int | None = None) -> list:
    """Boxes ``(x, y, w, h)`` of the frontal faces in a photo, in the photo's pixels, largest first.

    A photo larger than ``max_side`` (default ``DETECT_MAX_SIDE``) is searched on a copy shrunk to that size
    and the boxes are scaled back: the detector's time and memory grow with the pixels, and a face that small
    in a big photo (under ~``min_size`` pixels of the copy) is too small to classify anyway. A live camera
    wants speed: ``max_side=320, scale_factor=1.2`` finds faces of 60 pixels and more in a 640x480 frame in a
    sixth of the time (``helpers.app.LIVE``)."""
    grey = to_grey8(image)
    scale = min(1.0, (max_side or DETECT_MAX_SIDE) / max(grey.shape))
    if scale < 1.0:
        grey = cv2.resize(grey, (round(grey.shape[1] * scale), round(grey.shape[0] * scale)),
                          interpolation=cv2.INTER_AREA)
    grey = cv2.equalizeHist(grey)
    min_size = max(1, min(min_size, *grey.shape))
    boxes = detector().detectMultiScale(grey, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                        minSize=(min_size, min_size))
    boxes = [tuple(int(round(v / scale)) for v in b) for b in boxes]
    return sorted(boxes, key=lambda b: -b[2] * b[3])


def crop(image: np.ndarray, box, margin: float = 0.1, size: int = 48) -> np.ndarray:
    """The face in ``box`` with ``margin`` (share of the box) added on each side, clamped to the photo,
    as a ``size`` x ``size`` 8-bit grey image: what FER2013's crops look like."""
    grey = to_grey8(image)
    x, y, w, h = box
    dx, dy = int(round(w * margin)), int(round(h * margin))
    top, bottom = max(0, y - dy), min(grey.shape[0], y + h + dy)
    left, right = max(0, x - dx), min(grey.shape[1], x + w + dx)
    face = grey[top:bottom, left:right]
    interpolation = cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(face, (size, size), interpolation=interpolation)


class Predictor:
    """A Keras FER model with its class names, ready for photos. ``model_path`` defaults to the shipped
    ``models/fer2013_cnn.keras``; its ``.json`` (written by ``helpers.train``) gives the labels."""

    def __init__(self, model_path: str | os.PathLike | None = None, margin: float = 0.1):
        from helpers import shipped
        self.model, meta = shipped.load(model_path)       # a FERDataError that says what is wrong, if anything
        self.labels = meta["labels"]
        self.size = int(self.model.inputs[0].shape[1])
        self.margin = margin
        self.path = shipped.path(model_path)

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities for grey crops (N, size, size)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        x = np.asarray(crops, np.float32)[..., None]
        if len(x) <= 256:                          # a photo's faces: one call, without predict()'s set-up cost
            return np.asarray(self.model.predict_on_batch(x))
        return self.model.predict(x, verbose=0, batch_size=256)

    def predict(self, image: np.ndarray, boxes=None, **detect_options) -> list[Face]:
        """Detect the faces in a photo (or use the given ``boxes``) and classify each one; ``detect_options``
        go to :func:`detect` (``max_side``, ``scale_factor``, ``min_neighbors``, ``min_size``)."""
        grey = to_grey8(image)                     # once, not once per face: photos can be big
        boxes = detect(grey, **detect_options) if boxes is None else boxes
        crops = np.stack([crop(grey, b, self.margin, self.size) for b in boxes]) if boxes else np.zeros((0,))
        proba = self.classify(crops)
        return [Face(tuple(b), self.labels[int(p.argmax())], dict(zip(self.labels, map(float, p))))
                for b, p in zip(boxes, proba)]


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image file (format from the suffix) atomically; an error naming the file if it cannot be."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise OSError(f"{path}: could not write the image (check the folder's permissions and free space)")
    return path


def annotate(image: np.ndarray, found: list[Face]) -> np.ndarray:
    """A BGR copy of the photo with a box, the label and its confidence drawn for each face."""
    image = np.asarray(image)
    if image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] >= 3:
        canvas = np.ascontiguousarray(image[..., :3]).copy()                  # 8-bit colour stays colour
    else:
        canvas = cv2.cvtColor(to_grey8(image), cv2.COLOR_GRAY2BGR)            # grey, 16-bit, float
    scale = max(0.4, min(canvas.shape[:2]) / 600)
    for face in found:
        x, y, w, h = face.box
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 200, 255), max(1, int(2 * scale)))
        text = f"{face.label} {face.confidence:.0%}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, 1)
        top = max(0, y - th - 6)
        cv2.rectangle(canvas, (x, top), (x + tw + 4, top + th + 6), (0, 200, 255), -1)
        cv2.putText(canvas, text, (x + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas
