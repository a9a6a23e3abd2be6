"""A demo dataset the workbook draws itself, used when no real data is found.

Each face is a drawing whose expression is set by three parts, as in the Facial Action Coding System's
broad strokes: the **mouth** (smile, frown, open), the **brows** (raised, lowered, slanted) and the **eyes**
(wide, normal, narrowed). Pose, size, lighting, blur and noise vary at random, and the strength of each
part varies too, so the classes overlap a little. It is a stand-in to make every notebook run anywhere; it is
NOT FER2013, and numbers measured on it say nothing about real faces. It has one use real data lacks:
the class is known to live in the mouth, brow and eye regions, a ground truth for saliency maps.
"""

from __future__ import annotations

import cv2
import numpy as np

from helpers.dataset import Dataset, canonical_class, stratified_assign, to_uint8

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

#: Whether the data this process loaded last (``helpers.data.load``) is the demo set; while it is, every
#: figure a notebook saves (``Run.save_fig``) carries a DEMO DATA banner, so no one mistakes it for FER2013's.
IN_USE = False
BANNER = "DEMO DATA (generated cartoon faces): not FER2013 results"

# Per class: brow lift (+ up), brow slant (+ inner ends down), eye openness, mouth shape and curvature.
_STYLE = {
    "angry":    dict(brow_lift=-0.6, brow_slant=1.0, eye_open=0.7, mouth="line", curve=0.0),
    "disgust":  dict(brow_lift=-0.4, brow_slant=0.4, eye_open=0.5, mouth="sneer", curve=0.0),
    "fear":     dict(brow_lift=0.8, brow_slant=-0.6, eye_open=1.4, mouth="wide", curve=0.0),
    "happy":    dict(brow_lift=0.1, brow_slant=0.0, eye_open=0.8, mouth="arc", curve=1.0),
    "neutral":  dict(brow_lift=0.0, brow_slant=0.0, eye_open=1.0, mouth="line", curve=0.0),
    "sad":      dict(brow_lift=0.2, brow_slant=-1.0, eye_open=0.8, mouth="arc", curve=-0.8),
    "surprise": dict(brow_lift=1.2, brow_slant=0.0, eye_open=1.5, mouth="open", curve=0.0),
    # not a FER2013 class: CK+ has it, so the demo can stand in for a CK+-style folder
    "contempt": dict(brow_lift=0.0, brow_slant=0.2, eye_open=0.9, mouth="sneer", curve=0.0),
}

#: Rows of the 48x48 canonical face where each part is drawn (used by the saliency notebook's bands).
PART_ROWS = {"brows": (11, 20), "eyes": (16, 25), "mouth": (30, 41)}


