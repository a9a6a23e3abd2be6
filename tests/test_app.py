"""The web app (python -m helpers.app): what its page calls, its HTTP API from gradio_client against a real
server in a subprocess, bounded concurrent load, and a real headless Chromium that uploads a photo and
streams a fake camera made from a real face photo."""

import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import time
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from conftest import free_port
from helpers import app, browser, faces, predict, shipped
from helpers.record import run_dir

LABELS = shipped.metadata()["labels"]


@pytest.fixture(scope="module")
def page_app():
    astronaut = skdata.astronaut()[..., ::-1]
    return app.App(faces.Predictor(), {"astronaut": astronaut, "blank": np.full((300, 400), 200, np.uint8)})


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A real face photo, a photo with no face, and files that are not photos."""
    folder = tmp_path_factory.mktemp("photos")
    cv2.imwrite(str(folder / "astronaut.jpg"), skdata.astronaut()[..., ::-1])
    cv2.imwrite(str(folder / "blank.png"), np.full((300, 400, 3), 200, np.uint8))
    (folder / "empty.jpg").write_bytes(b"")
    whole = (folder / "astronaut.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(whole[:len(whole) // 3])
    (folder / "notes.txt").write_text("not a photo\n")
    return folder


def report_of(outputs):
    """The JSON report (the 3rd output), parsed."""
    return json.loads(outputs[2])


def test_photos_give_the_cli_json_bars_and_an_annotated_copy(page_app, photos, capsys):
    outputs = page_app.photos([str(photos / "astronaut.jpg"), str(photos / "blank.png")])
    shown, bars, report, status = outputs[0], outputs[1], report_of(outputs), outputs[3]
    assert [r["path"] for r in report] == ["astronaut.jpg", "blank.png"]
    assert len(report[0]["faces"]) == 1 and report[1]["faces"] == []
    assert predict.main([str(photos / "astronaut.jpg"), "--json"]) == 0         # the CLI says the same
    cli = json.loads(capsys.readouterr().out)[0]
    assert cli["faces"][0]["box"] == report[0]["faces"][0]["box"]
    assert cli["faces"][0]["label"] == report[0]["faces"][0]["label"]
    label = report[0]["faces"][0]["label"]
    assert f"astronaut.jpg, face 1: {label}" in bars and "blank.png: no face found" in bars
    assert cv2.imread(shown[0][0]).shape == (512, 512, 3) and shown[0][1].startswith("astronaut.jpg: " + label)
    assert status.startswith("2 photo(s), 1 face(s)")


@pytest.mark.parametrize("name, message", [("empty.jpg", "empty.jpg: the file is empty"),
                                           ("truncated.jpg", "truncated.jpg: not an image"),
                                           ("notes.txt", "notes.txt: not an image")])
def test_a_bad_upload_gets_a_message_naming_it(page_app, photos, name, message):
    with pytest.raises(app.gr.Error, match=message):
        page_app.photos([str(photos / name)])
    outputs = page_app.photos([str(photos / name), str(photos / "astronaut.jpg")])   # the rest still shown
    assert len(outputs[0]) == 1 and message in outputs[3]
    assert "error" in report_of(outputs)[0] and len(report_of(outputs)[1]["faces"]) == 1


def test_an_empty_submission_and_an_unknown_sample(page_app):
    for call in (lambda: page_app.photos(None), lambda: page_app.photos([]), lambda: page_app.sample(None),
                 lambda: page_app.sample("nobody")):
        with pytest.raises(app.gr.Error):
            call()
    assert len(report_of(page_app.sample("astronaut"))[0]["faces"]) == 1


def test_a_huge_photo_is_searched_shrunk_and_shown_shrunk(page_app, tmp_path):
    big = np.full((6000, 8000, 3), 120, np.uint8)
    big[1500:4500, 2500:5500] = cv2.resize(skdata.astronaut()[..., ::-1], (3000, 3000))
    cv2.imwrite(str(tmp_path / "huge.jpg"), big)
    outputs = page_app.photos([str(tmp_path / "huge.jpg")])
    boxes = [f["box"] for f in report_of(outputs)[0]["faces"]]    # in the photo's own pixels
    assert any(3300 < x < 3800 and 1700 < y < 2200 and 450 < w < 800 for x, y, w, h in boxes), boxes
    assert max(cv2.imread(outputs[0][0][0]).shape[:2]) == app.DISPLAY_MAX_SIDE


def test_a_photo_over_the_pixel_limit_is_refused(page_app, photos, monkeypatch):
    monkeypatch.setattr(faces, "MAX_PIXELS", 100_000)
    with pytest.raises(app.gr.Error, match=r"astronaut.jpg: 512x512 pixels is more than"):
        page_app.photos([str(photos / "astronaut.jpg")])


def test_webcam_frames_are_annotated_and_counted(page_app):
    frame = browser.face_frames(1)[0]                                  # RGB 640x480, as the browser sends it
    times = None
    for _ in range(3):
        shown, readout, times = page_app.frame(frame, times)
    assert cv2.imread(shown).shape == frame.shape and len(times) == 3
    assert readout.split(" ")[0] in page_app.predictor.labels and "frames/s" in readout
    assert page_app.frame(None, times)[0] is None


def test_answers_are_files_of_their_own_and_old_ones_are_removed(page_app, monkeypatch):
    """Two requests with the same answer get two files (Gradio rewrote a shared one in place while sending
    it: a concurrent client once got a truncated image); files older than the outbox keeps are deleted."""
    paths = [page_app.sample("astronaut")[0][0][0] for _ in range(2)]
    assert paths[0] != paths[1] and all(Path(p).is_file() for p in paths)
    monkeypatch.setattr(page_app.outbox, "keep_seconds", 0)
    page_app.sample("blank")
    assert not any(Path(p).exists() for p in paths)


def test_about_tab_has_the_models_classes_scores_and_limits(page_app):
    text = app.about_markdown(page_app.predictor)
    meta = json.loads(page_app.predictor.path.with_suffix(".json").read_text())
    assert ", ".join(meta["labels"]) in text
    assert f"| private | {meta['scores']['private']['accuracy']:.1%}" in text
    assert "Out of scope" in text and "decision about a person" in text
    if meta.get("finetune"):                                  # fine-tuned after training: said, with its command
        assert f"`{meta['finetune']['command']}`" in text


def test_the_server_asks_nothing_of_the_internet(monkeypatch):
    """Build, launch and answer one request with every socket connection recorded: loopback only."""
    seen = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        seen.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    demo = app.build(samples={"blank": np.full((100, 100), 200, np.uint8)})
    try:
        _, url, _ = app.launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
        from gradio_client import Client
        assert Client(url, verbose=False).predict("blank", api_name="/sample")[3].startswith("1 photo(s)")
    finally:
        demo.close()
    hosts = {a[0] for a in seen if isinstance(a, tuple)}
    assert hosts and hosts <= {"127.0.0.1", "::1", "localhost"}, hosts


# --- a real server, in its own process -------------------------------------------------------------------

def start_app(args: list[str], url: str, log: Path, context: ssl.SSLContext | None = None) -> subprocess.Popen:
    """``python -m helpers.app ARGS`` in its own process, returned once ``url`` answers."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "helpers.app", *args], stdout=out,
                                stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2, context=context)
            return proc
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"the app did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``python -m helpers.app`` on a free localhost port; its URL once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_app(["--port", str(port)], url, tmp_path_factory.mktemp("server") / "app.log")
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def client(url):
    from gradio_client import Client
    return Client(url, verbose=False)


