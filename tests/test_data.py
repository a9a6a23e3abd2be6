import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import AFFECTNET_MAP, face, snapshot, write_image
from helpers import FERDataError, data, demo


def test_csv_maps_codes_to_names_and_usage_to_splits(fer_csv):
    ds = data.load(fer_csv, verbose=False)
    assert ds.images.shape == (42, 48, 48, 1) and ds.images.dtype == np.uint8
    assert ds.classes == sorted(data.FER2013_CSV_LABELS)           # alphabetical, names not codes
    assert {s: int((ds.splits == s).sum()) for s in data.SPLITS} == {"train": 14, "public": 14, "private": 14}
    # the CSV's code 4 is 'sad' (not the 4th alphabetical class, 'neutral'): check pixels of row 10
    rows = open(fer_csv).read().splitlines()
    code, pixels, _ = rows[9].split(",")
    i = list(ds.paths).index(f"{fer_csv}:row 10")
    assert ds.classes[ds.labels[i]] == data.FER2013_CSV_LABELS[int(code)]
    assert np.array_equal(ds.images[i].ravel(), np.array(pixels.split(), dtype=np.uint8))


def test_csv_bad_rows_are_skipped_counted_and_named(fer_csv):
    lines = open(fer_csv).read().splitlines()
    lines[3] = "3,1 2 3,Training"                              # wrong pixel count
    lines[5] = "9," + lines[5].split(",", 1)[1]                # unknown label
    fer_csv.write_text("\n".join(lines) + "\n")
    ds = data.load(fer_csv, verbose=False, max_bad_fraction=0.1)
    assert len(ds) == 40 and len(ds.skipped) == 2
    where = dict(ds.skipped)
    assert "column 'pixels': 3 pixel values" in where[f"{fer_csv}:row 4"]
    assert "column 'emotion': '9'" in where[f"{fer_csv}:row 6"]


def test_csv_with_too_many_bad_rows_fails_naming_them(fer_csv):
    lines = open(fer_csv).read().splitlines()
    for i in range(1, 8):
        lines[i] = "0,1 2 3,Training"
    fer_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(FERDataError, match=r"(?s)7 of 42 .*row 2: column 'pixels': 3 pixel values"):
        data.load(fer_csv, verbose=False)


