"""The model as a web app: photos and the live webcam, in the browser (Gradio).

    python -m helpers.app [--model PATH] [--host 127.0.0.1] [--port 7860] [--ssl-certfile C --ssl-keyfile K]

then open http://127.0.0.1:7860. Three tabs:

- **Photos**: upload one or several photos (any format ``python -m helpers.predict`` reads) or pick a sample:
  each photo annotated (boxes, labels, confidence), every face's probability bars, and the JSON document that
  ``python -m helpers.predict --json`` prints.
- **Webcam**: the browser's camera streamed to the model, boxes and labels drawn on every frame, with the
  frames per second the app keeps up.
- **About the model**: its classes, scores per split and recipe (from its ``.json``) and its limits (the model
  card, ``models/README.md``).

It runs offline: no analytics, no share link, its scripts and fonts are served by the app itself. It listens
on 127.0.0.1, this computer only, unless ``--host`` names another address: ``--host 0.0.0.0`` lets anyone who
can reach this computer on the network open it, with no login, and use your CPU. A browser gives a page the
camera only over HTTPS or at 127.0.0.1, so for the Webcam tab from other computers serve it over HTTPS
(``--ssl-certfile``, ``--ssl-keyfile``; a self-signed pair will do, each browser asks once to accept it) or
let each user forward the port (``ssh -L 7860:127.0.0.1:7860 HOST``). Uploads are capped at
``MAX_UPLOAD`` per file (and photos at ``faces.MAX_PIXELS``). The app uses the same ``faces.Predictor`` as the
command line: one preprocessing path.

From a notebook (notebook 07): ``demo = app.build(predictor)``, then ``app.launch(demo, inline=True)``.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import socket
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path

for _name, _value in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                      "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_SSR_MODE": "False"}.items():
    os.environ.setdefault(_name, _value)   # before gradio is imported: it reads them once

import cv2                                   # noqa: E402
import gradio as gr                          # noqa: E402
import numpy as np                           # noqa: E402

from helpers import FERDataError, faces, gallery, predict   # noqa: E402
from helpers.data import project_root        # noqa: E402

CACHE_MINUTES = 10           # uploads and answers are deleted from Gradio's temporary folder after this
MAX_UPLOAD = "25mb"          # per file: a 8000x6000 JPEG from a camera is 10-20 MB
LIVE = {"max_side": 320, "scale_factor": 1.2}   # webcam frames: faces of 60+ px in 640x480, ~6x faster search
CAMERA = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}   # the frame size the browser sends
DISPLAY_MAX_SIDE = 1280      # annotated photos are shrunk to this for the page (boxes in the JSON stay exact)
CSS = """
.bars {font-size: 0.85em; display: flex; flex-wrap: wrap; gap: 14px}
.face {display: flex; gap: 8px; border: 1px solid #ddd; border-radius: 6px; padding: 6px 8px}
.face img {width: 72px; height: 72px; image-rendering: pixelated}
.bar {display: flex; align-items: center; gap: 4px; line-height: 1.3}
.bar .name {width: 58px; text-align: right}
.bar .track {width: 110px; background: #eee; height: 9px}
.bar .fill {background: #f39c12; height: 9px}
.bar.top {font-weight: 600}
"""


def refuse(message: str) -> gr.Error:
    """The error a request gets for bad input: shown in the page (and raised by ``gradio_client``), without a
    traceback in the server's log, since nothing went wrong on the server."""
    return gr.Error(message, print_exception=False)


class Outbox:
    """Annotated images handed to the page as files, each under a name of its own, written whole and then
    renamed (``faces.save_image``). Gradio would otherwise write every image it is given to a file named
    after its content, rewriting that file in place when two users get the same answer at the same time,
    while it is being sent to the first one. Files older than ``keep_seconds`` are removed: Gradio has copied
    them into its own cache by then."""

    def __init__(self, keep_seconds: float = 60):
        self._dir = tempfile.TemporaryDirectory(prefix="fer-app-")     # removed when the app goes away
        self.keep_seconds = keep_seconds
        self.sent = deque()
        self.lock = threading.Lock()

    def put(self, bgr: np.ndarray) -> str:
        path = faces.save_image(Path(self._dir.name) / f"{uuid.uuid4().hex}.jpg", bgr)
        now = time.time()
        with self.lock:
            self.sent.append((now, path))
            while self.sent[0][0] < now - self.keep_seconds:
                self.sent.popleft()[1].unlink(missing_ok=True)
        return str(path)


class App:
    """What the page's events call: a ``faces.Predictor`` (used by one request at a time: the detector and the
    model are shared), the sample photos, and the outbox of annotated images."""

    def __init__(self, predictor: faces.Predictor, samples: dict | None = None):
        self.predictor = predictor
        self.samples = samples if samples is not None else gallery.sample_photos()
        self.lock = threading.Lock()
        self.outbox = Outbox()

    def find(self, image: np.ndarray, **detect_options) -> list[faces.Face]:
        """The faces in one photo (BGR, grey or BGRA, as OpenCV reads them)."""
        with self.lock:
            return self.predictor.predict(image, **detect_options)

    def photos(self, files):
        """The Photos tab's button: every uploaded photo analysed; a photo that cannot be read is reported
        (in the page and in the JSON) and the others are still shown. Nothing readable: an error."""
        if not files:
            raise refuse("No photo given: upload one or more photos, or pick a sample.")
        named = []
        for f in files:
            path = Path(getattr(f, "name", None) or f)
            named.append((path, path.name))
        return self.analyse(named)

    def sample(self, name: str | None):
        """The Photos tab's sample picker."""
        if not name:
            raise refuse("No sample chosen.")
        if name not in self.samples:
            raise refuse(f"{name}: not one of the samples ({', '.join(self.samples)}).")
        return self.analyse([(self.samples[name], name)])

    def analyse(self, items):
        """``items``: ``(path or image array, name)`` pairs -> the four outputs of the Photos tab: annotated
        images with captions, the probability bars (HTML), the CLI's JSON report (as text, exactly as
        ``python -m helpers.predict --json`` prints it) and a status line."""
        gallery_items, bars, report, errors = [], [], [], []
        for source, name in items:
            try:
                image = faces.read_photo(source, name) if isinstance(source, Path) else source
                found = self.find(image)
            except (FERDataError, ValueError, OSError, cv2.error) as err:
                message = str(err) if isinstance(err, FERDataError) else f"{name}: {err}"
                errors.append(message)
                report.append(predict.photo_entry(name, error=message))
                continue
            report.append(predict.photo_entry(name, found))
            gallery_items.append((self.outbox.put(for_display(faces.annotate(image, found))), caption(name, found)))
            bars.append(bars_html(name, image, found, self.predictor))
        if not gallery_items:
            raise refuse("\n".join(errors))
        n_faces = sum(len(r.get("faces", [])) for r in report)
        status = f"{len(gallery_items)} photo(s), {n_faces} face(s) found."
        if errors:
            status += " Not read: " + "; ".join(html.escape(e) for e in errors)
        return gallery_items, "".join(bars), json.dumps(report, indent=1), status

    def frame(self, frame, times):
        """One webcam frame (RGB, from the browser) -> the annotated frame, a readout line, and the arrival
        times of the last frames (this browser tab's state: users do not share it)."""
        if frame is None:
            return None, "Waiting for the camera...", times
        start = time.perf_counter()
        bgr = np.ascontiguousarray(frame[..., 2::-1]) if frame.ndim == 3 else frame
        found = self.find(bgr, **LIVE)
        shown = self.outbox.put(faces.annotate(bgr, found))
        took = time.perf_counter() - start
        times = deque(times or [], maxlen=30)
        times.append(time.time())
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        return shown, f"{labels(found)} · {fps:.1f} frames/s · {took * 1000:.0f} ms per frame in the model", times


def for_display(annotated: np.ndarray) -> np.ndarray:
    """The annotated photo as the page shows it: at most ``DISPLAY_MAX_SIDE`` pixels on its longer side."""
    scale = DISPLAY_MAX_SIDE / max(annotated.shape[:2])
    if scale < 1:
        annotated = cv2.resize(annotated, (round(annotated.shape[1] * scale), round(annotated.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
    return annotated


def labels(found: list) -> str:
    """``"happy 80%, neutral 55%"``, or ``"no face found"``."""
    return ", ".join(f"{f.label} {f.confidence:.0%}" for f in found) or "no face found"


def caption(name: str, found: list) -> str:
    return f"{name}: {labels(found)}"


def bars_html(name: str, image: np.ndarray, found: list, predictor: faces.Predictor) -> str:
    """One card per face: the 48x48 crop the model saw and a bar per class (the top class in bold)."""
    if not found:
        return f"<p>{html.escape(name)}: no face found.</p>"
    cards = []
    for k, face in enumerate(found, 1):
        crop = faces.crop(image, face.box, predictor.margin, predictor.size)
        png = base64.b64encode(cv2.imencode(".png", crop)[1].tobytes()).decode()
        rows = "".join(
            f'<div class="bar{" top" if label == face.label else ""}"><span class="name">{html.escape(label)}'
            f'</span><span class="track"><div class="fill" style="width:{p:.1%}"></div></span>'
            f"<span>{p:.0%}</span></div>" for label, p in face.probabilities.items())
        cards.append(f'<div class="face"><img src="data:image/png;base64,{png}" alt="face {k}"><div>'
                     f"<b>{html.escape(name)}, face {k}: {html.escape(face.label)}</b>{rows}</div></div>")
    return f'<div class="bars">{"".join(cards)}</div>'


def about_markdown(predictor: faces.Predictor) -> str:
    """The About tab: the model's classes, scores and recipe from its ``.json``, and the model card's limits."""
    from helpers import shipped
    meta = shipped.metadata(predictor.path)
    lines = [f"### {predictor.path.name}", "",
             f"**Classes** (in output order): {', '.join(meta['labels'])}. **Input:** a face found by OpenCV's "
             f"Haar cascade, cropped with a {predictor.margin:.0%} margin, grey, {predictor.size}x{predictor.size}."]
    scores = meta.get("scores") or {}
    if scores:
        lines += ["", "| split | accuracy | macro-F1 | faces |", "|---|---|---|---|"]
        for split in ("public", "private"):
            s = scores.get(split)
            if s:
                lines.append(f"| {split} | {s['accuracy']:.1%} | {s['macro_f1']:.1%} | {s.get('n', '')} |")
        lines += ["", "Scores without test-time augmentation, as this app predicts. PublicTest chose the "
                      "checkpoint; PrivateTest is the final number."]
    recipe, hw = meta.get("recipe") or {}, meta.get("hardware") or {}
    if recipe:
        lines += ["", f"**Recipe:** `{recipe.get('name', '?')}` ({recipe.get('model', '?')}), "
                      f"{meta.get('epochs_run', '?')} epochs, {meta.get('train_wall_minutes', '?')} minutes on "
                      f"{hw.get('device', '?')}; made by `{meta.get('command', '?')}`."]
    tuned = meta.get("finetune")
    if tuned:
        lines[-1] += (f" Then fine-tuned on faces as the test sees them: epoch {tuned['chosen']} of "
                      f"{tuned['epochs']} kept, {tuned['seconds'] / 60:.0f} minutes; by `{tuned['command']}`.")
    lines += ["", limits_markdown()]
    return "\n".join(lines)


def limits_markdown() -> str:
    """The model card's "Intended use" and "Out of scope" sections (``models/README.md``)."""
    card = project_root() / "models" / "README.md"
    text = card.read_text(encoding="utf-8") if card.is_file() else ""
    keep, out = False, []
    for line in text.splitlines():
        if line.startswith("## "):
            keep = line[3:].strip() in ("Intended use", "Out of scope")
        if keep:
            out.append(line.replace("## ", "#### ", 1) if line.startswith("## ") else line)
    return "\n".join(out) or ("#### Out of scope\nInferring what a person feels, and any decision about a "
                              "person. The labels are annotators' judgements of how a face looks.")


def build(predictor: faces.Predictor | None = None, samples: dict | None = None) -> gr.Blocks:
    """The app's page (a ``gr.Blocks``): launch it with :func:`launch`."""
    app = App(predictor or faces.Predictor(), samples)
    keep = CACHE_MINUTES * 60
    with gr.Blocks(title="fer-workbook: facial expressions", analytics_enabled=False,
                   delete_cache=(keep, keep)) as demo:
        gr.Markdown("## Facial expression recognition\nA FER2013 model on the faces OpenCV finds. It labels how "
                    "a face *looks* to FER2013's annotators, not what anyone feels; see *About the model*.")
        with gr.Tab("Photos"):
            with gr.Row():
                files = gr.File(file_count="multiple", label="Photos", elem_id="photos-upload")
                with gr.Column():
                    go = gr.Button("Find faces", variant="primary", elem_id="find-faces")
                    pick = gr.Dropdown(list(app.samples), value=None, label="or a sample", elem_id="sample")
            status = gr.Markdown(elem_id="status")
            annotated = gr.Gallery(label="Faces found", columns=2, fit_columns=False, object_fit="contain",
                                   elem_id="annotated")
            bars = gr.HTML(elem_id="bars")
            with gr.Accordion("JSON (as python -m helpers.predict --json prints it)", open=False):
                report = gr.Code(language="json", interactive=False, elem_id="report")
            outputs = [annotated, bars, report, status]
            go.click(app.photos, files, outputs, api_name="photos", concurrency_id="model")
            pick.input(app.sample, pick, outputs, api_name="sample", concurrency_id="model")
        with gr.Tab("Webcam"):
            gr.Markdown("Allow the browser to use the camera, then press the camera's record button. Frames "
                        "stay on this computer (or the server you opened this page from).")
            times = gr.State()
            with gr.Row():
                camera = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="camera",
                                  webcam_options=gr.WebcamOptions(mirror=True, constraints=CAMERA),
                                  elem_id="camera")
                live = gr.Image(label="faces found", format="jpeg", elem_id="live")
            readout = gr.Markdown(elem_id="readout")
            camera.stream(app.frame, [camera, times], [live, readout, times], api_name="frame",
                          stream_every=0.05, concurrency_id="model", show_progress="hidden")
        with gr.Tab("About the model"):
            gr.Markdown(about_markdown(app.predictor), elem_id="about")
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860, **kwargs):
    """Serve the page: local scripts and fonts, no share link, uploads capped at ``MAX_UPLOAD``."""
    kwargs.setdefault("quiet", False)
    return demo.launch(server_name=host, server_port=port, share=False, max_file_size=MAX_UPLOAD,
                       show_error=True, ssr_mode=False, mcp_server=False, css=CSS, footer_links=[], **kwargs)


def network_address() -> str | None:
    """This computer's IPv4 address on its network (the one its default route leaves by), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))          # UDP: sends nothing, only picks the route (a documentation address)
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.app", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="a .keras model with its .json (default: the shipped one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only; 0.0.0.0: everyone "
                             "who can reach it)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--ssl-certfile", metavar="CERT", help="serve over HTTPS with this certificate (PEM), so "
                        "that browsers on other computers give the Webcam tab their camera")
    parser.add_argument("--ssl-keyfile", metavar="KEY", help="the certificate's private key (PEM)")
    args = parser.parse_args(argv)
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        parser.error("--ssl-certfile and --ssl-keyfile go together")
    https = {}
    if args.ssl_certfile:
        for path in (args.ssl_certfile, args.ssl_keyfile):
            if not Path(path).is_file():
                print(f"error: {path}: no such file", file=sys.stderr)
                return 2
        try:        # here, not in the server's thread, where a bad pair reads as "port in use" after 5 s
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
                args.ssl_certfile, args.ssl_keyfile, password=lambda: "")     # never a pass phrase prompt
        except ssl.SSLError as err:
            print(f"error: {args.ssl_certfile} and {args.ssl_keyfile} are not a PEM certificate and its "
                  f"unencrypted key: {err}", file=sys.stderr)
            return 2
        # ssl_verify=False: Gradio's own check of the page at start-up would refuse a self-signed certificate
        https = dict(ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile, ssl_verify=False)
    try:
        demo = build(faces.Predictor(args.model))
    except FERDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"note: listening on {args.host}: anyone who can reach this computer can use the app (no login)",
              file=sys.stderr)
        if not https:
            print("note: browsers on other computers give the Webcam tab no camera over plain HTTP: use "
                  "--ssl-certfile and --ssl-keyfile, or ssh -L (python -m helpers.app --help)", file=sys.stderr)
    try:
        _, url, _ = launch(demo, args.host, args.port, quiet=True, prevent_thread_lock=True, **https)
    except OSError:
        print(f"error: cannot listen on {args.host}:{args.port}: the port is in use, or the address is not one "
              f"of this computer's; try --port {args.port + 1}", file=sys.stderr)
        return 2
    print(f"The app is at {url} (Ctrl-C stops it)", flush=True)
    address = network_address() if args.host in ("0.0.0.0", "::") else None
    if address:
        print(f"Other computers: {'https' if https else 'http'}://{address}:{args.port}/ (where the network lets "
              f"them reach this one)", flush=True)
    demo.block_thread()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
