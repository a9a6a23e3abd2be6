"""Publish a run's executed notebooks as Markdown with their figures, so results can be read without running.

    python -m helpers.run --out runs/fer2013              # a full run on FER2013 (21-37 min on 2 cores: README)
    python -m helpers.publish runs/fer2013                # -> docs/notebooks/NN_*.md + figures

A run on the demo set publishes only its wall times. Every run time the README and the notebooks' headers
quote sits between ``<!--rt:KIND/WHAT-->`` and ``<!--/rt-->`` markers and is written from
``docs/runtimes.json`` (what the runner measured), so there is one source for them; a test checks it.

Each published copy starts with where it came from (data, date, wall time) and a fingerprint of its
notebook's code; ``tests/test_publish.py`` fails when a notebook's code has changed since it was published,
so the published copies never drift from the notebooks. The prose comes from the notebook as it is now
(markdown is not something a run produces), so a corrected sentence needs no re-run. Long printed output is
cut to its first and last lines; figures are the PNGs the notebook showed. A few figures also go to ``docs/figures/`` for the README.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import nbformat

from helpers.data import project_root, without_machine_paths
from helpers.files import write_text

MAX_LINES = 40                 # printed output longer than this is cut in the middle
README_FIGURES = {             # docs/figures/<name>.png <- figures/<notebook>/<figure>.png of the run
    "samples_per_class": ("01_data_and_balancing", "samples_per_class"),
    "confusion": ("05_evaluation_and_saliency", "confusion"),
    "saliency_bands": ("05_evaluation_and_saliency", "face_bands"),
    "photos": ("06_faces_in_the_wild", "photos"),
}
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _run_cells(nb: nbformat.NotebookNode) -> list:
    """A notebook's cells less papermill's injected-parameters cell."""
    return [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]


def code_fingerprint(nb: nbformat.NotebookNode) -> str:
    """A short hash of a notebook's code cells (papermill's injected-parameters cell left out)."""
    code = [c.source for c in _run_cells(nb) if c.cell_type == "code"]
    return hashlib.sha1("\n\0\n".join(code).encode()).hexdigest()[:16]


def _current_prose(executed: nbformat.NotebookNode, source: Path) -> nbformat.NotebookNode:
    """``executed`` with its markdown cells replaced, one for one, by those of the notebook at ``source`` as it
    is now, when both have the same code and the same cells in the same order (else unchanged: the tests on
    fingerprints and prose then ask for a new run)."""
    current, ran = _run_cells(nbformat.read(source, as_version=4)), _run_cells(executed)
    same = [c.cell_type for c in current] == [c.cell_type for c in ran] and all(
        a.source == b.source for a, b in zip(current, ran) if a.cell_type == "code")
    if same:
        for now, cell in zip(current, ran):
            cell.source = now.source
    return executed


def _shorten(text: str) -> str:
    lines = ANSI.sub("", text).splitlines()
    if len(lines) <= MAX_LINES:
        return "\n".join(lines) + "\n"
    half = MAX_LINES // 2
    return "\n".join(lines[:half] + [f"... ({len(lines) - MAX_LINES} lines cut) ..."] + lines[-half:]) + "\n"


def _tidy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Printed output shortened, stripped of terminal colours and of the machine's absolute paths; widgets
    (which need a live kernel) dropped."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                out.text = without_machine_paths(_shorten(out.text))
            elif out.output_type == "error":
                out.traceback = [without_machine_paths(ANSI.sub("", line)) for line in out.traceback]
            elif "application/vnd.jupyter.widget-view+json" in out.get("data", {}):
                continue
            for kind in ("text/plain", "text/html", "text/markdown"):
                if kind in out.get("data", {}):
                    out.data[kind] = without_machine_paths(out.data[kind])
            kept.append(out)
        cell.outputs = kept
    return nb


def _portable(value):
    """A summary's values with the machine's absolute paths cut (see ``data.without_machine_paths``)."""
    if isinstance(value, str):
        return without_machine_paths(value)
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_portable(v) for v in value]
    return value


def publish(run_dir: str | Path, out: str | Path | None = None) -> list[Path]:
    """Write every executed notebook of ``run_dir`` as Markdown (and its figures) into ``out`` (default
    ``docs/notebooks``), and the README's figures into ``docs/figures``; returns the Markdown files."""
    from nbconvert import MarkdownExporter
    run_dir = Path(run_dir)
    out = Path(out or project_root() / "docs" / "notebooks")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    entries = {e["name"]: e for e in summary["notebooks"]}
    if not entries or any(e["status"] != "ok" for e in entries.values()):
        raise SystemExit(f"{run_dir}: publish only a run whose notebooks all finished (see summary.json)")
    if summary.get("demo") or summary.get("fast"):
        raise SystemExit(f"{run_dir}: a run on the demo set or in FAST_MODE; publish a full run on real data")
    written = []
    for name, entry in entries.items():
        nb = _current_prose(nbformat.read(run_dir / f"{name}.ipynb", as_version=4),
                            project_root() / "notebooks" / f"{name}.ipynb")
        body, resources = MarkdownExporter().from_notebook_node(_tidy(nb), {"output_files_dir": f"{name}_files"})
        files_dir = out / f"{name}_files"
        shutil.rmtree(files_dir, ignore_errors=True)
        for rel, data in resources.get("outputs", {}).items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
        header = (f"<!-- published by python -m helpers.publish; code fingerprint {code_fingerprint(nb)} -->\n"
                  f"*Executed copy of [`notebooks/{name}.ipynb`](../../notebooks/{name}.ipynb): run of "
                  f"{summary['started'][:10]} on {without_machine_paths(summary['data'])} "
                  f"({'FAST_MODE' if summary['fast'] else 'full'}), {entry['seconds']:.0f} s on "
                  f"{summary.get('machine', 'a 2-core CPU')}.*\n\n")
        written.append(write_text(out / f"{name}.md", header + body))
    write_text(out / "summary.json", json.dumps(_portable(summary), indent=1))     # the figures tests compare
    update_runtime_text(record_runtimes(summary))
    for target, (notebook, figure) in README_FIGURES.items():
        source = run_dir / "figures" / notebook / f"{figure}.png"
        if source.exists():
            _thumbnail(source, project_root() / "docs" / "figures" / f"{target}.png")
    return written


