"""A demo dataset the workbook draws itself, used when no real data is found.

Each face is a drawing whose expression is set by three parts, as in the Facial Action Coding System's
broad strokes: the **mouth** (smile, frown, open), the **brows** (raised, lowered, slanted) and the **eyes**
(wide, normal, narrowed). Pose, size, lighting, blur and noise vary at random, and the strength of each
part varies too, so the classes overlap a little. The set is shaped like FER2013 so that every notebook's
lesson shows on it: FER2013's class proportions (a rare *disgust*), label noise between classes annotators
confuse, pixel-identical duplicates (some across splits, some relabelled) and a few blank frames.

It is a stand-in to make every notebook run anywhere; it is NOT FER2013, and numbers measured on it say
nothing about real faces. It has one use real data lacks: the class is known to live in the mouth, brow and
eye regions, a ground truth for saliency maps.
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


#: FER2013's class sizes (all 35,887 images), so the demo set is as unbalanced as the real one: ``disgust``
#: is 1.5% of the faces, ``happy`` a quarter.
FER2013_COUNTS = {"angry": 4953, "disgust": 547, "fear": 5121, "happy": 8989, "neutral": 6198, "sad": 6077,
                  "surprise": 4002}

#: The classes a tired annotator might pick instead (FER2013's confusions): where label noise sends a face.
CONFUSED_WITH = {"angry": ("sad", "neutral"), "disgust": ("angry",), "fear": ("surprise", "sad"),
                 "happy": ("neutral",), "neutral": ("sad", "angry"), "sad": ("neutral", "fear"),
                 "surprise": ("fear",)}


def _drawn_counts(n: int, label_noise: float) -> dict:
    """How many faces of each class to draw so that, after label noise moves some labels to a confused
    class, the labels have FER2013's proportions (on average): solves ``noise.T @ drawn = target``."""
    k = len(FER2013_COUNTS)
    noise = np.eye(k) * (1 - label_noise)
    for i, name in enumerate(CLASSES[:k]):
        for other in CONFUSED_WITH[name]:
            noise[i, CLASSES.index(other)] += label_noise / len(CONFUSED_WITH[name])
    target = np.array([FER2013_COUNTS[c] for c in CLASSES[:k]], float)
    drawn = np.linalg.solve(noise.T, target * n / target.sum())
    return {c: max(2, round(d)) for c, d in zip(CLASSES[:k], drawn)}


def make_dataset(n: int = 4000, *, per_class: int | None = None, size=(48, 48), channels: int = 1,
                 seed: int = 0, label_noise: float = 0.08, duplicates: float = 0.015, blanks: int = 6,
                 public_fraction: float = 0.1, private_fraction: float = 0.1) -> Dataset:
    """About ``n`` generated faces shaped like FER2013: its seven classes in its proportions (a rare
    ``disgust``), ``label_noise`` of the labels swapped for a class an annotator could confuse it with, a
    ``duplicates`` share of extra pixel-identical copies (some landing in another split, some relabelled),
    ``blanks`` near-blank images with arbitrary labels, and an 80/10/10 stratified split into Training,
    PublicTest and PrivateTest. Notebook 01's audit finds all of it, as it does in FER2013.

    ``per_class``: instead, a balanced, clean set of that many faces per class (no noise, duplicates or
    blanks): small, predictable data for tests and quick checks.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    rng = np.random.default_rng(seed)
    if per_class is not None:
        counts = dict.fromkeys(CLASSES, per_class)
        label_noise, duplicates, blanks = 0.0, 0.0, 0
    else:
        counts = _drawn_counts(n, label_noise)
    drawn = [c for c, k in counts.items() for _ in range(k)]
    images = [to_uint8(draw_face(name, rng, 48), size, channels) for name in drawn]
    labels = np.array([CLASSES.index(name) for name in drawn], dtype=np.int64)
    kinds = ["face"] * len(labels)
    for i in np.flatnonzero(rng.random(len(labels)) < label_noise):          # label noise
        labels[i] = CLASSES.index(rng.choice(CONFUSED_WITH[drawn[i]]))
        kinds[i] = f"face drawn {drawn[i]}"
    for i in rng.choice(len(drawn), round(duplicates * len(drawn)), replace=False):   # duplicates
        relabel = rng.random() < 0.25
        images.append(images[i])
        labels = np.append(labels, CLASSES.index(rng.choice(CONFUSED_WITH[drawn[i]])) if relabel else labels[i])
        kinds.append(f"copy of {i}" + (", relabelled" if relabel else ""))
    for _ in range(blanks):                                                   # blank frames, any label
        grey = np.full((48, 48), rng.uniform(20, 235)) + rng.normal(0, 0.8, (48, 48))
        images.append(to_uint8(np.clip(grey, 0, 255).astype(np.uint8), size, channels))
        labels = np.append(labels, rng.integers(len(CLASSES)))
        kinds.append("blank")
    splits = stratified_assign(labels, {"public": public_fraction, "private": private_fraction}, seed)
    paths = np.array([f"demo:{i}:{CLASSES[c]} ({kind})" for i, (c, kind) in enumerate(zip(labels, kinds))])
    shape = f"{per_class} per class" if per_class is not None else (
        f"FER2013's class shares, {label_noise:.0%} label noise, duplicates and blanks")
    return Dataset(np.stack(images), labels, list(CLASSES), splits, paths,
                   source=f"demo (generated faces: {len(labels)}, {shape}; seed {seed})")


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


def announce(ds: Dataset, hints: tuple[str, ...] | list[str] = (), asked_as: str | None = None) -> None:
    """Say loudly that this is the demo set, so no one mistakes its numbers for FER2013's; ``hints``: what
    looks like FER2013 put where it is not looked for (``data.misplaced_data()``); ``asked_as``: how the demo
    set was asked for by name (``data.demo_asked``), ``None`` when no data was found."""
    first = (f"DEMO DATA, as asked ({asked_as} is 'demo'): the generated cartoon faces." if asked_as else
             "NO REAL DATA FOUND: using the DEMO dataset of generated cartoon faces.")
    lines = [first,
             "Numbers below are NOT FER2013 results. To use FER2013, see README 'Getting FER2013'",
             "(put it in data/fer2013 or set FER_DATA=/path/to/fer2013)."]
    width = max(map(len, lines)) + 6                  # "#  " + the longest line + "  #"
    bar = "#" * width
    print("\n".join([bar, *(f"#  {line:<{width - 4}}#" for line in lines), bar]))
    for hint in hints:
        print(f"In data/ but not where it is looked for: {hint}")
    print(f"Loaded {ds!r}")
