"""Photos and a JupyterLab app for notebook 06: real photos that ship inside installed packages, and a widget to
try the photo pipeline (:mod:`helpers.faces`) on them or on an upload. Notebook-only: the command line does not
need it.
"""

from __future__ import annotations

import cv2
import numpy as np

from helpers import FERDataError
from helpers.faces import Predictor, annotate, decode_photo


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
    upload = w.FileUpload(accept="image/*", multiple=False, description="Upload a photo",
                          layout=w.Layout(width="auto"))
    choose = w.Dropdown(options=list(samples), description="or a sample:", style={"description_width": "initial"})
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
        try:
            image = decode_photo(bytes(item["content"]), item["name"])
        except FERDataError as err:
            with out:
                out.clear_output()
                print(err)
            return
        show(image, item["name"])

    upload.observe(on_upload, names="value")
    choose.observe(lambda change: show(samples[change["new"]], change["new"]), names="value")
    show(samples[choose.value], choose.value)
    return w.VBox([w.HBox([upload, choose]), out])
