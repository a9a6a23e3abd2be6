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


@pytest.mark.parametrize("orientation", range(1, 9))
def test_photos_are_turned_upright_as_their_exif_orientation_says(photos, orientation):
    """Every EXIF orientation gives the pixels Pillow's exif_transpose gives (a lossless PNG: exactly)."""
    from PIL import Image, ImageOps
    stored = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3) * 3       # no symmetry to hide a wrong turn
    exif = Image.Exif()
    exif[faces.ORIENTATION] = orientation
    Image.fromarray(stored).save(photos / "tagged.png", exif=exif.tobytes())
    with Image.open(photos / "tagged.png") as im:
        seen = np.asarray(ImageOps.exif_transpose(im))[..., ::-1]           # RGB -> BGR, as OpenCV reads
    np.testing.assert_array_equal(faces.read_photo(photos / "tagged.png"), seen)


def test_a_phone_portrait_stored_sideways_finds_its_face(predictor, photos):
    """A phone stores a portrait photo sideways with EXIF orientation 6 ("turn 90 degrees clockwise"):
    read as stored, the frontal detector finds no face; read upright, it finds the astronaut's."""
    from PIL import Image
    sideways = np.rot90(skdata.astronaut(), 1)                             # RGB, lying on its side
    exif = Image.Exif()
    exif[faces.ORIENTATION] = 6
    Image.fromarray(np.ascontiguousarray(sideways)).save(photos / "phone.jpg", quality=95, exif=exif.tobytes())
    as_stored = cv2.imread(str(photos / "phone.jpg"), cv2.IMREAD_UNCHANGED)
    assert predictor.predict(as_stored) == []
    photo = faces.read_photo(photos / "phone.jpg")
    assert photo.shape == (512, 512, 3) and len(predictor.predict(photo)) == 1
    assert predict.main([str(photos / "phone.jpg"), "--json"]) == 0