RUNTIMES = "docs/runtimes.json"
RUNTIME_MARK = re.compile(r"<!--rt:(\w+)/(\w+)-->(.*?)<!--/rt-->", re.S)


def record_runtimes(summary: dict) -> dict:
    """Store a run's wall times in ``docs/runtimes.json`` under ``fer2013`` (a full run on real data) or
    ``demo`` (the demo set, always at FAST_MODE size); returns every recorded kind."""
    kind = "demo" if summary.get("demo") else "fer2013"
    path = project_root() / RUNTIMES
    runtimes = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    runtimes[kind] = {"date": summary["started"][:10], "machine": summary.get("machine", "unknown"),
                      "total": summary["seconds"],
                      "notebooks": {nb["name"]: nb["seconds"] for nb in summary["notebooks"]}}
    if summary.get("peak_memory_mb"):                            # runs from before the runner measured it: none
        from helpers.run import most_memory
        largest = most_memory(summary["notebooks"])["name"]
        runtimes[kind]["memory"] = {"peak_mb": summary["peak_memory_mb"], "notebook": largest}
    write_text(path, json.dumps(runtimes, indent=1) + "\n")
    return runtimes


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 600 else f"{seconds / 60:.0f} min"


def runtime_text(kind: str, what: str, runtimes: dict) -> str:
    """What a ``<!--rt:KIND/WHAT-->`` marker shows: a notebook's or the whole run's (``total``) wall time,
    ``when`` (machine and date) of the ``fer2013`` or ``demo`` run, or ``memory`` (the most one notebook's
    processes held at once, and which notebook); ``not measured yet`` for a notebook newer than the last
    such run, or a run from before the runner measured memory."""
    run = runtimes[kind]
    if what == "when":
        return f"{run['machine'].replace('(R)', '')}, {run['date']}"
    if what == "memory":
        memory = run.get("memory")
        return f"{memory['peak_mb'] / 1024:.1f} GB ({memory['notebook']})" if memory else "not measured yet"
    if what != "total" and what not in run["notebooks"]:
        return "not measured yet"
    return _duration(run["total"] if what == "total" else run["notebooks"][what])


def _render(text: str, runtimes: dict) -> str:
    return RUNTIME_MARK.sub(lambda m: f"<!--rt:{m[1]}/{m[2]}-->{runtime_text(m[1], m[2], runtimes)}<!--/rt-->",
                            text)


def runtime_documents() -> list[Path]:
    """The files whose run times come from ``docs/runtimes.json``: the README, every notebook and every
    published copy."""
    from helpers.run import notebooks
    return [project_root() / "README.md", *notebooks(), *sorted((project_root() / "docs" / "notebooks").glob("*.md"))]


def update_runtime_text(runtimes: dict | None = None) -> list[Path]:
    """Rewrite every run-time marker in the README, the notebooks and their published copies from
    ``docs/runtimes.json``; returns the files that changed (a notebook's code, and so its fingerprint, is untouched: markers sit in markdown)."""
    runtimes = runtimes or json.loads((project_root() / RUNTIMES).read_text(encoding="utf-8"))
    changed = []
    for path in runtime_documents():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            nb = nbformat.reads(text, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "markdown":
                    cell.source = _render(cell.source, runtimes)
            new = nbformat.writes(nb) + "\n"
        else:
            new = _render(text, runtimes)
        if new != text:
            write_text(path, new)
            changed.append(path)
    return changed


def stale_runtime_text() -> dict:
    """``{file: [marker, ...]}`` for every run-time marker that does not show what ``docs/runtimes.json``
    says (empty when everything agrees)."""
    runtimes = json.loads((project_root() / RUNTIMES).read_text(encoding="utf-8"))
    stale = {}
    for path in runtime_documents():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            text = "\n".join(c.source for c in nbformat.reads(text, as_version=4).cells if c.cell_type == "markdown")
        wrong = [m[0] for m in RUNTIME_MARK.finditer(text) if m[3] != runtime_text(m[1], m[2], runtimes)]
        if wrong:
            stale[path.name] = wrong
    return stale


def _thumbnail(source: Path, target: Path, width: int = 600) -> None:
    """A copy of a figure at most ``width`` pixels wide in 256 colours, for the README's strip of figures."""
    from PIL import Image                                   # Pillow comes with matplotlib
    with Image.open(source) as image:
        image = image.convert("RGB")
        image.thumbnail((width, 10 * width), Image.Resampling.LANCZOS)
        target.parent.mkdir(parents=True, exist_ok=True)
        image.quantize(256).save(target, optimize=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.publish", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", help="a run folder of python -m helpers.run, on real data, all notebooks ok")
    parser.add_argument("--out", default=None, help="default: docs/notebooks")
    args = parser.parse_args(argv)
    summary = json.loads((Path(args.run_dir) / "summary.json").read_text(encoding="utf-8"))
    if summary.get("demo"):                              # a demo run: record its wall times, nothing else
        if any(nb["status"] != "ok" for nb in summary["notebooks"]):
            raise SystemExit(f"{args.run_dir}: record the times of a run whose notebooks all finished")
        for path in update_runtime_text(record_runtimes(summary)):
            print(f"run times updated: {path}")
        return 0
    for path in publish(args.run_dir, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