def draw_face(label: str, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """One grey face (uint8, size x size) showing the expression ``label``, with random pose and light."""
    s = _STYLE[label]
    k = 4                                                 # draw at 4x and shrink: smooth, anti-aliased lines
    n = size * k
    jitter = rng.uniform(0.6, 1.3)                        # how strongly this face shows its expression
    bg = rng.uniform(30, 200)
    img = np.full((n, n), bg, np.float32)
    skin = float(np.clip(bg + rng.choice([-1, 1]) * rng.uniform(40, 90), 40, 235))
    dark = skin * rng.uniform(0.15, 0.45)
    cx, cy = n / 2, n / 2 + n * 0.03
    cv2.ellipse(img, (int(cx), int(cy)), (int(n * 0.36), int(n * 0.46)), 0, 0, 360, skin, -1)

    def p(x, y):                                          # face coordinates (fractions) -> pixels
        return int(cx + x * n), int(cy + y * n)

    eye_y, brow_y = -0.12, -0.22 - 0.05 * s["brow_lift"] * jitter
    for side in (-1, 1):
        ex = side * 0.15
        h = max(0.008, 0.035 * s["eye_open"] * (0.85 + 0.3 * rng.random()))
        cv2.ellipse(img, p(ex, eye_y), (int(0.065 * n), int(h * n)), 0, 0, 360, dark, -1)
        slant = 0.05 * s["brow_slant"] * jitter
        inner, outer = p(side * 0.05, brow_y + slant), p(side * 0.26, brow_y - slant * 0.3)
        cv2.line(img, inner, outer, dark, int(0.03 * n))
    cv2.line(img, p(0, -0.06), p(-0.025, 0.08), dark * 1.4, int(0.015 * n))             # nose

    my, width = 0.22, 0.16 * rng.uniform(0.85, 1.15)
    thick = int(0.025 * n)
    if s["mouth"] == "arc":
        depth = s["curve"] * jitter * 0.07
        pts = [p(t * width, my + depth * (1 - t * t) - depth * 0.5) for t in np.linspace(-1, 1, 21)]
        cv2.polylines(img, [np.array(pts, np.int32)], False, dark, thick)
    elif s["mouth"] == "open":
        cv2.ellipse(img, p(0, my + 0.01), (int(width * 0.55 * n), int(0.09 * jitter * n)), 0, 0, 360, dark, -1)
    elif s["mouth"] == "wide":
        cv2.ellipse(img, p(0, my), (int(width * 1.1 * n), int(0.035 * jitter * n)), 0, 0, 360, dark, -1)
    elif s["mouth"] == "sneer":
        pts = [p(t * width, my - 0.04 * jitter * max(0.0, t) ** 2 + 0.015 * np.sin(6 * t))
               for t in np.linspace(-1, 1, 21)]
        cv2.polylines(img, [np.array(pts, np.int32)], False, dark, thick)
    else:                                                 # line: tight for angry, relaxed for neutral
        w = width * (0.8 if label == "angry" else 1.0)
        cv2.line(img, p(-w, my), p(w, my), dark, int(thick * (1.6 if label == "angry" else 1.0)))

    # pose: rotation, scale and shift; then light from one side, blur and sensor noise
    m = cv2.getRotationMatrix2D((n / 2, n / 2), rng.uniform(-12, 12), rng.uniform(0.85, 1.1))
    m[:, 2] += rng.uniform(-0.06, 0.06, 2) * n
    img = cv2.warpAffine(img, m, (n, n), borderMode=cv2.BORDER_REPLICATE)
    ramp = np.linspace(-1, 1, n, dtype=np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0, 0.35) * (np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None])
    img = cv2.resize(img * light, (size, size), interpolation=cv2.INTER_AREA)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.0))
    img += rng.normal(0, rng.uniform(2, 10), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_dataset(per_class: int = 400, size=(48, 48), channels: int = 1, seed: int = 0,
                 public_fraction: float = 0.1, private_fraction: float = 0.1) -> Dataset:
    """``per_class`` generated faces for each of the 7 FER2013 classes, split 80/10/10 (stratified)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for c, name in enumerate(CLASSES):
        for _ in range(per_class):
            face = draw_face(name, rng, 48)
            images.append(to_uint8(face, size, channels))
            labels.append(c)
    labels = np.array(labels, dtype=np.int64)
    splits = stratified_assign(labels, {"public": public_fraction, "private": private_fraction}, seed)
    paths = np.array([f"demo:{CLASSES[c]}:{i}" for i, c in enumerate(labels)])
    return Dataset(np.stack(images), labels, list(CLASSES), splits, paths,
                   source=f"demo (generated faces, {per_class} per class, seed {seed})")


def write_folders(root, classes=("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"),
                  per_class: int = 20, seed: int = 0):
    """Write a class-per-folder dataset of demo faces (``root/<class>/<n>.png``), by default with CK+'s
    folder names: a stand-in for a real CK+, JAFFE or AffectNet folder. Returns ``root``."""
    from pathlib import Path
    root = Path(root)
    rng = np.random.default_rng(seed)
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            cv2.imwrite(str(folder / f"{i:03d}.png"), draw_face(canonical_class(name), rng))
    return root


def announce(ds: Dataset) -> None:
    """Say loudly that this is the demo set, so no one mistakes its numbers for FER2013's."""
    bar = "#" * 88
    print(f"{bar}\n#  NO REAL DATA FOUND: using the DEMO dataset of generated cartoon faces.{' ' * 14}#\n"
          f"#  Numbers below are NOT FER2013 results. To use FER2013, see README 'Getting FER2013'    #\n"
          f"#  (put it in data/fer2013 or set FER_DATA=/path/to/fer2013).{' ' * 26}#\n{bar}")
    print(f"Loaded {ds!r}")
