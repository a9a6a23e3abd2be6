"""Features for classical classifiers: pixels, HOG, LBP, and the activations of a trained CNN.

Every extractor is a scikit-learn transformer, so it composes in a ``Pipeline``::

    pipe = make_pipeline(features.Hog(), StandardScaler(), PCA(200), SVC())
    pipe.fit(train_images, train_labels)          # uint8 faces, shape (N, 48, 48, 1) or (N, 48, 48)

Transformers take images the way ``helpers.data`` gives them (grey levels 0-255) and return float32 rows.
Each is a ``Stateless`` transformer: it learns nothing in ``fit`` and its ``transform`` returns a new array.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


def as_grey_batch(images, what: str = "images") -> np.ndarray:
    """``images`` as a ``(N, H, W)`` uint8 array, or a clear error saying what shape was given."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"{what}: expected greyscale faces shaped (N, H, W) or (N, H, W, 1), got {images.shape}")
    if images.dtype != np.uint8:
        images = np.clip(images, 0, 255).astype(np.uint8)
    return images


class Stateless(TransformerMixin, BaseEstimator):
    """A transformer that learns nothing in ``fit`` (the features are fixed functions of the image). Its
    ``transform`` always returns a new array, which the pipelines of ``helpers.svm`` then change in place."""

    def fit(self, images, y=None):
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags


class InChunks(Stateless):
    """A stateless feature ``step`` applied to ``chunk`` faces at a time, each chunk's rows written into one
    float32 array made in advance. The result is the same as ``step.transform(images)``, but the step's own
    full-size intermediate arrays (each part of a ``FeatureUnion``, then their side-by-side copy) never
    exist: on FER2013's 28,000 Training faces x 13,000 features (1.5 GB) that is about 2 GB less at the peak."""

    def __init__(self, step, chunk: int = 2000):
        self.step = step
        self.chunk = chunk

    def transform(self, images):
        images = as_grey_batch(images)
        first = self.step.transform(images[:self.chunk])
        out = np.empty((len(images), first.shape[1]), np.float32)
        out[:len(first)] = first
        for start in range(self.chunk, len(images), self.chunk):
            out[start:start + self.chunk] = self.step.transform(images[start:start + self.chunk])
        return out


class Pixels(Stateless):
    """Raw pixels, each image standardised to mean 0 and standard deviation 1 (removes lighting)."""

    def transform(self, images):
        x = as_grey_batch(images).reshape(len(images), -1).astype(np.float32)
        return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)


class Hog(Stateless):
    """Histograms of oriented gradients (OpenCV's ``HOGDescriptor``) at one or more cell sizes.

    A cell of ``c`` pixels gets a 9-bin histogram of gradient directions; blocks of 2x2 cells are
    normalised. Small cells see wrinkles and mouth corners, large cells the shape of the whole face.
    """

    def __init__(self, cells=(4, 6), bins: int = 9):
        self.cells = cells
        self.bins = bins

    def transform(self, images):
        import cv2
        images = as_grey_batch(images)
        h, w = images.shape[1:]
        parts = []
        for c in self.cells:
            if h % c or w % c:
                raise ValueError(f"HOG cell size {c} does not divide the {h}x{w} image")
            desc = cv2.HOGDescriptor((w, h), (2 * c, 2 * c), (c, c), (c, c), self.bins)
            parts.append(np.stack([desc.compute(im).ravel() for im in images]))
        return np.hstack(parts).astype(np.float32)


class Lbp(Stateless):
    """Local binary patterns (uniform, 8 neighbours, radius 1): a histogram of micro-textures in each cell
    of a ``grid`` x ``grid`` layout, the classic face-texture descriptor."""

    def __init__(self, grid: int = 6):
        self.grid = grid

    def transform(self, images):
        from skimage.feature import local_binary_pattern
        images = as_grey_batch(images)
        h, w = images.shape[1:]
        sh, sw = h // self.grid, w // self.grid
        rows = []
        for im in images:
            codes = local_binary_pattern(im, 8, 1, "uniform").astype(np.int64)    # codes 0..9
            cells = codes[: sh * self.grid, : sw * self.grid].reshape(self.grid, sh, self.grid, sw)
            cells = cells.transpose(0, 2, 1, 3).reshape(self.grid * self.grid, -1)
            rows.append(np.stack([np.bincount(c, minlength=10) for c in cells]).ravel())
        return np.asarray(rows, np.float32) / (sh * sw)


