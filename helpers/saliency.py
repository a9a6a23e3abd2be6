"""Saliency maps for any Keras image classifier, and the sanity check that tells real ones from edge detectors.

Methods (each returns maps of shape (N, H, W), non-negative, one per image):

- ``gradient``:   |d log p(class) / d pixel|, the vanilla saliency map (Simonyan et al. 2014)
- ``stretched``:  the gradient map smoothed with a Gaussian blur and stretched to 0-1, as one study showed it
- ``smoothgrad``: the gradient averaged over noisy copies of the image (Smilkov et al. 2017)
- ``gradcam``:    class activation of the last convolutional layer, weighted by its gradients (Selvaraju 2017)

``randomisation_check`` re-initialises the weights from the top layer down (Adebayo et al. 2018): maps that
explain the model must change when the model is destroyed; maps that do not are flagged.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.stats import spearmanr

from helpers.backend import input_gradient, keras
from helpers.models import as_float32


def _prepare(model):
    return as_float32(model) if any(getattr(l, "dtype_policy", None) is not None and
                                    "mixed" in str(l.dtype_policy.name) for l in model.layers) else model


def _class_indices(model, x, classes):
    if classes is None:
        return model.predict(x, verbose=0, batch_size=128).argmax(1)
    return np.broadcast_to(np.asarray(classes), (len(x),))


def _log_probability(model, idx):
    """Per sample, the log-probability the model gives class ``idx[i]`` (a Keras-ops function of a batch)."""
    ops = keras.ops
    chosen = ops.convert_to_tensor(np.asarray(idx, dtype="int32")[:, None])
    return lambda x: ops.log(ops.take_along_axis(model(x, training=False), chosen, axis=1)[:, 0] + 1e-12)


#: Faces per gradient pass. The backward pass keeps every layer's activations for the whole batch (300 FER2013
#: faces through the shipped network at once held 1.5 GB), so maps are computed a batch at a time.
BATCH = 64


def _batched_gradient(model, x, idx) -> np.ndarray:
    """d log p(``idx[i]``) / d ``x[i]`` for every sample, ``BATCH`` samples at a time."""
    return np.concatenate([input_gradient(_log_probability(model, idx[i:i + BATCH]), x[i:i + BATCH])
                           for i in range(0, max(len(x), 1), BATCH)])


def gradient(model, images, classes=None) -> np.ndarray:
    """Vanilla gradient saliency: |d log p(class) / d input| (max over channels), for ``classes`` (default:
    the predicted class of each image)."""
    model = _prepare(model)
    x = np.asarray(images, dtype="float32")
    g = _batched_gradient(model, x, _class_indices(model, x, classes))
    return np.abs(g).max(axis=-1)


def stretched(maps: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    """Gaussian-blurred maps, each stretched to the range 0-1 (the 'stretched' saliency of one study)."""
    out = np.stack([cv2.GaussianBlur(m.astype(np.float32), (0, 0), sigma) for m in maps])
    lo = out.min(axis=(1, 2), keepdims=True)
    hi = out.max(axis=(1, 2), keepdims=True)
    return (out - lo) / np.maximum(hi - lo, 1e-12)


def smoothgrad(model, images, classes=None, samples: int = 16, noise: float = 0.1, seed: int = 0) -> np.ndarray:
    """SmoothGrad: the gradient map averaged over ``samples`` copies with Gaussian noise of standard deviation
    ``noise`` x (pixel range 255)."""
    model = _prepare(model)
    x = np.asarray(images, dtype="float32")
    idx = _class_indices(model, x, classes)
    rng = np.random.default_rng(seed)
    total = np.zeros(x.shape[:3], np.float32)
    for _ in range(samples):
        total += gradient(model, x + rng.normal(0, noise * 255, x.shape).astype("float32"), idx)
    return total / samples


def last_conv_layer(model) -> str:
    """Name of the model's last layer with a 4-D (image-like) output: where Grad-CAM looks."""
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Activation)) and shape and len(shape) == 4:
            return layer.name
    raise ValueError(f"model {model.name!r} has no top-level convolutional layer for Grad-CAM; "
                     "pass layer_name= with a layer whose output is (N, h, w, channels)")


