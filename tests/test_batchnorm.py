"""Batch-norm statistics recomputed on clean faces (helpers.batchnorm): what they become, nested models, and
the PublicTest rule that keeps or undoes them."""

import json

import numpy as np
import pytest

from helpers import batchnorm, demo, models, train
from helpers.backend import keras


def _bn_layers(model):
    return [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]


def _standardised(model, layer, images):
    """Per channel, the mean and variance of ``layer``'s input in inference mode, in the units of its own
    statistics: 0 and 1 when the statistics are those of these images."""
    x = keras.ops.convert_to_numpy(keras.Model(model.input, layer.input)(images, training=False))
    x = x.reshape(-1, x.shape[-1]).astype("float64")
    mean, var = keras.ops.convert_to_numpy(layer.moving_mean), keras.ops.convert_to_numpy(layer.moving_variance)
    z = (x - mean) / np.sqrt(var)
    return z.mean(0), z.var(0)


def test_recomputed_statistics_are_those_of_clean_faces_layer_after_layer():
    """A new network's statistics (0 and 1) do not describe its layers' inputs; after recompute they do, for the
    first layer and the last (whose inputs depend on every statistic before it), with the augmentation and
    dropout of the network off: two different samples' order gives the same statistics."""
    ds = demo.make_dataset(per_class=10, seed=0)
    x = ds.xy("train")[0].astype("float32")
    train.set_seeds(0)
    model = models.compact_cnn(ds.images.shape[1:], len(ds.classes))       # with augmentation and dropout
    first, last = _bn_layers(model)[0], _bn_layers(model)[-1]
    mean, _ = _standardised(model, first, x)
    assert np.abs(mean).max() > 0.1                                       # not yet its inputs' statistics
    assert batchnorm.recompute(model, x, n=None, batch_size=16) == len(_bn_layers(model)) == 9
    for layer in (first, last):
        mean, var = _standardised(model, layer, x)
        assert np.abs(mean).max() < 1e-3 and np.abs(var - 1).max() < 1e-3, layer.name
    stats = [keras.ops.convert_to_numpy(v).copy() for v in (last.moving_mean, last.moving_variance)]
    batchnorm.recompute(model, x, n=None, batch_size=32, seed=7)          # other batches, same faces
    assert np.allclose(stats[0], keras.ops.convert_to_numpy(last.moving_mean), atol=1e-4)
    assert np.allclose(stats[1], keras.ops.convert_to_numpy(last.moving_variance), rtol=1e-4)


def test_a_nested_network_has_its_statistics_recomputed_too():
    """MobileNetV2 sits in the model as one nested layer; its 52 batch-norm layers are reached through it."""
    ds = demo.make_dataset(per_class=4, seed=0)
    x = ds.xy("train")[0].astype("float32")
    model = models.build("mobilenet_v2", image_size=32, augment=False)
    inner = _bn_layers(model)
    assert batchnorm.recompute(model, x, n=None) == len(inner) == 52
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    fed = keras.Model(model.input, base._inbound_nodes[-1].input_tensors[0])(x, training=False)
    last = keras.ops.convert_to_numpy(keras.Model(base.input, inner[-1].input)(fed, training=False))
    last = last.reshape(-1, last.shape[-1])
    assert np.allclose(last.mean(0), keras.ops.convert_to_numpy(inner[-1].moving_mean), atol=1e-3)


def test_statistics_that_do_not_improve_publictest_are_put_back(monkeypatch):
    ds = demo.make_dataset(per_class=50, seed=1)
    train.set_seeds(0)
    model = models.vgg_cnn(widths=(16, 32), dense=32, augment=False, n_classes=7, bn_momentum=0.9)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(*ds.xy("train"), epochs=15, batch_size=16, verbose=0)
    x_public, y_public = ds.xy("public")
    accuracy = float((model.predict(x_public, verbose=0).argmax(1) == y_public).mean())
    assert accuracy > 0.3                                                 # better than one class for all

    done = batchnorm.refresh_if_better(model, ds, n=None)                 # the real thing: kept or undone...
    now = float((model.predict(x_public, verbose=0).argmax(1) == y_public).mean())
    assert done["public_before"] == accuracy and done["layers"] == 5 and done["faces"] == (ds.splits == "train").sum()
    assert now == (done["public_after"] if done["kept"] else accuracy)   # ...and the model is what it says

    before = [keras.ops.convert_to_numpy(v).copy() for layer in _bn_layers(model)
              for v in (layer.moving_mean, layer.moving_variance)]

    def ruin(model, images, n, seed=0):                                   # statistics that flatten every face
        for layer in _bn_layers(model):
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 1e8, "float32"))
        return len(_bn_layers(model))
    monkeypatch.setattr(batchnorm, "recompute", ruin)
    done = batchnorm.refresh_if_better(model, ds)
    assert not done["kept"] and done["public_after"] < done["public_before"] == now
    after = [keras.ops.convert_to_numpy(v) for layer in _bn_layers(model)
             for v in (layer.moving_mean, layer.moving_variance)]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert float((model.predict(x_public, verbose=0).argmax(1) == y_public).mean()) == now


def test_the_command_writes_a_copy_and_leaves_the_model_alone(tmp_path, capsys):
    train.set_seeds(0)
    model = models.vgg_cnn(widths=(8, 16), dense=16, augment=False, n_classes=7)
    given = tmp_path / "given.keras"
    model.save(given)
    before = given.read_bytes()
    out = tmp_path / "out" / "refreshed.keras"
    assert batchnorm.main([str(given), str(out), "--data", "demo", "--faces", "200"]) == 0
    done = json.loads(out.with_suffix(".json").read_text())
    assert done["model"] == str(given) and done["faces"] == 200 and done["layers"] == len(_bn_layers(model))
    assert keras.models.load_model(out, compile=False).output_shape == (None, 7) and given.read_bytes() == before
    for bad, said in (([given, given], "never overwritten"), ([tmp_path / "gone.keras", out], "gone.keras")):
        with pytest.raises(SystemExit):
            batchnorm.main([*map(str, bad), "--data", "demo"])
        assert said in capsys.readouterr().err
