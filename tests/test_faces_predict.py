"""Faces in photos and the command-line predictor, on real photos that ship with scikit-image."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from helpers import FERDataError, faces, predict


@pytest.fixture(scope="module")
def predictor():
    return faces.Predictor()


@pytest.fixture
def photos(tmp_path):
    astronaut = skdata.astronaut()[..., ::-1]                       # BGR, as OpenCV reads files
    cv2.imwrite(str(tmp_path / "astronaut.jpg"), astronaut)
    cv2.imwrite(str(tmp_path / "coffee.png"), skdata.coffee()[..., ::-1])
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    return tmp_path


def test_one_face_in_the_astronaut_photo(predictor, photos):
    found = predictor.predict(faces.read_photo(photos / "astronaut.jpg"))
    assert len(found) == 1
    x, y, w, h = found[0].box
    assert 150 < x < 210 and 40 < y < 100 and 70 < w < 130          # her face, not the helmet or the flag
    assert sum(found[0].probabilities.values()) == pytest.approx(1, abs=1e-4)
    assert found[0].label in predictor.labels


def test_no_face_and_other_formats(predictor, photos):
    assert predictor.predict(faces.read_photo(photos / "coffee.png")) == []
    bgr = skdata.astronaut()[..., ::-1]
    rgba = np.dstack([bgr, np.full(bgr.shape[:2], 255, np.uint8)])
    sixteen = bgr.astype(np.uint16) * 257
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    for image in (rgba, sixteen, grey, grey.astype(np.float32) / 255):
        assert len(predictor.predict(image)) == 1
    assert faces.annotate(sixteen, predictor.predict(sixteen)).shape == bgr.shape
    assert faces.crop(grey, (500, 500, 40, 40)).shape == (48, 48)   # box at the edge: clamped, still 48x48


def test_bad_files_get_clear_errors(photos):
    with pytest.raises(FERDataError, match="corrupt.jpg: not an image"):
        faces.read_photo(photos / "corrupt.jpg")
    with pytest.raises(FERDataError, match="nope.png: no such file"):
        faces.read_photo(photos / "nope.png")
    with pytest.raises(ValueError, match="1, 3 or 4 channels"):
        faces.to_grey8(np.zeros((10, 10, 2), np.uint8))


def test_cli_json_annotate_and_folder(photos, capsys, tmp_path):
    status = predict.main([str(photos / "astronaut.jpg"), str(photos / "coffee.png"), "--json",
                           "--annotate", str(tmp_path / "out")])
    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [len(r["faces"]) for r in report] == [1, 0]
    face = report[0]["faces"][0]
    assert len(face["box"]) == 4 and face["label"] in face["probabilities"]
    assert (tmp_path / "out" / "astronaut_annotated.png").exists()
    status = predict.main([str(photos)])                            # a folder: every image in it, sorted
    out = capsys.readouterr()
    assert status == 1                                              # corrupt.jpg is in the folder
    assert "astronaut.jpg: 1 face found" in out.out and "coffee.png: no faces found" in out.out
    assert "corrupt.jpg: not an image" in out.err


def test_cli_exit_status_after_processing_the_rest(photos):
    proc = subprocess.run([sys.executable, "-m", "helpers.predict", str(photos / "missing.jpg"),
                           str(photos / "astronaut.jpg"), "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "missing.jpg: no such file" in proc.stderr
    assert len(json.loads(proc.stdout)[0]["faces"]) == 1            # the good photo was still processed