def test_csv_missing_columns(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("label,image\n1,2\n")
    with pytest.raises(FERDataError, match=r"x\.csv: missing column\(s\) \['emotion', 'pixels'\]"):
        data.load(bad, verbose=False)


def test_kaggle_folders_take_split_from_file_prefix(kaggle_folders):
    ds = data.load(kaggle_folders, verbose=False)
    assert ds.source.startswith("fer2013 folders")
    counts = ds.counts()
    assert (counts["train"] == 3).all() and (counts["public"] == 2).all() and (counts["private"] == 1).all()
    assert all("PublicTest_" in p for p in ds.paths[ds.splits == "public"])


def test_ckplus_names_are_mapped_and_images_resized(ckplus_folders):
    ds = data.load(ckplus_folders, verbose=False)
    assert ds.classes == ["angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"]
    assert all(type(name) is str for name in ds.classes)          # prints as 'angry', not np.str_('angry')
    assert ds.images.shape[1:] == (48, 48, 1)
    counts = ds.counts()                                        # no split given: stratified 8/1/1 per class
    assert (counts["train"] == 8).all() and (counts["public"] == 1).all() and (counts["private"] == 1).all()
    colour = data.load(ckplus_folders, size=144, channels=3, verbose=False)
    assert colour.images.shape[1:] == (144, 144, 3)


def test_affectnet_numbered_folders_with_class_map(affectnet_folders):
    ds = data.load(affectnet_folders, class_map=AFFECTNET_MAP, verbose=False)
    assert len(ds.classes) == 8 and "contempt" in ds.classes
    # val/ is AffectNet's test set: it becomes 'private'; 'public' is carved out of train
    assert (ds.counts()["private"] == 2).all()
    assert ds.counts()["public"].sum() > 0 and ds.counts()["train"].sum() + ds.counts()["public"].sum() == 48
    assert ds.source.endswith("(no test set given: the validation images are the private split) (no validation "
                              "set given: public is 10% of train, stratified, seed 0)")


def test_numbered_folders_take_their_names_from_the_folders_class_map_json(affectnet_folders):
    import json
    from helpers import stream
    mapped = data.load(affectnet_folders, class_map=AFFECTNET_MAP, verbose=False)
    assert data.load(affectnet_folders, verbose=False).classes == [str(code) for code in range(8)]
    (affectnet_folders / "class_map.json").write_text(json.dumps({**AFFECTNET_MAP, "6": "Anger"}))
    ds = data.load(affectnet_folders, verbose=False)        # what the notebooks and commands call
    assert ds.classes == mapped.classes and np.array_equal(ds.labels, mapped.labels)   # "Anger" is angry
    assert stream.open(affectnet_folders).classes == mapped.classes
    (affectnet_folders / "class_map.json").write_text('{"0": "neutral", "1": }')
    with pytest.raises(FERDataError, match=r"affectnet/class_map\.json: not a readable JSON file"):
        data.load(affectnet_folders, verbose=False)
    (affectnet_folders / "class_map.json").write_text('["neutral", "happy"]')
    with pytest.raises(FERDataError, match=r"class_map\.json: expected an object of folder name -> class name"):
        data.load(affectnet_folders, verbose=False)


def test_a_class_map_that_misses_the_folders_is_an_error(affectnet_folders):
    """A numbered folder left out of the map would become a class called "7"; keys that name no folder (a map
    for 00-07, say) would map nothing. Keys may be numbers when the map is given in code."""
    import json
    (affectnet_folders / "class_map.json").write_text(json.dumps({k: v for k, v in AFFECTNET_MAP.items() if k != "7"}))
    with pytest.raises(FERDataError, match=r"affectnet: the numbered class folder\(s\) 7/ are not in the class map "
                                           r"\(class_map\.json or class_map=\), which names 0, 1, .*6: add them"):
        data.load(affectnet_folders, verbose=False)
    (affectnet_folders / "class_map.json").write_text(json.dumps({f"0{k}": v for k, v in AFFECTNET_MAP.items()}))
    with pytest.raises(FERDataError, match=r"names the folders 00, 01, .*, but the class folders are 0, 1, .*: its "
                                           r"keys must be the folders' names"):
        data.load(affectnet_folders, verbose=False)
    (affectnet_folders / "class_map.json").unlink()
    numbers = data.load(affectnet_folders, class_map={int(k): v for k, v in AFFECTNET_MAP.items()}, verbose=False)
    assert numbers.classes == data.load(affectnet_folders, class_map=AFFECTNET_MAP, verbose=False).classes


def test_split_is_reproducible_with_seed(ckplus_folders):
    a = data.load(ckplus_folders, seed=1, cache=False, verbose=False)
    b = data.load(ckplus_folders, seed=1, cache=False, verbose=False)
    c = data.load(ckplus_folders, seed=2, cache=False, verbose=False)
    assert np.array_equal(a.splits, b.splits) and not np.array_equal(a.splits, c.splits)


def test_corrupt_image_is_skipped_and_counted(kaggle_folders):
    bad = kaggle_folders / "train" / "happy" / "Training_9999.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    ds = data.load(kaggle_folders, verbose=False, max_bad_fraction=0.05)
    assert len(ds) == 42 and len(ds.skipped) == 1
    assert ds.skipped[0][0] == str(bad) and "not a readable image" in ds.skipped[0][1]


def test_empty_class_folder_is_named(kaggle_folders):
    empty = kaggle_folders / "test" / "contempt"
    empty.mkdir()
    with pytest.raises(FERDataError, match=r"contempt: the class folder holds no images"):
        data.load(kaggle_folders, verbose=False)


def test_train_and_test_with_different_classes(kaggle_folders):
    for f in (kaggle_folders / "test" / "disgust").iterdir():
        f.unlink()
    (kaggle_folders / "test" / "disgust").rmdir()
    with pytest.raises(FERDataError, match=r"different classes: test/ lacks \['disgust'\]"):
        data.load(kaggle_folders, verbose=False)


def test_missing_paths_are_errors_not_silent_demo(tmp_path, monkeypatch):
    with pytest.raises(FERDataError, match="no such file or folder"):
        data.load(tmp_path / "nowhere", verbose=False)
    monkeypatch.setenv("FER_DATA", str(tmp_path / "also_nowhere"))
    with pytest.raises(FERDataError, match=r"also_nowhere.*\$FER_DATA"):
        data.load(verbose=False)


def test_loading_never_modifies_user_data(kaggle_folders):
    before = snapshot(kaggle_folders)
    data.load(kaggle_folders, verbose=False)
    data.load(kaggle_folders, verbose=False)
    assert snapshot(kaggle_folders) == before


def test_cache_is_used_and_invalidated_by_changes(kaggle_folders):
    first = data.load(kaggle_folders, verbose=False)
    assert len(list(data.cache_dir().glob("*.npz"))) == 1
    again = data.load(kaggle_folders, verbose=False)
    assert np.array_equal(first.images, again.images) and np.array_equal(first.splits, again.splits)
    write_image(kaggle_folders / "train" / "sad" / "Training_5555.jpg", face(np.random.default_rng(9)))
    changed = data.load(kaggle_folders, verbose=False)
    assert len(changed) == len(first) + 1


def test_the_cache_keeps_the_most_recently_used_datasets_within_its_limit(kaggle_folders, monkeypatch):
    files = {}
    for seed in (1, 2):                            # the seed is part of the key: a cached file per seed
        before = set(data.cache_dir().glob("*.npz"))
        data.load(kaggle_folders, seed=seed, verbose=False)
        (files[seed],) = set(data.cache_dir().glob("*.npz")) - before
    now = time.time()
    os.utime(files[1], (now - 200, now - 200))     # seed 1 the oldest, then seed 2
    os.utime(files[2], (now - 100, now - 100))
    monkeypatch.setattr(data, "CACHE_LIMIT_BYTES", 2 * files[1].stat().st_size + 1000)  # room for two
    data.load(kaggle_folders, seed=1, verbose=False)         # a read: seed 1 is now the most recently used
    data.load(kaggle_folders, seed=3, verbose=False)         # a third file: seed 2's goes
    left = set(data.cache_dir().glob("*.npz"))
    assert files[1] in left and files[2] not in left and len(left) == 2


def test_a_read_only_cache_is_still_read(kaggle_folders, monkeypatch, recwarn):
    first = data.load(kaggle_folders, verbose=False)
    (cached,) = data.cache_dir().glob("*.npz")

    def read_only(*args, **kwargs):                 # a teacher's shared cache, say (root ignores chmod)
        raise PermissionError(13, "Permission denied", str(cached))
    monkeypatch.setattr(data.os, "utime", read_only)
    again = data.load(kaggle_folders, verbose=False)
    assert np.array_equal(first.images, again.images) and cached.exists() and not recwarn.list


def test_to_uint8_handles_rgba_16bit_and_float():
    rng = np.random.default_rng(0)
    rgba = np.dstack([face(rng, 60, 80, 3), np.full((60, 80), 255, np.uint8)])
    assert data.to_uint8(rgba).shape == (48, 48, 1)
    deep = face(rng, 48, 48, dtype=np.uint16)
    assert np.abs(data.to_uint8(deep)[..., 0].astype(int) - deep / 257).max() <= 1
    assert data.to_uint8(np.ones((48, 48), np.float32)).max() == 255


def test_canonical_class_names():
    assert [data.canonical_class(n) for n in ("Anger", "sadness", "Happiness", "surprised", "Contempt")] == \
        ["angry", "sad", "happy", "surprise", "contempt"]


def test_demo_is_deterministic_and_balanced():
    a, b = demo.make_dataset(per_class=10, seed=3), demo.make_dataset(per_class=10, seed=3)
    assert a.is_demo and np.array_equal(a.images, b.images)
    assert a.classes == list(demo.CLASSES) and (a.counts()["total"] == 10).all()
    assert not np.array_equal(a.images, demo.make_dataset(per_class=10, seed=4).images)


def test_the_demo_banner_is_a_closed_box(capsys):
    demo.announce(demo.make_dataset(per_class=2, seed=0))
    box = [line for line in capsys.readouterr().out.splitlines() if line.startswith("#")]
    assert len(box) == 5 and len({len(line) for line in box}) == 1 and all(line.endswith("#") for line in box)


def test_the_demo_set_asked_for_by_name_says_so(capsys, monkeypatch):
    monkeypatch.delenv("FER_DATA", raising=False)
    data.load("demo", demo_per_class=2)
    said = capsys.readouterr().out
    assert "DEMO DATA, as asked (the path you passed is 'demo')" in said and "NO REAL DATA FOUND" not in said
    from helpers import notebook
    assert notebook.fast_mode(False, "demo") is True
    assert "DEMO DATA: DATA_DIR is 'demo', so this notebook" in capsys.readouterr().out


def test_the_default_demo_set_is_shaped_like_fer2013():
    from helpers import audit
    ds = demo.make_dataset(seed=0)
    shares = np.bincount(ds.labels) / len(ds)
    fer = np.array([demo.FER2013_COUNTS[c] for c in demo.CLASSES]) / sum(demo.FER2013_COUNTS.values())
    assert np.abs(shares - fer).max() < 0.02 and ds.classes[shares.argmin()] == "disgust"   # rare disgust
    split_shares = [np.mean(ds.splits == s) for s in data.SPLITS]
    assert np.allclose(split_shares, [0.8, 0.1, 0.1], atol=0.01)
    assert (ds.counts().drop(columns="total") > 0).all().all()           # every class in every split
    noisy = sum("drawn" in p for p in ds.paths) / len(ds)
    assert 0.05 < noisy < 0.11                                            # label noise, as in FER2013
    groups = audit.duplicate_groups(ds)
    assert groups.cross_split.any() and groups.conflict.any() and len(audit.near_blank(ds)) >= 5
    assert len(set(ds.paths)) == len(ds)


def test_no_data_falls_back_to_demo(monkeypatch, capsys):
    monkeypatch.setattr(data, "project_root", lambda: data.Path("/nonexistent-project"))
    ds = data.load(demo_per_class=5)
    assert ds.is_demo and "DEMO dataset" in capsys.readouterr().out


def test_a_download_unzipped_one_folder_too_deep_is_named_with_the_fix(kaggle_folders, tmp_path, fer_csv):
    outer = tmp_path / "downloads"                     # Kaggle's archive.zip unzipped with its folder inside
    outer.mkdir()
    kaggle_folders.rename(outer / "archive")
    with pytest.raises(FERDataError, match=r"archive: holds train/ and test/, so the dataset is this folder"):
        data.load(outer, verbose=False)
    assert len(data.load(outer / "archive", verbose=False)) == 7 * 6          # where it points: it loads
    lone = tmp_path / "competition"                                  # a folder with only a CSV of another name
    lone.mkdir()
    fer_csv.rename(lone / "faces.csv")
    with pytest.raises(FERDataError, match=r"found none\. It holds faces\.csv: point at the file instead"):
        data.load(lone, verbose=False)


def test_fer2013_put_where_it_is_not_looked_for_is_said_with_the_fix(kaggle_folders, tmp_path, monkeypatch,
                                                                     capsys):
    from helpers import run
    project = tmp_path / "project"
    monkeypatch.setattr(data, "project_root", lambda: project)
    assert data.misplaced_data() == []                                         # no data/ at all
    (project / "data").mkdir(parents=True)
    (project / "data" / "README.md").write_text("Put datasets here\n")
    assert data.misplaced_data() == [] and run.demo_banner() == run.DEMO_BANNER
    for split in ("train", "test"):                    # archive.zip unzipped straight into data/ ...
        (kaggle_folders / split).rename(project / "data" / split)
    (project / "data" / "icml_face_data.csv").write_text("emotion, Usage, pixels\n")   # ... and a CSV renamed
    hints = data.misplaced_data()
    assert hints == ["data/ holds train/ and test/: move them into data/fer2013/ (or use --data data/)",
                     "data/icml_face_data.csv: name it data/fer2013.csv if it is FER2013's (or use --data "
                     "data/icml_face_data.csv)"]
    assert run.demo_banner().startswith(run.DEMO_BANNER) and all(h in run.demo_banner() for h in hints)
    ds = data.load(demo_per_class=5)                   # a notebook run by hand says it too
    assert ds.is_demo and hints[0] in capsys.readouterr().out
    (project / "data" / "archive").mkdir()             # one folder down, under another name than fer2013
    for split in ("train", "test"):
        (project / "data" / split).rename(project / "data" / "archive" / split)
    assert data.misplaced_data()[0] == "data/archive/ holds train/ and test/: rename it data/fer2013/ (or use " \
                                      "--data data/archive/)"
    (project / "data" / "archive").rename(project / "data" / "fer2013")      # where it belongs: nothing to say
    assert data.misplaced_data() == [hints[1]] and data.find_data() == project / "data" / "fer2013"


def test_downloads_as_they_arrive_are_read_or_named_with_what_to_do(fer_csv, tmp_path, monkeypatch):
    project = tmp_path / "project"
    home = project / "data" / "fer2013"
    home.mkdir(parents=True)
    monkeypatch.setattr(data, "project_root", lambda: project)
    monkeypatch.delenv("FER_DATA", raising=False)
    # FER2013's own fer2013.tar.gz, unpacked in data/: data/fer2013/{fer2013.csv, README}
    fer_csv.rename(home / "fer2013.csv")
    (home / "README").write_text("FER2013\n")
    assert data.find_data() == home / "fer2013.csv" == data.find_data(home)
    ds = data.load(verbose=False)
    assert len(ds.labels) == 42 and {split: (ds.splits == split).sum() for split in data.SPLITS} == \
        {"train": 14, "public": 14, "private": 14}
    # the Kaggle competition's zip unpacked there: its full CSV is icml_face_data.csv (train.csv: Training only)
    (home / "fer2013.csv").rename(home / "icml_face_data.csv")
    for name in ("train.csv", "test.csv", "example_submission.csv"):
        (home / name).write_text("emotion,pixels\n")
    assert data.find_data() == home / "icml_face_data.csv"
    (home / "images").mkdir()                  # a folder with sub-folders is read as folders, never guessed
    assert data.find_data() == home
    for f in home.iterdir():
        f.rmdir() if f.is_dir() else f.unlink()
    # a zip never unpacked: in data/fer2013/ (the Kaggle CLI without --unzip) the load says what to do ...
    (home / "fer2013.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    with pytest.raises(FERDataError, match=r"found none\. It holds fer2013\.zip: unpack it first"):
        data.load(verbose=False)
    with pytest.raises(FERDataError, match=r"fer2013\.zip: an archive, not read as it is: unpack it where it is"):
        data.load(home / "fer2013.zip", verbose=False)
    # ... and beside it (the browser's archive.zip), the demo set's banner does
    (home / "fer2013.zip").unlink()
    home.rmdir()
    (project / "data" / "archive.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    assert data.misplaced_data() == ["data/archive.zip: an archive, not read as it is: unpack it into "
                                     "data/fer2013/ (FER2013's folders give data/fer2013/train/ and test/; its "
                                     "CSV goes to data/fer2013.csv)"]


def test_sample_keeps_every_class_in_every_split(fer_csv):
    ds = data.load(fer_csv, verbose=False).sample(1)
    assert (ds.counts().drop(columns="total") == 1).all().all()


# ---- damaged caches, hidden files, messages that help (each of these failed before its fix) ----

@pytest.mark.parametrize("damage", ["truncate", "empty", "flip"])
def test_a_damaged_cache_is_named_deleted_and_rebuilt(kaggle_folders, damage):
    first = data.load(kaggle_folders, verbose=False)
    (cached,) = data.cache_dir().glob("*.npz")
    raw = bytearray(cached.read_bytes())
    if damage == "truncate":
        raw = raw[:len(raw) // 2]
    elif damage == "empty":
        raw = bytearray()
    else:                                                    # one flipped byte inside the image data
        raw[len(raw) // 2] ^= 0xFF
    cached.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match=rf"{cached.name}: the dataset cache is damaged"):
        again = data.load(kaggle_folders, verbose=False)
    assert np.array_equal(first.images, again.images) and list(first.paths) == list(again.paths)
    third = data.load(kaggle_folders, verbose=False)          # rebuilt: the next load is clean and cached
    assert np.array_equal(first.images, third.images)


def test_hidden_files_are_not_data(kaggle_folders):
    n = len(data.load(kaggle_folders, verbose=False, cache=False))
    write_image(kaggle_folders / "train" / "happy" / ".Training_9999.jpg", face(np.random.default_rng(5)))
    (kaggle_folders / "train" / "happy" / "._Training_1.jpg").write_bytes(b"macOS resource fork")
    assert len(data.load(kaggle_folders, verbose=False, cache=False)) == n


def test_too_many_bad_files_name_each_once_and_say_how_to_accept_them(kaggle_folders):
    bad = sorted((kaggle_folders / "train" / "happy").glob("*.jpg"))
    bad += sorted((kaggle_folders / "train" / "sad").glob("*.jpg"))[:2]
    for f in bad:
        f.write_bytes(b"not an image")
    with pytest.raises(FERDataError) as err:
        data.load(kaggle_folders, verbose=False)
    message = str(err.value)
    assert all(message.count(str(f)) == 1 for f in bad)
    assert "5 of 42" in message and "max_bad_fraction=0.12" in message
    assert "MAX_BAD_FRACTION" in message and "--max-bad-fraction 0.12" in message
    ds = data.load(kaggle_folders, verbose=False, max_bad_fraction=0.12)     # accepted: skipped and counted
    assert len(ds) == 37 and len(ds.skipped) == 5


def test_a_csv_without_usage_is_split_like_a_folder_dataset_and_says_so(fer_csv):
    lines = [",".join(line.split(",")[:2]) for line in fer_csv.read_text().splitlines()]
    fer_csv.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="no 'Usage' column"):
        ds = data.load(fer_csv, verbose=False)
    counts = ds.counts()
    assert (counts[["train", "public", "private"]] > 0).all().all()     # every class in every split
    assert "stratified" in ds.source


def test_a_non_numeric_pixel_names_the_row_and_column(fer_csv):
    lines = fer_csv.read_text().splitlines()
    emotion, pixels, usage = lines[1].split(",")
    lines[1] = ",".join([emotion, pixels.replace(" ", " x ", 1), usage])
    fer_csv.write_text("\n".join(lines) + "\n")
    ds = data.load(fer_csv, verbose=False, max_bad_fraction=0.1)
    assert dict(ds.skipped)[f"{fer_csv}:row 2"] == "column 'pixels': value 2 ('x') is not a whole number 0-255"


def test_a_missing_path_names_how_it_was_given(tmp_path):
    with pytest.raises(FERDataError, match=r"nowhere: no such file or folder \(--data\)"):
        data.find_data(tmp_path / "nowhere", given_as="--data")


def test_a_relative_path_typed_in_a_notebook_counts_from_the_project_folder(kaggle_folders, tmp_path, monkeypatch):
    from helpers import shipped
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "data").mkdir()
    kaggle_folders.rename(project / "data" / "fer2013")
    monkeypatch.setattr(data, "project_root", lambda: project)
    monkeypatch.chdir(project / "notebooks")                  # where Jupyter starts a notebook's kernel
    assert data.find_data("data/fer2013", given_as="DATA_DIR") == project / "data" / "fer2013"
    monkeypatch.setenv("FER_DATA", "data/fer2013")
    assert data.load(verbose=False).classes == data.load(project / "data" / "fer2013", verbose=False).classes
    (project / "notebooks" / "data" / "fer2013").mkdir(parents=True)     # the current folder comes first
    assert data.find_data("data/fer2013") == Path("data/fer2013")
    with pytest.raises(FERDataError, match=rf"data/fer2014: no such file or folder \(DATA_DIR; looked in the "
                                           rf"current folder {project / 'notebooks'} and in the project folder "
                                           rf"{project}\)"):
        data.find_data("data/fer2014", given_as="DATA_DIR")
    (project / "models").mkdir()
    (project / "models" / "mine.keras").write_bytes(b"")
    assert shipped.path("models/mine.keras") == project / "models" / "mine.keras"
    with pytest.raises(FERDataError, match=r"models/theirs\.keras: model file not found \(looked in the current "
                                           r"folder .*notebooks and in the project folder"):
        shipped.load("models/theirs.keras")


def test_figures_made_on_the_demo_set_say_so(kaggle_folders):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.record import Run

    def banner_after_loading(source):
        data.load(source, verbose=False)
        fig, ax = plt.subplots()
        ax.plot([0, 1])
        Run("test_notebook").save_fig(fig, "curve")
        plt.close(fig)
        return [t.get_text() for t in fig.texts]

    assert banner_after_loading("demo") == [demo.BANNER]
    assert banner_after_loading(kaggle_folders) == []                 # real data: no banner


def test_a_progress_bar_only_where_someone_watches(kaggle_folders, capsys, monkeypatch):
    """A log file or a pipe gets no bar (each update would be a line of carriage returns); a terminal does."""
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)          # not in a notebook
    data.load(kaggle_folders, cache=False)
    err = capsys.readouterr().err
    assert "reading" not in err and "\r" not in err, err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    data.load(kaggle_folders, cache=False)
    assert f"reading {kaggle_folders.name}" in capsys.readouterr().err


@pytest.mark.parametrize("text, shared", [
    ("fer2013 folders: /srv/data/fer2013", "fer2013 folders: fer2013"),
    ('File "/srv/ana/.venv/lib/keras/layer.py", line 3', 'File "layer.py", line 3'),
    ("<td>/srv/data/fer2013</td>", "<td>fer2013</td>"),
    ("(saved to /srv/run/model.keras)", "(saved to model.keras)"),
    # left alone: HTML closing tags, URLs, relative and home paths, fractions, inlined images
    ("<th>split</th><br/>", "<th>split</th><br/>"),
    ("Downloading data from https://storage.googleapis.com/keras/w.h5", None),
    ("http://127.0.0.1:7860/: one photo", None),
    ("models/fer2013_cnn.keras and ~/.cache/fer-workbook", None),
    ("3/4 of faces; a / b; split 80%/10%/10%; 1 /2", None),
    ('<img src="data:image/png;base64,/9j/4AAQ+/Rk+/a/b==">', None),
])
def test_published_text_loses_machine_paths_but_not_urls_or_html(text, shared):
    assert data.without_machine_paths(text) == (text if shared is None else shared)
