"""Streaming a class-per-folder dataset (helpers.stream): the classes and splits data.load gives, the same
pixels, bad files skipped and counted, training from disk, and memory that does not grow with the dataset."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import FERDataError, data, stream, train
from helpers.backend import keras

from conftest import face, write_image


@pytest.fixture
def photos(tmp_path):
    """A CK+-style folder without split folders: 4 classes (one named by a synonym), 15 colour photos each,
    of different sizes, and two unreadable files."""
    rng = np.random.default_rng(3)
    root = tmp_path / "photos"
    for cls in ("Anger", "happy", "sad", "surprise"):
        for i in range(15):
            write_image(root / cls / f"{cls}_{i:03d}.png", face(rng, 60 + i, 50 + i, channels=3))
    (root / "happy" / "happy_900.png").write_bytes(b"")                            # empty
    (root / "sad" / "sad_900.jpg").write_bytes(cv2.imencode(".jpg", face(rng))[1].tobytes()[:200])  # truncated
    return root


def test_a_stream_has_the_classes_splits_and_pixels_data_load_gives(photos):
    ds = data.load(photos, size=32, channels=3, cache=False, verbose=False)
    source = stream.open(photos, size=32, channels=3)
    assert source.classes == ds.classes == ["angry", "happy", "sad", "surprise"]
    assert len(source) == len(ds) + 2                        # the listing still holds the two bad files
    where = {p: i for i, p in enumerate(source.paths)}
    rows = [where[p] for p in ds.paths]
    assert list(source.labels[rows]) == list(ds.labels) and list(source.splits[rows]) == list(ds.splits)
    images, labels = source.read(np.arange(len(source)))     # every file, the bad ones left out
    assert len(images) == len(ds) and np.array_equal(images, ds.images[np.argsort(rows)])
    assert sorted(Path(p).name for p, _ in source.skipped) == ["happy_900.png", "sad_900.jpg"]
    assert source.counts().loc["happy", "total"] == 16 and source.image_shape == (32, 32, 3)


def test_a_bad_file_does_not_move_the_others_between_splits(photos):
    before = data.load(photos, cache=False, verbose=False)
    (photos / "happy" / "happy_000.png").write_bytes(b"broken")
    after = data.load(photos, cache=False, verbose=False)
    split_of = dict(zip(before.paths, before.splits))
    assert len(after) == len(before) - 1
    assert all(split_of[p] == s for p, s in zip(after.paths, after.splits))


def test_too_many_unreadable_files_stop_the_stream_with_their_names(photos):
    for i in range(3):
        (photos / "Anger" / f"Anger_{i:03d}.png").write_bytes(b"not an image")
    source = stream.open(photos, size=32, max_bad_fraction=0.01)
    with pytest.raises(FERDataError, match=r"Anger_00\d\.png.*not a readable image"):
        source.read(np.arange(len(source)))


def test_a_batch_of_unreadable_files_names_them(photos):
    source = stream.open(photos, size=32, max_bad_fraction=0.1)
    bad = [i for i, p in enumerate(source.paths) if Path(p).stem.endswith("_900")]
    with pytest.raises(FERDataError, match=r"batch 0 has no readable image \(2 files: .*_900\.(png|jpg), .*_900"):
        source.batches("train", 2, index=np.array(bad))[0]


def test_batches_cover_each_image_once_per_epoch_and_reshuffle(photos):
    source = stream.open(photos, size=32, channels=3)
    batches = source.batches("train", batch_size=8, shuffle=True, seed=1)
    def epoch():
        return np.concatenate([batches[i][0].reshape(len(batches[i][0]), -1).sum(1) for i in range(len(batches))])
    first = epoch()
    batches.on_epoch_end()
    second = epoch()
    assert sorted(first) == sorted(second) and list(first) != list(second)
    x, y = batches[0]
    assert x.dtype == np.float32 and x.shape[1:] == (32, 32, 3) and y.shape[1] == len(source.classes)
    assert all(len(b[0]) % 2 == 0 for b in source.batches("train", 7, multiple_of=2))


def test_fit_trains_from_a_streamed_folder(photos, tmp_path):
    source = stream.open(photos, size=32, channels=3)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                              keras.layers.Dense(len(source.classes), activation="softmax")])
    history = train.fit(model, source, tmp_path / "run", epochs=2, batch_size=8, patience=None,
                        jit_compile=False, verbose=0)
    assert len(history["val_accuracy"]) == 2 and (tmp_path / "run" / "best.keras").exists()
    read = {str(p) for p, split in zip(source.paths, source.splits) if split in ("train", "public")}
    bad = {str(photos / "happy" / "happy_900.png"), str(photos / "sad" / "sad_900.jpg")}
    assert sorted(p for p, _ in source.skipped) == sorted(bad & read)    # met in the splits fit read, once each


def test_streaming_a_big_folder_keeps_memory_bounded(tmp_path):
    """20,000 colour photos (112x112 JPEG) trained on at 96x96x3 for one epoch: in memory they are 553 MB."""
    rng = np.random.default_rng(0)
    bases = [cv2.GaussianBlur(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8), (9, 9), 0) for _ in range(50)]
    encoded = [cv2.imencode(".jpg", b)[1].tobytes() for b in bases]
    root = tmp_path / "big"
    for split, count in (("train", 18_000), ("val", 2_000)):
        for c in range(7):
            folder = root / split / f"{c}"
            folder.mkdir(parents=True)
            for i in range(count // 7):
                (folder / f"{i:05d}.jpg").write_bytes(encoded[(i + c) % len(encoded)])
    result = {}
    for how in ("stream", "load"):
        proc = subprocess.run([sys.executable, str(Path(__file__).with_name("stream_memory.py")), str(root),
                               str(tmp_path / how), how], capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        result[how] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result))
    raw_mb = 19_999 * 96 * 96 * 3 / 2**20
    assert result["load"]["growth_mb"] > raw_mb                     # in memory: at least the decoded images
    # ... but not many copies of them: the faces, Keras' uint8 copy and training's own memory measured 3.7x
    # (2026-12-07); a list of faces stacked at the end, then float32 copies for Keras, had made it 12x
    assert result["load"]["growth_mb"] < 4.5 * raw_mb
    assert result["stream"]["growth_mb"] < 0.25 * result["load"]["growth_mb"]
    assert result["stream"]["images"] == result["load"]["images"]   # the same training split either way
