"""The model zoo's options: what the augmentation and crop layers do in training and at inference."""

import numpy as np
import pytest

from helpers import models


def test_random_erasing_only_while_training():
    only_erasing = models.augmentation(flip=False, rotation=0, shift=0, zoom=0, contrast=0, brightness=0,
                                       erasing=1.0, seed=0)
    faces = np.full((64, 48, 48, 1), 100.0, "float32")
    erased = np.asarray(only_erasing(faces, training=True))
    changed = (erased != 100.0).reshape(64, -1).mean(axis=1)
    assert (changed > 0.01).all() and changed.max() < 0.5         # every face, one rectangle of 2-33%
    assert np.array_equal(np.asarray(only_erasing(faces, training=False)), faces)
    assert len(models.augmentation(erasing=0.0).layers) == len(models.augmentation().layers)


def test_crop_makes_the_network_see_only_the_centre():
    rng = np.random.default_rng(0)
    faces = rng.uniform(0, 255, (4, 48, 48, 1)).astype("float32")
    new_border = faces.copy()
    new_border[:, :4] = new_border[:, -4:] = new_border[:, :, :4] = new_border[:, :, -4:] = 0.0
    cropped = models.vgg_cnn(widths=(8,), dense=8, augment=False, crop=40)
    assert cropped.get_layer("centre_crop").output.shape[1:3] == (40, 40)
    assert np.allclose(cropped.predict(faces, verbose=0), cropped.predict(new_border, verbose=0))
    whole = models.vgg_cnn(widths=(8,), dense=8, augment=False)
    assert not np.allclose(whole.predict(faces, verbose=0), whole.predict(new_border, verbose=0))


@pytest.mark.parametrize("name", sorted(models.ZOO))
def test_every_zoo_model_takes_a_crop(name):
    model = models.build(name, crop=40)
    assert model.get_layer("centre_crop").output.shape[1:3] == (40, 40)
    assert model.input_shape[1:] == (48, 48, 1)


def test_mobilenet_builds_by_name_from_random_weights_and_survives_a_save(tmp_path):
    """``build("mobilenet_v2")`` (what a recipe trains) never downloads: random weights, the zoo's crop and
    batch-norm momentum, grey faces in, one probability per class out; and the saved model predicts the same
    after loading (MobileNet sits inside as a nested model)."""
    model = models.build("mobilenet_v2", input_shape=(48, 48, 1), n_classes=7, augment=False, crop=40,
                         bn_momentum=0.9)
    assert model.get_layer("centre_crop").output.shape[1:3] == (40, 40)
    norms = [layer for layer in model.get_layer("mobilenetv2_1.00_96").layers
             if isinstance(layer, models.layers.BatchNormalization)]
    assert norms and {layer.momentum for layer in norms} == {0.9}
    faces = np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 1)).astype("float32")
    before = model.predict(faces, verbose=0)
    assert before.shape == (3, 7) and np.allclose(before.sum(axis=1), 1, atol=1e-5)
    model.save(tmp_path / "m.keras")
    again = models.keras.models.load_model(tmp_path / "m.keras")
    assert np.allclose(again.predict(faces, verbose=0), before, atol=1e-5)
    assert models.mobilenet_v2(weights=None, augment=False)[1] == "random init"
    with pytest.raises(ValueError, match="mobilenet_v2"):
        models.build("mobilenet")