def call(c, path):
    from gradio_client import handle_file
    return report_of(c.predict([handle_file(str(path))], api_name="/photos"))


def test_api_answers_and_keeps_serving_after_bad_input(server, photos):
    from gradio_client.exceptions import AppError
    c = client(server)
    (astronaut,) = call(c, photos / "astronaut.jpg")
    assert len(astronaut["faces"]) == 1 and astronaut["faces"][0]["label"] in LABELS
    (sample,) = report_of(c.predict("astronaut", api_name="/sample"))      # a bundled sample
    assert len(sample["faces"]) == 1 and sample["faces"][0]["label"] in LABELS
    assert call(c, photos / "blank.png")[0]["faces"] == []
    for name, message in (("truncated.jpg", "not an image"), ("empty.jpg", "the file is empty")):
        with pytest.raises(AppError, match=message):
            call(c, photos / name)
    assert len(call(c, photos / "astronaut.jpg")[0]["faces"]) == 1        # still serving


def test_uploads_over_the_limit_are_refused(server, photos, tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes((photos / "astronaut.jpg").read_bytes() + bytes(26 * 2**20))
    with pytest.raises(Exception, match="(?i)size|large|413"):
        call(client(server), big)
    assert len(call(client(server), photos / "astronaut.jpg")[0]["faces"]) == 1


def test_concurrent_clients_each_get_their_own_answer(server, photos):
    """60 requests from 8 clients at once, alternating a face and no face: every answer is the right one."""
    clients = [client(server) for _ in range(8)]

    def one(k):
        path = photos / ("astronaut.jpg" if k % 2 else "blank.png")
        start = time.perf_counter()
        (entry,) = call(clients[k % 8], path)
        return k, entry, time.perf_counter() - start

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(60)))
    for k, entry, _ in results:
        assert entry["path"] == ("astronaut.jpg" if k % 2 else "blank.png")
        assert len(entry["faces"]) == k % 2
    seconds = sorted(s for *_, s in results)
    print(f"\n60 requests from 8 clients: p50 {statistics.median(seconds) * 1000:.0f} ms, "
          f"p95 {seconds[int(0.95 * len(seconds)) - 1] * 1000:.0f} ms per request")