def gradcam(model, images, classes=None, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM: ReLU of the last conv layer's channels weighted by their mean gradient, upsampled to the
    image size."""
    model = _prepare(model)
    name = layer_name or last_conv_layer(model)
    try:
        layer = model.get_layer(name)
    except ValueError as err:
        raise ValueError(f"layer {name!r} not found in model {model.name!r}") from err
    x = np.asarray(images, dtype="float32")
    idx = _class_indices(model, x, classes)
    conv = keras.Model(model.inputs, layer.output).predict(x, verbose=0, batch_size=128)
    head = keras.Model(layer.output, model.output)          # the rest of the network, from that layer on
    grads = _batched_gradient(head, conv, idx)
    cam = np.maximum((conv * grads.mean(axis=(1, 2), keepdims=True)).sum(axis=-1), 0)
    h, w = x.shape[1:3]
    return np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR) for c in cam])


METHODS = {
    "gradient": gradient,
    "stretched": lambda model, images, classes=None: stretched(gradient(model, images, classes)),
    "smoothgrad": smoothgrad,
    "gradcam": gradcam,
}


def compute(method: str, model, images, classes=None) -> np.ndarray:
    """Maps of one method by name (``gradient``, ``stretched``, ``smoothgrad``, ``gradcam``)."""
    if method not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {sorted(METHODS)}")
    return METHODS[method](model, images, classes)


# ----------------------------------------------------------------------------------------------------------
# Sanity check: cascading model randomisation (Adebayo et al. 2018)
# ----------------------------------------------------------------------------------------------------------

def _reinitialise(layer, rng):
    """New He-normal kernel and zero bias for a Conv2D or Dense layer."""
    new = []
    for w in layer.get_weights():
        if w.ndim > 1:
            fan_in = int(np.prod(w.shape[:-1]))
            new.append(rng.normal(0, np.sqrt(2.0 / fan_in), w.shape).astype(w.dtype))
        else:
            new.append(np.zeros_like(w))
    layer.set_weights(new)


def randomisation_check(model, images, methods=("gradient", "smoothgrad", "gradcam"), seed: int = 0,
                        classes=None) -> dict:
    """Re-initialise the model's Conv2D/Dense layers from the top down and compare each method's maps with
    the trained model's (Spearman rank correlation, mean over images).

    Returns ``{method: [(n_layers_randomised, layer_name, rho), ...]}``; the last entry is the fully
    randomised model. The maps are always explained for the *trained* model's predicted classes.
    """
    trained = _prepare(model)
    classes = _class_indices(trained, np.asarray(images, "float32"), classes)
    reference = {m: compute(m, trained, images, classes) for m in methods}
    victim = keras.models.clone_model(trained)
    victim.set_weights(trained.get_weights())
    rng = np.random.default_rng(seed)
    layers = [l for l in reversed(victim.layers) if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense))]
    out = {m: [] for m in methods}
    for i, layer in enumerate(layers, start=1):
        _reinitialise(layer, rng)
        if i < len(layers) and i % max(1, len(layers) // 4):      # a few steps of the cascade, and the last
            continue
        for m in methods:
            maps = compute(m, victim, images, classes)
            out[m].append((i, layer.name, map_similarity(reference[m], maps)))
    return out


def map_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Spearman rank correlation between corresponding maps (1: same ranking of pixels)."""
    rhos = []
    for x, y in zip(a, b):
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            rhos.append(0.0)
            continue
        rhos.append(spearmanr(x.ravel(), y.ravel()).statistic)
    return float(np.nanmean(rhos))


# ----------------------------------------------------------------------------------------------------------
# Where the model looks
# ----------------------------------------------------------------------------------------------------------

#: Horizontal bands of an aligned 48x48 FER2013 face (rows, top to bottom).
FACE_BANDS = {"brows": (8, 16), "eyes": (16, 24), "nose": (24, 31), "mouth": (31, 43)}


def band_shares(maps: np.ndarray, bands: dict = FACE_BANDS) -> np.ndarray:
    """Share of each map's total saliency that falls in each band: array (N, len(bands)).
    Rows are scaled from 48 to the maps' height."""
    h = maps.shape[1]
    total = maps.sum(axis=(1, 2)) + 1e-12
    cols = []
    for top, bottom in bands.values():
        t, b = int(round(top * h / 48)), int(round(bottom * h / 48))
        cols.append(maps[:, t:b, :].sum(axis=(1, 2)) / total)
    return np.stack(cols, axis=1)
