"""helpers.pack: a dataset in one small file, read back by data.load with the same labels, classes, splits."""

import numpy as np
import pytest

from helpers import FERDataError, data, demo, pack


def _same_except_pixels(a, b):
    assert a.classes == b.classes
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.splits, b.splits)
    assert np.array_equal(a.paths, b.paths) and a.images.shape == b.images.shape


def test_a_kaggle_folder_packs_and_loads_back(kaggle_folders, tmp_path):
    original = data.load(kaggle_folders, verbose=False)
    out = tmp_path / "fer.npz"
    stats = pack.write(original, out, quality=95)
    packed = data.load(out, verbose=False)
    _same_except_pixels(original, packed)
    assert stats["images"] == len(original) and stats["bytes"] == out.stat().st_size
    assert np.abs(packed.images.astype(int) - original.images).mean() < 4          # JPEG's loss, small
    assert packed.source.startswith(original.source) and "JPEG quality 95" in packed.source


def test_training_faces_that_are_test_faces_are_left_out_even_if_that_test_split_is_not_packed(tmp_path):
    ds = demo.make_dataset(per_class=20, seed=3)
    train, private = np.flatnonzero(ds.splits == "train"), np.flatnonzero(ds.splits == "private")
    ds.images[train[:3]] = ds.images[private[:3]]                    # three PrivateTest faces, also in Training
    stats = pack.write(ds, tmp_path / "tp.npz", splits=("train", "public"))
    back = data.load(tmp_path / "tp.npz", verbose=False)
    assert stats["dropped_train_leaks"] == 3 and (back.splits == "train").sum() == len(train) - 3
    assert not set(back.paths) & set(ds.paths[train[:3]])


def test_quality_trades_size_for_fidelity(tmp_path):
    ds = demo.make_dataset(per_class=20, seed=1)
    sizes, errors = {}, {}
    for quality in (50, 95):
        stats = pack.write(ds, tmp_path / f"q{quality}.npz", quality=quality)
        back = pack.read(tmp_path / f"q{quality}.npz")
        sizes[quality], errors[quality] = stats["bytes"], np.abs(back.images.astype(int) - ds.images).mean()
    assert sizes[50] < sizes[95] and errors[95] < errors[50] < 8


def test_only_the_splits_asked_for_are_packed(tmp_path):
    ds = demo.make_dataset(per_class=180, seed=2)                     # 1,134 faces: two tiles of 32 x 32
    stats = pack.write(ds, tmp_path / "tp.npz", splits=("train", "public"))
    back = data.load(tmp_path / "tp.npz", verbose=False)
    assert set(back.splits) == {"train", "public"} and stats["images"] == int((ds.splits != "private").sum())
    assert np.array_equal(back.labels, ds.labels[ds.splits != "private"]) and stats["images"] > pack.GRID ** 2
    assert np.abs(back.images.astype(int) - ds.images[ds.splits != "private"]).mean() < 4    # in order, both tiles


def test_a_pack_is_resized_on_load_like_any_dataset(tmp_path):
    pack.write(demo.make_dataset(per_class=3, seed=0), tmp_path / "p.npz")
    assert data.load(tmp_path / "p.npz", size=32, channels=3, verbose=False).images.shape[1:] == (32, 32, 3)


def test_the_command_writes_a_pack_and_says_how_big(kaggle_folders, tmp_path, capsys):
    out = tmp_path / "fer.npz"
    assert pack.main(["--data", str(kaggle_folders), "--out", str(out), "--quality", "80"]) == 0
    said = capsys.readouterr().out
    assert str(out) in said and "JPEG quality 80" in said and " MB " in said
    assert len(data.load(out, verbose=False)) == len(data.load(kaggle_folders, verbose=False))
    with pytest.raises(SystemExit):                              # the suffix is what data.load recognises
        pack.main(["--data", str(kaggle_folders), "--out", str(tmp_path / "fer.zip")])


def test_damaged_or_foreign_files_get_a_clear_error(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(FERDataError, match="other.npz: not a pack"):
        data.load(tmp_path / "other.npz", verbose=False)
    good = tmp_path / "good.npz"
    pack.write(demo.make_dataset(per_class=3, seed=0), good)
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(FERDataError, match="cut.npz"):
        data.load(tmp_path / "cut.npz", verbose=False)