# --- a real browser ------------------------------------------------------------------------------------------

@pytest.mark.skipif(not browser.CHROMIUM and not os.environ.get("FER_REQUIRE_BROWSER"),
                    reason="no Chromium here (Debian: apt-get install chromium chromium-driver); CI installs it")
def test_a_real_browser_uploads_a_photo_and_streams_the_webcam(server, photos, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    assert browser.CHROMIUM, "FER_REQUIRE_BROWSER is set but no chromium is installed"
    shots = run_dir() / "app_screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    outside = []
    with sync_playwright() as p:
        chromium = browser.launch(p, browser.fake_camera(tmp_path / "face.y4m"))
        try:
            page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
            # the longest a step may take: the test takes ~8 s alone, far longer while other jobs share the cores
            step_ms = 120_000
            page.set_default_timeout(step_ms)
            upload = page.locator("#photos-upload")
            page.on("request", lambda r: None if r.url.startswith((server.rstrip("/"), "data:", "blob:"))
                    else outside.append(r.url))
            page.goto(server)
            page.wait_for_selector("#find-faces")
            page.set_input_files("#photos-upload input[type=file]", str(photos / "astronaut.jpg"))
            # the uploaded file's row, labelled with its name (the name as text shows only while it uploads)
            expect(upload.get_by_label("astronaut.jpg")).to_be_visible(timeout=step_ms)
            page.click("#find-faces")
            page.wait_for_selector("#bars .face")
            page.screenshot(path=str(shots / "photos.png"), full_page=True)
            bars = page.inner_text("#bars")
            assert any(f"astronaut.jpg, face 1: {label}" in bars for label in LABELS)
            assert page.inner_text("#status").startswith("1 photo(s), 1 face(s)")
            page.locator("#photos-upload button[aria-label='Clear']").click()
            # the upload re-renders on Clear: a file set before that lands in the old input and is lost
            expect(upload.get_by_label("astronaut.jpg")).to_have_count(0, timeout=step_ms)
            page.set_input_files("#photos-upload input[type=file]", str(photos / "truncated.jpg"))
            expect(upload.get_by_label("truncated.jpg")).to_be_visible(timeout=step_ms)
            page.click("#find-faces")
            page.get_by_text("truncated.jpg: not an image").first.wait_for()   # said in the page
            page.screenshot(path=str(shots / "bad_upload.png"), full_page=True)

            browser.start_webcam(page)
            time.sleep(3)                                           # let the frame rate settle
            readout = page.inner_text("#readout")
            page.screenshot(path=str(shots / "webcam.png"), full_page=True)
            page.get_by_role("tab", name="About the model").click()
            assert "Out of scope" in page.inner_text("#about")
        finally:
            chromium.close()
    print(f"\nwebcam readout in the browser: {readout}\nscreenshots: {shots}")
    live = re.search(r"(\w+) \d+% · ([\d.]+) frames/s", readout)
    assert live and live[1] in LABELS and float(live[2]) > 0, readout
    assert not outside, f"the page asked for something outside the app: {outside[:5]}"


# --- the webcam from other computers: HTTPS ------------------------------------------------------------

def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and its key, made with the openssl command docs/commands.md gives."""
    if not shutil.which("openssl"):
        pytest.skip("no openssl on this machine")
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
                    "/CN=fer-workbook", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def test_https_files_are_checked_before_the_model_loads(tmp_path, capsys):
    cert, key = self_signed(tmp_path / "one")
    with pytest.raises(SystemExit):                                      # a certificate needs its key
        app.main(["--ssl-certfile", str(cert)])
    assert "--ssl-certfile and --ssl-keyfile go together" in capsys.readouterr().err
    assert app.main(["--ssl-certfile", str(tmp_path / "missing.pem"), "--ssl-keyfile", str(key)]) == 2
    assert "missing.pem: no such file" in capsys.readouterr().err
    _, other_key = self_signed(tmp_path / "two")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    for wrong in ([str(cert), str(other_key)], [str(tmp_path / "junk.pem"), str(key)]):   # a stranger's key; junk
        assert app.main(["--ssl-certfile", wrong[0], "--ssl-keyfile", wrong[1]]) == 2
        assert "are not a PEM certificate and its unencrypted key" in capsys.readouterr().err


@pytest.mark.skipif(not browser.CHROMIUM and not os.environ.get("FER_REQUIRE_BROWSER"),
                    reason="no Chromium (Debian: apt-get install chromium)")
def test_another_computers_browser_gets_the_camera_over_https_only(tmp_path):
    """Served on the network, the Webcam tab streams in a browser that reaches the app by this computer's
    address over HTTPS (a self-signed certificate, accepted); a plain-HTTP page there gets no camera at all."""
    from playwright.sync_api import sync_playwright
    address = app.network_address()
    if address is None:
        pytest.skip("this computer has no network address but 127.0.0.1")
    cert, key = self_signed(tmp_path)
    port = free_port()
    proc = start_app(["--host", "0.0.0.0", "--port", str(port), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)],
                     f"https://127.0.0.1:{port}/", tmp_path / "app.log", ssl._create_unverified_context())

    class Blank(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html><body>plain HTTP</body></html>")

        def log_message(self, *args):
            pass

    plain = HTTPServer((address, 0), Blank)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            chromium = browser.launch(p, browser.fake_camera(tmp_path / "face.y4m"))
            try:
                context = chromium.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.set_default_timeout(120_000)
                page.goto(f"http://{address}:{plain.server_port}/")
                assert page.evaluate("[window.isSecureContext, navigator.mediaDevices === undefined]") == [False, True]
                page.goto(f"https://{address}:{port}/")
                assert page.evaluate("window.isSecureContext")
                browser.start_webcam(page)
                readout = page.inner_text("#readout")
            finally:
                chromium.close()
    finally:
        plain.shutdown()
        proc.terminate()
        proc.wait(timeout=30)
    live = re.search(r"(\w+) \d+% · ([\d.]+) frames/s", readout)
    assert live and live[1] in LABELS, readout
    assert f"Other computers: https://{address}:{port}/" in (tmp_path / "app.log").read_text()   # what to share
