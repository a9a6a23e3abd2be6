"""A small zoo of Keras 3 models for 48x48 faces, each built by one function.

Every model takes **raw grey levels 0-255** (float32, shape ``input_shape``) and rescales inside, so every
consumer (notebooks, the CLI, the widget) feeds it the same way. Augmentation layers, when asked for, sit
inside the model too: Keras runs them only while training, so the saved model predicts unchanged.
"""

from __future__ import annotations

import json

from helpers.backend import compilable, keras

layers = keras.layers

INIT = "he_normal"     # He-normal initialisation suits ReLU networks (one study's choice too)


def augmentation(flip=True, rotation=0.04, shift=0.1, zoom=0.1, contrast=0.2, brightness=0.15,
                 erasing=0.0, seed: int | None = None) -> keras.Sequential:
    """Random flips, small rotations (``rotation`` x 360 degrees), shifts, zooms, contrast and brightness;
    with ``erasing`` > 0, that fraction of the faces also gets one random rectangle (2-33% of the image)
    replaced by noise (random erasing, Zhong et al. 2017), so no single face part can be relied on.

    These are Keras preprocessing layers: active in ``fit``, identity in ``predict``/``evaluate``.
    """
    steps = []
    if flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    if rotation:
        steps.append(layers.RandomRotation(rotation, fill_mode="nearest", seed=seed))
    if shift:
        steps.append(layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed))
    if zoom:
        steps.append(layers.RandomZoom((-zoom, zoom), fill_mode="nearest", seed=seed))
    if contrast:
        steps.append(layers.RandomContrast(contrast, value_range=(0, 255), seed=seed))
    if brightness:
        steps.append(layers.RandomBrightness(brightness, value_range=(0, 255), seed=seed))
    if erasing:
        steps.append(layers.RandomErasing(factor=(erasing, erasing), value_range=(0, 255), seed=seed))
    return keras.Sequential(steps, name="augmentation")


def _stem(input_shape, augment, crop=0):
    """Input (raw 0-255) -> optional augmentation -> optional centre crop -> rescale to 0-1.

    ``crop`` > 0 keeps the central ``crop`` x ``crop`` pixels, in training and at inference alike. After the
    random shifts that makes every training face a random crop of the original (the classic FER2013
    recipe: 40x40 crops of 48x48 faces), and the network works on (40/48)^2 = 69% of the pixels."""
    inputs = keras.Input(shape=input_shape, name="pixels_0_255")
    x = inputs
    if augment:
        x = (augment if isinstance(augment, keras.Layer) else augmentation())(x)
    if crop:
        x = layers.CenterCrop(crop, crop, name="centre_crop")(x)
    x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    return inputs, x


def _head(x, n_classes):
    # float32 output even under mixed precision: softmax and the loss stay numerically stable
    return layers.Dense(n_classes, activation="softmax", dtype="float32", name="probabilities")(x)


def _conv_bn(x, filters, name, bn_momentum=0.99):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=INIT, name=name)(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def vgg_cnn(input_shape=(48, 48, 1), n_classes=7, widths=(64, 128, 256, 512), convs_per_block=2,
            dense=512, dropout=(0.25, 0.5), augment=True, name="vgg_cnn", bn_momentum=0.99,
            crop=0) -> keras.Model:
    """VGG-style blocks: ``convs_per_block`` 3x3 conv + batch norm + ReLU, then max-pool and dropout;
    then a dense layer and softmax. ``widths`` sets the number of blocks and their filters.

    ``bn_momentum``: batch norm's moving averages need about ``1 / (1 - bn_momentum)`` steps to settle;
    Keras' 0.99 suits full training, 0.9 a short run of a few hundred steps (FAST_MODE).
    ``crop``: see ``_stem``."""
    inputs, x = _stem(input_shape, augment, crop)
    for b, width in enumerate(widths, start=1):
        for c in range(1, convs_per_block + 1):
            x = _conv_bn(x, width, f"block{b}_conv{c}", bn_momentum)
        x = layers.MaxPooling2D(name=f"block{b}_pool")(x)
        x = layers.Dropout(dropout[0], name=f"block{b}_drop")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, use_bias=False, kernel_initializer=INIT, name="dense")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name="dense_bn")(x)
    x = layers.Activation("relu", name="dense_relu")(x)
    x = layers.Dropout(dropout[1], name="dense_drop")(x)
    return keras.Model(inputs, _head(x, n_classes), name=name)


def thesis_cnn(input_shape=(48, 48, 1), n_classes=7, augment=True, bn_momentum=0.99, crop=0) -> keras.Model:
    """The FER2013 thesis CNN: four blocks of two 3x3 convs (64-128-256-512), batch norm, max-pool and
    dropout, dense 512, softmax."""
    return vgg_cnn(input_shape, n_classes, (64, 128, 256, 512), 2, 512, (0.25, 0.5), augment, "thesis_cnn",
                   bn_momentum, crop)


def compact_cnn(input_shape=(48, 48, 1), n_classes=7, augment=True, bn_momentum=0.99, crop=0) -> keras.Model:
    """A CNN sized for a 2-core CPU: the thesis layout at half the width (32-64-128-256, dense 256)."""
    return vgg_cnn(input_shape, n_classes, (32, 64, 128, 256), 2, 256, (0.2, 0.5), augment, "compact_cnn",
                   bn_momentum, crop)


