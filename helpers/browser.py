"""The web app and JupyterLab in a real browser: headless Chromium, with a fake webcam playing a face photo.

What the browser tests (``tests/test_app.py``, ``tests/test_jupyterlab.py``) and the speed benchmark
(``benchmarks/app_speed.py``) share.
Playwright drives the system's Chromium (Debian: ``apt-get install chromium``); nothing is downloaded.

    from playwright.sync_api import sync_playwright
    from helpers import browser
    with sync_playwright() as p:
        chromium = browser.launch(p, browser.fake_camera("face.y4m"))
        page = chromium.new_page()
        page.goto(url)
        browser.start_webcam(page)      # the Webcam tab streaming, its frame rate in the readout
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def face_frames(n: int = 10) -> list[np.ndarray]:
    """``n`` 640x480 RGB frames of scikit-image's astronaut photo, shifted a pixel from frame to frame."""
    from skimage import data as skdata
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[:, 80:560] = cv2.resize(skdata.astronaut(), (480, 480))
    return [np.roll(canvas, k - n // 2, axis=1) for k in range(n)]


def fake_camera(path: str | Path, frames: int = 10) -> Path:
    """Write ``face_frames(frames)`` as a YUV4MPEG2 video, the format Chromium's fake camera plays in a loop."""
    path = Path(path)
    with open(path, "wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F15:1 Ip A1:1 C420jpeg\n")
        for frame in face_frames(frames):
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def launch(playwright, camera: str | Path | None = None):
    """Headless Chromium; given ``camera`` (a ``fake_camera`` file), it grants the camera without asking and
    plays that file.

    Nothing in the background (updates, sync, QUIC) so that every request the page makes is the page's.
    """
    if not CHROMIUM:
        raise RuntimeError("no Chromium on this machine (Debian: apt-get install chromium chromium-driver)")
    fake_camera = [] if camera is None else ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                                             f"--use-file-for-fake-video-capture={camera}"]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", *fake_camera])


def start_webcam(page) -> None:
    """On the app's page: open the Webcam tab, allow the camera, press Record once the picture shows, and wait
    for the first frame rate in the readout.

    Gradio ignores a Record press that comes before the video has a size (seen 0.1 s after allowing the
    camera on a busy machine), so this waits for the picture as a user would.
    """
    page.get_by_role("tab", name="Webcam").click()
    page.get_by_text("Click to Access Webcam").click()
    page.wait_for_function("document.querySelector('#camera video')?.videoWidth > 0")
    page.locator("#camera button.capture-button").click()   # the Record button
    page.wait_for_function("document.querySelector('#readout')?.innerText.includes('frames/s')")
