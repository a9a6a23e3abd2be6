import numpy as np
import pytest

from helpers import audit, balance, demo
from helpers.data import Dataset

LABELS = np.array([0] * 50 + [1] * 10 + [2] * 5)


def test_balanced_class_weights_equalise_each_class_total():
    w = balance.class_weights(LABELS, 3)
    totals = [w[c] * (LABELS == c).sum() for c in range(3)]
    assert np.allclose(totals, len(LABELS) / 3)
    assert w[2] == pytest.approx(65 / (3 * 5))


def test_softened_and_flat_weights():
    soft = balance.class_weights(LABELS, 3, power=0.5)
    assert soft[2] == pytest.approx(np.sqrt(65 / 15))
    assert set(balance.class_weights(LABELS, 3, power=0).values()) == {1.0}


def test_class_weights_reject_an_empty_class():
    with pytest.raises(ValueError, match=r"class\(es\) \[3\] have no examples"):
        balance.class_weights(LABELS, 4)


def test_oversampling_reaches_the_largest_class_and_keeps_every_image():
    idx = balance.oversample_indices(LABELS, seed=0)
    assert (np.bincount(LABELS[idx]) == 50).all()
    assert set(idx) == set(range(len(LABELS)))


def test_undersampling_cuts_to_the_smallest_class():
    idx = balance.undersample_indices(LABELS, seed=0)
    assert (np.bincount(LABELS[idx]) == 5).all() and len(set(idx)) == len(idx)


def test_augment_to_balance_adds_altered_copies_and_leaves_input_alone():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (len(LABELS), 48, 48, 1)).astype(np.uint8)
    before = images.copy()
    new_images, new_labels = balance.augment_to_balance(images, LABELS, seed=0)
    assert (np.bincount(new_labels) == 50).all() and new_images.shape[1:] == (48, 48, 1)
    assert np.array_equal(images, before) and np.array_equal(new_images[: len(LABELS)], images)
    # the added copies are not exact repeats of any original
    originals = {img.tobytes() for img in images}
    assert sum(img.tobytes() in originals for img in new_images[len(LABELS):]) == 0


def _tiny_dataset():
    ds = demo.make_dataset(per_class=10, seed=0)
    return Dataset(ds.images.copy(), ds.labels.copy(), ds.classes, ds.splits.copy(), ds.paths, ds.source)


def test_audit_finds_leaks_conflicts_and_blank_images():
    ds = _tiny_dataset()
    train, private = np.flatnonzero(ds.splits == "train"), np.flatnonzero(ds.splits == "private")
    ds.images[train[0]] = ds.images[private[0]]                      # leakage, maybe another label
    ds.labels[train[0]] = (ds.labels[private[0]] + 1) % 7            # ... certainly another label
    ds.images[train[1]] = ds.images[train[2]]                        # a duplicate within train
    ds.labels[train[1]] = ds.labels[train[2]]
    ds.images[train[3]] = 128                                        # blank
    groups = audit.duplicate_groups(ds)
    assert groups["group"].nunique() == 2
    assert groups.cross_split.sum() == 2 and groups.conflict.sum() == 2
    assert list(audit.train_test_leaks(ds)) == [train[0]]
    clean, n_dropped = audit.without_train_leaks(ds)
    assert n_dropped == 1 and len(clean) == len(ds) - 1 and len(audit.train_test_leaks(clean)) == 0
    assert train[3] in audit.near_blank(ds)
