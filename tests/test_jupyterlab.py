"""The README's "open the workbook with .venv/bin/jupyter lab", as a student meets it: JupyterLab in headless
Chromium runs notebook 06 with Run All, and its widget, which the headless runner skips, answers a sample
chosen, and a file that is not a photo. Started with the option docs/commands.md gives, its kernels are
encrypted and still run code."""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import free_port
from helpers import browser
from helpers.data import project_root

NOTEBOOK = "06_faces_in_the_wild.ipynb"
TOKEN = "workbook-test"


@contextlib.contextmanager
def jupyterlab(tmp_path, *options):
    """A JupyterLab server of this Python over ``tmp_path`` (autosave never writes into the project), with its
    own settings and workspace, started with ``options`` too; yields ``(port, api)``, ``api(path, post=None)``
    reading the server's REST API (a POST where ``post`` is given). Its log is ``tmp_path / "server.log"``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "FER_RUNNER"}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--allow-root",
             f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={tmp_path}",
             f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", "--LabApp.news_url=None", *options],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)

    def api(path, post=None):
        data = None if post is None else json.dumps(post).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?token={TOKEN}", data, timeout=10) as answer:
            return json.load(answer)

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                api("/api/status")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
                time.sleep(0.5)
        yield port, api
    finally:
        server.terminate()
        server.wait(30)


@pytest.fixture
def lab(tmp_path):
    """JupyterLab as the README starts it, over a copy of notebook 06; yields ``(url, api)``."""
    (tmp_path / "notebooks").mkdir()
    shutil.copy(project_root() / "notebooks" / NOTEBOOK, tmp_path / "notebooks")
    with jupyterlab(tmp_path) as (port, api):
        yield f"http://127.0.0.1:{port}", api


def kernel_state(api) -> str:
    return next(s["kernel"]["execution_state"] for s in api("/api/sessions") if s["path"].endswith(NOTEBOOK))


def wait_until_idle(api, seconds: float, busy_first: bool = False) -> None:
    """Until the notebook's kernel has been idle for 5 s (after having been busy, with ``busy_first``)."""
    deadline, idle_since, was_busy = time.monotonic() + seconds, None, not busy_first
    while time.monotonic() < deadline:
        try:
            state = kernel_state(api)
        except StopIteration:                   # no session yet: the notebook is still opening
            state = "starting"
        was_busy |= state == "busy"
        idle_since = (idle_since or time.monotonic()) if state == "idle" and was_busy else None
        if idle_since and time.monotonic() - idle_since > 5:
            return
        time.sleep(0.5)
    raise AssertionError(f"the kernel was not done in {seconds:.0f} s")


@pytest.mark.skipif(not browser.CHROMIUM and not os.environ.get("FER_REQUIRE_BROWSER"),
                    reason="needs Chromium (Debian: apt-get install chromium); .ci/run installs it")
def test_notebook_06_runs_in_jupyterlab_and_its_widget_answers(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright
    assert browser.CHROMIUM, "FER_REQUIRE_BROWSER is set but no chromium is installed"
    url, api = lab
    with sync_playwright() as p:
        chromium = browser.launch(p)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/lab/tree/notebooks/{NOTEBOOK}?token={TOKEN}")
        page.wait_for_selector(".jp-Notebook", timeout=120_000)
        wait_until_idle(api, 300)                                          # the kernel has started
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
        page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
        wait_until_idle(api, 600, busy_first=True)

        errors = page.locator("[data-mime-type='application/vnd.jupyter.error']")
        assert errors.count() == 0, errors.first.inner_text()[-2000:]
        widget = page.locator(".widget-vbox")
        expect(widget).to_have_count(1, timeout=30_000)
        figure = widget.locator("img")
        expect(figure).to_have_count(1, timeout=30_000)                    # the astronaut, labelled
        astronaut = figure.get_attribute("src")

        widget.locator("select").select_option(label="coffee")
        expect(figure).not_to_have_attribute("src", astronaut, timeout=60_000)

        (tmp_path / "notes.jpg").write_text("not a photo\n")
        with page.expect_file_chooser() as chooser:
            widget.locator(".widget-upload").click()
        chooser.value.set_files(tmp_path / "notes.jpg")
        expect(widget).to_contain_text("notes.jpg: not an image OpenCV can read", timeout=60_000)
        chromium.close()


def execute(port: int, kernel_id: str, code: str) -> str:
    """Run ``code`` in a JupyterLab server's kernel over its websocket, as the browser does; its result's text."""
    import asyncio
    from datetime import datetime, timezone
    from uuid import uuid4

    from tornado.websocket import websocket_connect

    async def ask():
        socket = await websocket_connect(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={TOKEN}")
        msg_id = uuid4().hex
        await socket.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid4().hex,
                       "version": "5.3", "date": datetime.now(timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False}}))
        while True:
            msg = json.loads(await socket.read_message())
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] in ("execute_result", "error"):
                socket.close()
                return msg["content"].get("data", {}).get("text/plain", msg["content"].get("evalue"))

    return asyncio.run(asyncio.wait_for(ask(), 120))


def test_jupyterlab_encrypts_its_kernels_where_the_docs_say(tmp_path):
    """docs/commands.md's answer to ipykernel's "running over TCP without encryption" warning: the option it
    gives starts JupyterLab with encrypted kernels, which run code, and the warning is gone."""
    option = re.search(r"`\.venv/bin/jupyter lab (--KernelManager\.transport_encryption=\w+)`",
                       (project_root() / "docs" / "commands.md").read_text()).group(1)
    with jupyterlab(tmp_path, option) as (port, api):
        kernel = api("/api/kernels", post={"name": "python3"})
        assert execute(port, kernel["id"], "6 * 7") == "42"
    log = (tmp_path / "server.log").read_text()
    assert "Kernel is running over TCP" not in log and "Traceback" not in log, log[-3000:]
