"""Faces in ordinary photos: read any image, find the faces (OpenCV's Haar cascade), crop them to the model's
48x48 grey input, classify, and draw the result.

    predictor = faces.Predictor()                  # the shipped model, models/fer2013_cnn.keras
    found = predictor.predict(faces.read_photo("group.jpg"))
    for face in found:
        print(face.box, face.label, face.probabilities)

Photos may be any size, colour (BGR as OpenCV reads them), greyscale, with alpha, 8 or 16 bits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from helpers import FERDataError
from helpers.data import to_uint8

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


def read_photo(path: str | os.PathLike) -> np.ndarray:
    """Read a photo as OpenCV does (BGR / grey / BGRA, 8 or 16 bits), with a clear error if it cannot be."""
    path = Path(path)
    if not path.is_file():
        raise FERDataError(f"{path}: no such file")
    image = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FERDataError(f"{path}: not an image OpenCV can read (corrupt, truncated or another format)")
    return image


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


def detect(image: np.ndarray, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 30) -> list:
    """Boxes ``(x, y, w, h)`` of the frontal faces in a photo, in the photo's pixels, largest first.

    A photo larger than ``DETECT_MAX_SIDE`` is searched on a copy shrunk to that size and the boxes are
    scaled back: the detector's time and memory grow with the pixels, and a face that small in a big photo
    (under ~``min_size`` pixels of the copy) is too small to classify anyway."""
    grey = to_grey8(image)
    scale = min(1.0, DETECT_MAX_SIDE / max(grey.shape))
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
        self.path = Path(model_path or shipped.path())

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """Class probabilities for grey crops (N, size, size)."""
        if len(crops) == 0:
            return np.zeros((0, len(self.labels)), np.float32)
        x = np.asarray(crops, np.float32)[..., None]
        if len(x) <= 256:                          # a photo's faces: one call, without predict()'s set-up cost
            return np.asarray(self.model.predict_on_batch(x))
        return self.model.predict(x, verbose=0, batch_size=256)

    def predict(self, image: np.ndarray, boxes=None) -> list[Face]:
        """Detect the faces in a photo (or use the given ``boxes``) and classify each one."""
        grey = to_grey8(image)                     # once, not once per face: photos can be big
        boxes = detect(grey) if boxes is None else boxes
        crops = np.stack([crop(grey, b, self.margin, self.size) for b in boxes]) if boxes else np.zeros((0,))
        proba = self.classify(crops)
        return [Face(tuple(b), self.labels[int(p.argmax())], dict(zip(self.labels, map(float, p))))
                for b, p in zip(boxes, proba)]


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image file (format from the suffix) atomically; an error naming the file if it cannot be."""
    from helpers.files import atomic_path
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


def sample_photos() -> dict:
    """Real photos that ship inside installed packages: ``{name: BGR or grey array}``.

    scikit-image's astronaut (Eileen Collins, one face) and cameraman (a face the frontal detector misses),
    its coffee cup (no face), and a composite of real faces from its Labeled Faces in the Wild subset."""
    from skimage import data as skdata
    photos = {"astronaut": skdata.astronaut()[..., ::-1], "camera": skdata.camera(),
              "coffee": skdata.coffee()[..., ::-1]}
    photos["lfw_group"] = lfw_composite()
    return photos


def lfw_composite(n: int = 12, cols: int = 4, face_px: int = 110, seed: int = 0) -> np.ndarray:
    """A group photo made of ``n`` real faces from scikit-image's LFW subset (25x25 crops of news photos),
    enlarged and placed with space around them on a textured background."""
    from skimage import data as skdata
    faces = skdata.lfw_subset()[:100]                       # the first 100 are faces, the rest are not
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(faces), n, replace=False)
    rows = int(np.ceil(n / cols))
    cell = int(face_px * 1.6)
    canvas = rng.normal(150, 20, (rows * cell, cols * cell)).clip(0, 255).astype(np.uint8)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 3)
    for k, i in enumerate(pick):
        face = cv2.resize((faces[i] * 255).astype(np.uint8), (face_px, face_px), interpolation=cv2.INTER_CUBIC)
        r, c = divmod(k, cols)
        y0 = r * cell + (cell - face_px) // 2 + int(rng.integers(-8, 9))
        x0 = c * cell + (cell - face_px) // 2 + int(rng.integers(-8, 9))
        canvas[y0:y0 + face_px, x0:x0 + face_px] = face
    return canvas


def widget(predictor: Predictor, samples: dict | None = None):
    """A small JupyterLab app: upload a photo or pick a sample, see the faces found with their labels and
    each face's probability bars. Returns the ipywidgets box (display it as the cell's last line)."""
    import ipywidgets as w
    import matplotlib.pyplot as plt

    samples = samples if samples is not None else sample_photos()
    upload = w.FileUpload(accept="image/*", multiple=False, description="Upload a photo")
    choose = w.Dropdown(options=list(samples), description="or a sample:")
    out = w.Output()

    def show(image, title):
        out.clear_output(wait=True)
        with out:
            found = predictor.predict(image)
            cols = 1 + len(found)
            fig, axes = plt.subplots(1, cols, figsize=(4 + 2.6 * len(found), 3.4), squeeze=False,
                                     gridspec_kw={"width_ratios": [2.5] + [1.6] * len(found)})
            axes[0, 0].imshow(annotate(image, found)[..., ::-1])
            axes[0, 0].set_title(f"{title}: {len(found) or 'no'} face(s)", fontsize=9)
            axes[0, 0].axis("off")
            for ax, face in zip(axes[0, 1:], found):
                ax.barh(list(face.probabilities), list(face.probabilities.values()), color="tab:orange")
                ax.set(xlim=(0, 1), title=f"box {face.box[:2]}: {face.label}")
                ax.tick_params(labelsize=8)
            fig.tight_layout()
            plt.show()

    def on_upload(change):
        if not change["new"]:
            return
        item = change["new"][0]
        image = cv2.imdecode(np.frombuffer(item["content"], np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            with out:
                out.clear_output()
                print(f"{item['name']}: not an image OpenCV can read")
            return
        show(image, item["name"])

    upload.observe(on_upload, names="value")
    choose.observe(lambda change: show(samples[change["new"]], change["new"]), names="value")
    show(samples[choose.value], choose.value)
    return w.VBox([w.HBox([upload, choose]), out])
