"""How fast the web app answers: webcam frames/s at 640x480 and photos/s on upload, on this machine.

    python benchmarks/app_speed.py [--seconds 15] [--no-browser]

Three measurements, all with the shipped model:

1. **Webcam path, in the process**: 640x480 frames of a real face, JPEG-encoded as the browser sends them;
   per frame: decode (Pillow, as Gradio does), ``App.frame`` (detect with ``app.LIVE``, classify, draw, write
   the answer as a JPEG file). Frames/s of one stream, no HTTP.
2. **Photos on upload**: ``python -m helpers.app``'s server in this process, called by ``gradio_client`` over
   loopback: a 512x512 portrait and a 4000x3000 photo, one client then 4 at once; photos/s and latency.
3. **Webcam in a real browser** (headless Chromium with a fake camera playing a face photo, Playwright): the
   frames/s the page shows after it settles; browser and server share this machine's cores.
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data as skdata

from helpers import app, browser, faces


def jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    return out.getvalue()


def webcam_in_process(page: app.App, seconds: float) -> dict:
    frames = [jpeg(f) for f in browser.face_frames()]
    times, parts, k, start = None, {"decode": [], "answer": []}, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        rgb = np.asarray(Image.open(io.BytesIO(frames[k % len(frames)])).convert("RGB"))
        t1 = time.perf_counter()
        _, _, times = page.frame(rgb, times)         # detect, classify, draw, write the JPEG the page gets
        t2 = time.perf_counter()
        for name, (a, b) in zip(parts, ((t0, t1), (t1, t2))):
            parts[name].append(b - a)
        k += 1
    return {"frames/s": k / (time.perf_counter() - start),
            **{f"{name} ms": 1000 * statistics.median(v) for name, v in parts.items()}}


def photos_over_http(url: str, folder: Path, requests: int = 12) -> list[dict]:
    from gradio_client import Client, handle_file
    portrait = folder / "portrait.jpg"
    cv2.imwrite(str(portrait), skdata.astronaut()[..., ::-1])
    big = np.full((3000, 4000, 3), 120, np.uint8)
    big[500:2500, 1000:3000] = cv2.resize(skdata.astronaut()[..., ::-1], (2000, 2000))
    large = folder / "photo_4000x3000.jpg"
    cv2.imwrite(str(large), big)
    rows = []
    for path in (portrait, large):
        for clients in (1, 4):
            pool = [Client(url, verbose=False) for _ in range(clients)]

            def one(i):
                t = time.perf_counter()
                pool[i % clients].predict([handle_file(str(path))], api_name="/photos")
                return time.perf_counter() - t

            one(0)                                            # warm-up
            start = time.perf_counter()
            with ThreadPoolExecutor(clients) as ex:
                latency = sorted(ex.map(one, range(requests)))
            rows.append({"photo": path.name, "clients": clients,
                         "photos/s": requests / (time.perf_counter() - start),
                         "p50 ms": 1000 * statistics.median(latency),
                         "p95 ms": 1000 * latency[int(0.95 * len(latency)) - 1]})
    return rows


def webcam_in_browser(url: str, folder: Path, seconds: float) -> list[float]:
    from playwright.sync_api import sync_playwright
    readings = []
    with sync_playwright() as p:
        chromium = browser.launch(p, browser.fake_camera(folder / "face.y4m"))
        page = chromium.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        page.wait_for_selector("#find-faces")
        browser.start_webcam(page)
        time.sleep(3)
        end = time.time() + seconds
        while time.time() < end:
            found = re.search(r"([\d.]+) frames/s", page.inner_text("#readout"))
            if found:
                readings.append(float(found[1]))
            time.sleep(1)
        chromium.close()
    return readings


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15, help="length of each frame-rate measurement")
    parser.add_argument("--no-browser", action="store_true", help="skip the headless Chromium measurement")
    args = parser.parse_args(argv)
    predictor = faces.Predictor()
    page = app.App(predictor, samples={})
    print(f"model {predictor.path.name}; webcam detection settings {app.LIVE}")

    w = webcam_in_process(page, args.seconds)
    print(f"\n1. webcam path in the process, 640x480: {w['frames/s']:.1f} frames/s "
          f"(median per frame: decode {w['decode ms']:.1f} ms, detect + classify + draw + write the answer "
          f"{w['answer ms']:.1f} ms)")

    demo = app.build(predictor, samples={})
    _, url, _ = app.launch(demo, port=None, prevent_thread_lock=True, quiet=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            print("\n2. photos uploaded over HTTP (gradio_client, loopback)")
            print(f"{'photo':>22} {'clients':>7} {'photos/s':>8} {'p50 ms':>7} {'p95 ms':>7}")
            for r in photos_over_http(url, Path(tmp)):
                print(f"{r['photo']:>22} {r['clients']:>7} {r['photos/s']:>8.1f} {r['p50 ms']:>7.0f} {r['p95 ms']:>7.0f}")
            if args.no_browser or not browser.CHROMIUM:
                print("\n3. browser: skipped (--no-browser, or no chromium)")
            else:
                fps = webcam_in_browser(url, Path(tmp), args.seconds)
                print(f"\n3. webcam in headless Chromium (fake 640x480 camera), the page's readout over "
                      f"{args.seconds:.0f} s: median {statistics.median(fps):.1f} frames/s "
                      f"(min {min(fps):.1f}, max {max(fps):.1f})")
    finally:
        demo.close()


if __name__ == "__main__":
    main()