def wide_cnn(input_shape=(48, 48, 1), n_classes=7, augment=True, bn_momentum=0.99, crop=0) -> keras.Model:
    """Capacity where it is cheap: a thin first block at 48x48 (32 filters), then wide blocks at 24, 12 and
    6 pixels (96-192-384), dense 384. About 3.9M parameters, twice ``compact_cnn``'s; the wide layers work on
    small feature maps, so it needs much less compute than ``thesis_cnn``, whose 64 filters run at 48x48."""
    return vgg_cnn(input_shape, n_classes, (32, 96, 192, 384), 2, 384, (0.2, 0.5), augment, "wide_cnn",
                   bn_momentum, crop)


def affectnet_cnn(input_shape=(48, 48, 1), n_classes=7, augment=True, bn_momentum=0.99, crop=0) -> keras.Model:
    """The AffectNet study's CNN: conv blocks of 96/256/256 then 128/64/32 filters, dense 32, dropout 30-50%."""
    inputs, x = _stem(input_shape, augment, crop)
    for i, filters in enumerate((96, 256, 256), start=1):
        x = _conv_bn(x, filters, f"conv{i}", bn_momentum)
        x = layers.MaxPooling2D(name=f"pool{i}")(x)
        x = layers.Dropout(0.3, name=f"drop{i}")(x)
    for i, filters in enumerate((128, 64, 32), start=4):
        x = _conv_bn(x, filters, f"conv{i}", bn_momentum)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(32, activation="relu", kernel_initializer=INIT, name="dense")(x)
    x = layers.Dropout(0.5, name="dense_drop")(x)
    return keras.Model(inputs, _head(x, n_classes), name="affectnet_cnn")


def mobilenet_v2(input_shape=(48, 48, 1), n_classes=7, augment=True, bn_momentum=0.99, crop=0,
                 weights="imagenet", image_size=96) -> tuple[keras.Model, str]:
    """MobileNetV2 with a new softmax head, as one study used.

    Faces are resized to ``image_size`` (MobileNet's smallest ImageNet size is 96) and grey is repeated to
    3 channels. ImageNet weights are used when they can be downloaded (or are in Keras's cache,
    ``~/.keras/models/``); otherwise, or with ``weights=None``, the network starts from random weights.
    Returns ``(model, what_weights_were_used)`` so the notebook can say which.
    """
    inputs, x = _stem(input_shape, augment, crop)
    x = layers.Resizing(image_size, image_size, name="resize")(x)
    if input_shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    x = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(x)      # MobileNetV2 expects [-1, 1]
    used = str(weights) if weights else "random init"
    try:
        base = keras.applications.MobileNetV2(input_shape=(image_size, image_size, 3), include_top=False,
                                              weights=weights, pooling="avg")
    except Exception as err:                    # no network: the download fails; train from scratch instead
        reason = str(err).rsplit(" -- ", 1)[-1][:120]          # Keras: "URL fetch failure on URL: errno -- why"
        used = f"random init (ImageNet weights unavailable: {reason})"
        base = keras.applications.MobileNetV2(input_shape=(image_size, image_size, 3), include_top=False,
                                              weights=None, pooling="avg")
    for layer in base.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = bn_momentum               # Keras builds them with 0.999; the zoo's default is 0.99
    x = base(x)
    x = layers.Dropout(0.3, name="head_drop")(x)
    return keras.Model(inputs, _head(x, n_classes), name="mobilenet_v2"), used


def mobilenet_v2_from_scratch(**kwargs) -> keras.Model:
    """MobileNetV2 (:func:`mobilenet_v2`) from random weights: the same network on every machine, online or
    offline, which is what a recipe must train (``build("mobilenet_v2")``)."""
    return mobilenet_v2(weights=None, **kwargs)[0]


ZOO = {"thesis_cnn": thesis_cnn, "compact_cnn": compact_cnn, "wide_cnn": wide_cnn,
       "affectnet_cnn": affectnet_cnn}


def build(name: str, **kwargs) -> keras.Model:
    """Build a model of the zoo by name (``thesis_cnn``, ``compact_cnn``, ``wide_cnn``, ``affectnet_cnn``),
    or ``mobilenet_v2`` from random weights. Every one takes ``input_shape``, ``n_classes``, ``augment``,
    ``bn_momentum`` and ``crop``."""
    builders = {**ZOO, "mobilenet_v2": mobilenet_v2_from_scratch}
    if name not in builders:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(builders)}")
    return compilable(builders[name](**kwargs))


def as_float32(model: keras.Model) -> keras.Model:
    """The same network with every layer in float32 (a model trained under mixed precision keeps its
    bfloat16/float16 layers when saved; gradients for saliency and portable inference want float32)."""
    config = json.loads(model.to_json())
    config.pop("compile_config", None)            # an uncompiled copy: no optimizer state is saved with it
    text = json.dumps(config)
    for policy in ("mixed_bfloat16", "mixed_float16"):
        text = text.replace(f'"{policy}"', '"float32"')
    clone = keras.models.model_from_json(text)
    clone.set_weights(model.get_weights())
    return clone