def test_bad_files_get_clear_errors(photos, monkeypatch):
    with pytest.raises(FERDataError, match="corrupt.jpg: not an image"):
        faces.read_photo(photos / "corrupt.jpg")
    (photos / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    with pytest.raises(FERDataError, match="IMG_0001.HEIC: a HEIC photo .* export it as JPEG"):
        faces.read_photo(photos / "IMG_0001.HEIC")
    with pytest.raises(FERDataError, match="nope.png: no such file"):
        faces.read_photo(photos / "nope.png")
    (photos / "empty.jpg").write_bytes(b"")
    with pytest.raises(FERDataError, match="empty.jpg: the file is empty"):
        faces.read_photo(photos / "empty.jpg")
    from PIL import Image
    with monkeypatch.context() as m:                  # a photo past Pillow's own limit (179 megapixels), scaled down
        m.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
        with pytest.raises(FERDataError, match="astronaut.jpg: more than 150 megapixels, more than this tool reads"):
            faces.read_photo(photos / "astronaut.jpg")
    monkeypatch.setattr(faces, "MAX_PIXELS", 100_000)                  # read from the header, not decoded
    with pytest.raises(FERDataError, match="astronaut.jpg: 512x512 pixels is more than this tool reads"):
        faces.read_photo(photos / "astronaut.jpg")
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
    (photos / "empty.jpg").write_bytes(b"")                         # was an OpenCV traceback before its fix
    proc = subprocess.run([sys.executable, "-m", "helpers.predict", str(photos / "missing.jpg"),
                           str(photos / "empty.jpg"), str(photos / "astronaut.jpg"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert "missing.jpg: no such file" in proc.stderr and "empty.jpg: the file is empty" in proc.stderr
    report = json.loads(proc.stdout)                                # every input, in order, failures too
    assert [r["path"] for r in report] == [str(photos / n) for n in ("missing.jpg", "empty.jpg", "astronaut.jpg")]
    assert "no such file" in report[0]["error"] and "faces" not in report[0]
    assert len(report[2]["faces"]) == 1                             # the good photo was still processed


# ---- output that cannot be lost, inputs that cannot be missed (each of these failed before its fix) ----

def _no_model(monkeypatch):
    """Make loading a model fail the test: the checks must come first."""
    def boom(*args, **kwargs):
        raise AssertionError("the model was loaded before the --annotate folder was checked")
    monkeypatch.setattr(faces, "Predictor", boom)


def test_annotate_into_an_unusable_folder_fails_before_the_model_loads(photos, tmp_path, monkeypatch, capsys):
    _no_model(monkeypatch)
    a_file = tmp_path / "taken.png"
    a_file.write_bytes(b"x")
    for target, why in ((a_file, "exists and is not a folder"), (a_file / "sub", "cannot write into")):
        assert predict.main([str(photos / "astronaut.jpg"), "--annotate", str(target)]) == 2
        err = capsys.readouterr().err
        assert f"--annotate {target}: {why}" in err


def test_a_failed_write_is_an_error_not_silence(photos, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cv2, "imwrite", lambda *a, **k: False)     # what OpenCV does on a full disk
    status = predict.main([str(photos / "astronaut.jpg"), "--annotate", str(tmp_path / "out")])
    assert status == 1 and "could not write the image" in capsys.readouterr().err
    assert list((tmp_path / "out").iterdir()) == []                 # no partial file left behind


def test_photos_with_the_same_name_keep_their_own_annotated_copy(photos, tmp_path, capsys):
    for folder in ("holiday", "work"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "me.jpg").write_bytes((photos / ("astronaut.jpg" if folder == "work" else
                                                              "coffee.png")).read_bytes())
    out = tmp_path / "out"
    assert predict.main([str(tmp_path / "holiday" / "me.jpg"), str(tmp_path / "work" / "me.jpg"),
                         "--annotate", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["holiday_me_annotated.png", "work_me_annotated.png"]
    assert not np.array_equal(cv2.imread(str(out / written[0])).shape, cv2.imread(str(out / written[1])).shape)


def test_an_empty_folder_is_reported(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden.jpg").write_bytes(b"x")
    assert predict.main([str(tmp_path / "empty"), "--json"]) == 1
    out = capsys.readouterr()
    assert "the folder holds no images" in out.err
    assert json.loads(out.out) == [{"path": str(tmp_path / "empty"), "error": out.err.split("error: ")[1].strip()}]


@pytest.mark.parametrize("damage, message", [
    ("text", "not a Keras model file"),
    ("no labels", "no 'labels' list"),
    ("few labels", "3 labels for a model with 7 outputs"),
    ("no json", "the model's class names are missing"),
])
def test_a_bad_model_gets_a_message_not_a_traceback(tmp_path, capsys, damage, message):
    from helpers import shipped
    model = tmp_path / "m.keras"
    meta = shipped.metadata()
    if damage == "text":
        model.write_text("not a model")
    else:
        model.write_bytes(shipped.path().read_bytes())
    if damage == "no labels":
        meta.pop("labels")
    elif damage == "few labels":
        meta["labels"] = meta["labels"][:3]
    if damage != "no json":
        model.with_suffix(".json").write_text(json.dumps(meta))
    assert predict.main([str(tmp_path), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and "File not found" not in err


def test_big_photos_are_searched_on_a_shrunk_copy_and_boxes_come_back_full_size(predictor, monkeypatch):
    small = skdata.astronaut()[..., ::-1]
    (box,) = faces.detect(small)
    big = cv2.resize(small, (6000, 6000), interpolation=cv2.INTER_CUBIC)     # 36 megapixels
    seen = []
    cascade = faces.detector()

    class Spy:
        def detectMultiScale(self, grey, **kwargs):
            seen.append(grey.shape)
            return cascade.detectMultiScale(grey, **kwargs)

    monkeypatch.setattr(faces, "detector", lambda: Spy())
    found = predictor.predict(big)[0]                              # the largest face
    assert max(seen[0]) <= faces.DETECT_MAX_SIDE
    scale = 6000 / small.shape[0]
    assert np.allclose(found.box, np.array(box) * scale, atol=0.12 * box[2] * scale)   # the same face, full size


def test_the_notebook_widget_reads_uploads_upright_and_names_a_bad_one(capsys):
    """Notebook 06's upload box decodes as read_photo does: a sideways phone photo arrives upright, and a
    file that is no image gets a message naming it."""
    import datetime
    import io

    import matplotlib
    from PIL import Image

    from helpers import gallery
    matplotlib.use("Agg")

    class Recorder:                                    # stands in for the model: records what it is shown
        seen = []

        def predict(self, image):
            self.seen.append(image)
            return []

    box = gallery.widget(Recorder(), samples={"coffee": skdata.coffee()[..., ::-1]})
    upload = box.children[0].children[0]
    exif = Image.Exif()
    exif[faces.ORIENTATION] = 6
    phone = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(np.rot90(skdata.astronaut(), 1))).save(phone, "PNG", exif=exif.tobytes())
    for name, content in [("phone.png", phone.getvalue()), ("notes.jpg", b"not a photo")]:
        upload.value = ({"name": name, "type": "image/png", "size": len(content), "content": memoryview(content),
                         "last_modified": datetime.datetime.now()},)
    np.testing.assert_array_equal(Recorder.seen[-1], skdata.astronaut()[..., ::-1])   # upright, BGR
    assert len(Recorder.seen) == 2                                                    # the sample, the upload
    assert "notes.jpg: not an image OpenCV can read" in capsys.readouterr().out