class Gabor(Stateless):
    """Gabor filter-bank energy, the classic descriptor of facial expression (wrinkles, furrows, open eyes):
    each face filtered by ``len(wavelengths) x orientations`` oriented wave patterns, the local energy
    (even and odd phase) averaged over a ``grid`` x ``grid`` layout.

    For speed, a chunk of faces is filtered in one OpenCV call: the faces are stacked into one tall image with
    gaps wider than the kernel, so neighbours do not bleed into each other, and every face, the first of a
    chunk too, sees zeros beyond its edges."""

    def __init__(self, wavelengths=(4, 6, 8, 11), orientations: int = 6, grid: int = 12, chunk: int = 2000):
        self.wavelengths = wavelengths
        self.orientations = orientations
        self.grid = grid
        self.chunk = chunk

    def _kernels(self):
        import cv2
        pairs = []
        for lam in self.wavelengths:
            for k in range(self.orientations):
                theta = np.pi * k / self.orientations
                pairs.append([cv2.getGaborKernel((15, 15), 0.56 * lam, theta, lam, 0.5, psi)
                              for psi in (0, np.pi / 2)])
        return pairs

    def transform(self, images):
        import cv2
        images = as_grey_batch(images)
        n, h, w = images.shape
        gap = 8                                            # > half the 15x15 kernel
        kernels = self._kernels()
        out = np.empty((n, len(kernels) * self.grid * self.grid), np.float32)
        for start in range(0, n, self.chunk):
            part = images[start:start + self.chunk].astype(np.float32) / 255
            m = len(part)
            tall = np.zeros((m, h + gap, w + 2 * gap), np.float32)
            tall[:, :h, gap:gap + w] = part
            tall = tall.reshape(m * (h + gap), w + 2 * gap)
            feats = []
            for even, odd in kernels:                    # zeros beyond the edges, as in the gaps between faces
                energy = np.sqrt(cv2.filter2D(tall, -1, even, borderType=cv2.BORDER_CONSTANT) ** 2
                                 + cv2.filter2D(tall, -1, odd, borderType=cv2.BORDER_CONSTANT) ** 2)
                energy = energy.reshape(m, h + gap, w + 2 * gap)[:, :h, gap:gap + w]
                cells = energy.reshape(m, self.grid, h // self.grid, self.grid, w // self.grid).mean(axis=(2, 4))
                feats.append(cells.reshape(m, -1))
            out[start:start + m] = np.hstack(feats)
        return out


# ----------------------------------------------------------------------------------------------------------
# CNN features
# ----------------------------------------------------------------------------------------------------------

def penultimate_layer(model) -> str:
    """The name of the layer that feeds the classification head (the last layer before the output)."""
    from helpers.backend import keras
    for layer in reversed(model.layers[:-1]):
        if not isinstance(layer, (keras.layers.Dropout, keras.layers.InputLayer)):
            return layer.name
    raise ValueError(f"model {model.name!r} has no layer before its output")


def feature_extractor(model, layer: str | None = None):
    """A Keras model from ``model``'s input to the output of ``layer`` (default: the penultimate layer,
    i.e. the network with its classification head removed)."""
    from helpers.backend import keras
    layer = layer or penultimate_layer(model)
    names = [l.name for l in model.layers]
    if layer not in names:
        raise ValueError(f"layer {layer!r} not found in model {model.name!r}; its layers are: {', '.join(names)}")
    return keras.Model(model.inputs, model.get_layer(layer).output, name=f"{model.name}_to_{layer}")


def cnn_features(model, images, layer: str | None = None, batch_size: int = 256) -> np.ndarray:
    """Activations of ``layer`` (default: penultimate) for ``images`` (raw grey levels, NHWC), flattened."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    expected = tuple(model.inputs[0].shape[1:])
    if images.shape[1:] != expected:
        raise ValueError(f"model {model.name!r} expects images shaped {expected}, got {images.shape[1:]}: "
                         "resize them (helpers.data.load(size=...)) or use a model built for this size")
    # as given (uint8): the extractor, a functional model, converts each batch; a float32 copy of every face
    # would be 4x the faces' memory, and Keras' copy of it as much again
    out = feature_extractor(model, layer).predict(images, batch_size=batch_size, verbose=0)
    return np.asarray(out, np.float32).reshape(len(images), -1)


class CnnFeatures(Stateless):
    """``cnn_features`` as a scikit-learn transformer, so a CNN + SVM stack is one ``Pipeline``."""

    def __init__(self, model, layer: str | None = None, batch_size: int = 256):
        self.model = model
        self.layer = layer
        self.batch_size = batch_size

    def transform(self, images):
        return cnn_features(self.model, images, self.layer, self.batch_size)
