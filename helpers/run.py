"""Execute the workbook's notebooks in order with papermill.

    python -m helpers.run                  # every notebook, on the data found (the demo set otherwise)
    python -m helpers.run --fast           # small subset and few epochs: CI and a first look
    python -m helpers.run --only 00 01     # some notebooks (by number or name)
    python -m helpers.run --data PATH      # a dataset folder or CSV (default: $FER_DATA, then data/)
    python -m helpers.run --out DIR        # where to write (default: runs/<timestamp>/)
    python -m helpers.run --out DIR --resume    # go on with an interrupted run: finished notebooks are kept

Executed copies of the notebooks, their figures and metrics go into the run folder, with ``summary.json``:
each notebook's status, wall time and the metrics it recorded, and ``runner.log``: everything the notebooks
printed, and the kernels' own messages. Without real data the notebooks run on generated demo faces at
FAST_MODE size (a few minutes), and the runner says so. The run stops at the first failing notebook and
prints the failing cell's error; the exit status is then 1. Ctrl-C stops it cleanly (exit status 130).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import psutil

from helpers import FERDataError, machine
from helpers.data import demo_asked, find_data, misplaced_data, project_root
from helpers.files import write_text

CELL_TIMEOUT = 1800      # seconds: a cell that hangs fails the run instead of blocking CI forever
DEMO_BANNER = ("DEMO DATA: no dataset found (no --data, $FER_DATA unset, no data/fer2013/ or data/fer2013.csv), "
               "so the notebooks\nrun on generated cartoon faces at FAST_MODE size. They show the mechanics; the "
               "numbers are not FER2013 results.\nTo use FER2013, see the README, 'Getting FER2013'.")
DEMO_ASKED = ("DEMO DATA, as asked ({how} is 'demo'): the notebooks run on generated cartoon faces at FAST_MODE "
              "size.\nThey show the mechanics; the numbers are not FER2013 results.\nTo use FER2013, see the "
              "README, 'Getting FER2013'.")


def demo_banner(asked_as: str | None = None) -> str:
    """What the run says of the demo set: ``DEMO_ASKED`` when it was asked for by name (``asked_as``: how,
    from ``data.demo_asked``), else ``DEMO_BANNER`` and what in ``data/`` looks like FER2013 put where it is
    not looked for, with the fix."""
    if asked_as:
        return DEMO_ASKED.format(how=asked_as)
    return DEMO_BANNER + "".join(f"\nIn data/ but not where it is looked for: {hint}" for hint in misplaced_data())


def data_line(found: Path, given: str | None) -> str:
    """Which dataset the run reads and how it was found: ``--data``, ``$FER_DATA`` or the project's ``data/``
    (a ``$FER_DATA`` left set from another project would otherwise go unnoticed)."""
    how = "--data" if given else "$FER_DATA" if os.environ.get("FER_DATA") else "the project's data/"
    return f"Data: {found.absolute()} (from {how})"


def notebooks(only=None) -> list[Path]:
    """The numbered notebooks (``notebooks/NN_*.ipynb``), optionally only those whose name starts with one
    of ``only`` (``'02'``, ``'02_cnn'`` ...)."""
    found = sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        chosen = [nb for nb in found if any(nb.stem.startswith(o) for o in only)]
        if not chosen:
            raise SystemExit(f"no notebook matches {only}; available: {[nb.stem for nb in found]}")
        return chosen
    return found


class Progress:
    """One notebook's progress: which code cell runs (i of n), the elapsed time, and the last ``Epoch i/n``
    that Keras printed. In a terminal it is a progress bar updated in place; elsewhere (a CI log, ``nohup``, a
    file) it prints one plain line whenever the cell or the training epoch changes, so the log reads line by
    line. It is also papermill's sink for the cells' printed output, which it copies into the run's log."""

    EPOCH = re.compile(r"Epoch (\d+)/(\d+)")

    def __init__(self, label: str, log, live: bool | None = None):
        self.label, self.log, self.code_cells, self.cell, self.epoch = label, log, [], None, ""
        self.start, self.bar = time.perf_counter(), None
        if sys.stderr.isatty() if live is None else live:
            from tqdm.auto import tqdm
            self.bar = tqdm(total=1, desc=label, unit="cell", leave=False, file=sys.stderr,
                            bar_format="{desc}: cell {n_fmt} of {total_fmt} [{elapsed}]{postfix}")

    def status(self) -> str:
        """Where the notebook is, as one log line (the bar shows the same)."""
        minutes, seconds = divmod(int(time.perf_counter() - self.start), 60)
        epoch = f", training epoch {self.epoch}" if self.epoch else ""
        cells = f"cell {self.cell or 0} of {len(self.code_cells)}"
        return f"{self.label}: {cells} [{minutes:02d}:{seconds:02d}]{epoch}"

    def _show(self):
        if self.bar is not None:
            self.bar.total, self.bar.n = len(self.code_cells), self.cell or 0
            self.bar.set_postfix_str(f"training epoch {self.epoch}" if self.epoch else "")
        else:
            self._say(self.status())

    def _say(self, line: str):
        """A line of its own on stderr (above the bar, in a terminal)."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def on_notebook_start(self, notebook, **_):
        self.code_cells = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        if self.bar is not None:
            self._show()

    def on_cell_start(self, cell, cell_index, **_):
        if cell_index in self.code_cells:
            self.cell, self.epoch = self.code_cells.index(cell_index) + 1, ""
            self._show()

    def write(self, text: str):
        self.log.write(text)
        for line in text.splitlines():
            if line.startswith("Resuming"):                # fit() resuming an interrupted training: say so
                self._say(f"  {line}")
        epochs = self.EPOCH.findall(text)
        if epochs and self.cell and "/".join(epochs[-1]) != self.epoch:
            self.epoch = "/".join(epochs[-1])
            self._show()

    def flush(self):
        self.log.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()


class PeakMemory:
    """The most memory this process's children (a notebook's kernel and whatever it starts) held at once: their
    resident memory summed, sampled every ``interval`` seconds in a background thread. ``with PeakMemory() as
    m: ...``, then ``m.peak`` in bytes. ``proportional=True`` sums proportional set sizes instead (Linux), each
    page shared between the children counted once: slower to read, but right for many processes sharing
    libraries (Chromium's, or several Python processes that import TensorFlow)."""

    def __init__(self, interval: float = 0.5, proportional: bool = False):
        self.peak, self.interval, self._stop = 0, interval, threading.Event()
        self._held = (lambda p: p.memory_full_info().pss) if proportional else (lambda p: p.memory_info().rss)
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _sample(self):
        me = psutil.Process()
        while True:
            held = 0
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):            # a process may end between list and read
                    held += self._held(child)
            self.peak = max(self.peak, held)
            if self._stop.wait(self.interval):
                return


def most_memory(entries: list[dict]) -> dict | None:
    """Of a run's notebook entries, the one whose processes held the most memory (None: none measured)."""
    return max((e for e in entries if e.get("peak_memory_mb")), key=lambda e: e["peak_memory_mb"], default=None)


def kernel_config():
    """Papermill's configuration for the kernels: the runner talks to each over local TCP, encrypted with
    CurveZMQ keys where jupyter_client and pyzmq can (ipykernel 7 warns in the log when it is not)."""
    import zmq
    from jupyter_client import KernelManager
    from traitlets.config import Config
    if "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve"):
        return Config(KernelManager={"transport_encryption": "auto"})
    return Config()


def execute(nb: Path, out_dir: Path, parameters: dict, label: str, log) -> dict:
    """Run one notebook with papermill; returns ``{name, status, seconds, peak_memory_mb, metrics, error}``
    (``peak_memory_mb``: the most its kernel and the kernel's own processes held at once). Status is
    ``'ok'``, ``'failed'`` or ``'interrupted'`` (Ctrl-C: the KeyboardInterrupt is raised again after the
    entry and the partial notebook are written)."""
    import papermill as pm
    start = time.perf_counter()
    entry = {"name": nb.stem, "status": "ok", "error": None}
    progress = Progress(label, log)
    interrupted = False
    log.write(f"\n===== {nb.name} =====\n")
    memory = PeakMemory()
    try:
        with memory:
            pm.execute_notebook(str(nb), str(out_dir / nb.name), parameters=parameters, kernel_name="python3",
                                cwd=str(nb.parent), progress_bar=False, log_output=False,
                                execution_timeout=CELL_TIMEOUT, stdout_file=progress, stderr_file=progress,
                                on_notebook_start=progress.on_notebook_start,
                                on_cell_start=progress.on_cell_start, config=kernel_config())
    except pm.PapermillExecutionError as err:
        entry.update(status="failed", error=f"cell {err.exec_count}: {err.ename}: {err.evalue}")
    except KeyboardInterrupt:
        # the kernel is shut down mid-cell: nbclient's pending task then ends with "Kernel died", which asyncio
        # would print as a traceback when it is garbage-collected; the interruption is reported below instead
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        interrupted = True
        entry.update(status="interrupted", error=f"interrupted (Ctrl-C) in code cell {progress.cell} of "
                                                 f"{len(progress.code_cells)}")
        _mark_unfinished(out_dir / nb.name)
    except Exception as err:                                  # kernel died, notebook unreadable, ...
        entry.update(status="failed", error=f"{type(err).__name__}: {err}")
    finally:
        progress.close()
    entry["seconds"] = round(time.perf_counter() - start, 1)
    entry["peak_memory_mb"] = round(memory.peak / 2**20)
    metrics_file = out_dir / "metrics" / f"{nb.stem}.json"
    entry["metrics"] = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.exists() else {}
    if interrupted:
        entry["resume"] = True
    return entry


def _mark_unfinished(executed: Path) -> None:
    """After an interruption papermill marks every cell it never reached 'completed': mark the cell that was
    running 'interrupted' and the ones after it 'pending', so that the partial copy tells the truth."""
    import nbformat
    if not executed.exists():
        return
    nb = nbformat.read(executed, as_version=4)
    statuses = [c.metadata.get("papermill", {}).get("status") for c in nb.cells]
    stop = statuses.index("running") if "running" in statuses else next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count") is None),
        len(nb.cells))
    for i, cell in enumerate(nb.cells[stop:], stop):
        cell.metadata.setdefault("papermill", {})["status"] = "interrupted" if i == stop else "pending"
    nb.metadata.setdefault("papermill", {})["interrupted"] = True
    write_text(executed, nbformat.writes(nb))


@contextlib.contextmanager
def kernel_stderr_to(log_path: Path):
    """Kernels inherit the runner's standard error: point it at ``log_path`` while they run, so that their
    start-up messages land in the run's log instead of the terminal; the runner keeps writing to the
    terminal through a copy of the original descriptor."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_path, "ab", buffering=0) as log:
        os.dup2(log.fileno(), 2)
    terminal, sys.stderr = sys.stderr, os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr = terminal


def resume_command(args, out_dir: Path) -> str:
    """The command that goes on with this run: the same options, ``--out`` this run's folder, ``--resume``."""
    words = ["python -m helpers.run"]
    words += ["--fast"] if args.fast else []
    words += ["--data", args.data] if args.data else []
    words += ["--only", *args.only] if args.only else []
    words += ["--seed", str(args.seed)] if args.seed is not None else []
    words += ["--max-bad-fraction", str(args.max_bad_fraction)] if args.max_bad_fraction is not None else []
    return " ".join([*words, "--out", str(out_dir), "--resume"])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m helpers.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="FAST_MODE: small subset, few epochs")
    parser.add_argument("--data", help="dataset path (folder or CSV), or 'demo'")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks (e.g. 00 02)")
    parser.add_argument("--out", help="run folder (default: runs/<timestamp>)")
    parser.add_argument("--resume", action="store_true",
                        help="go on with the interrupted run in --out: keep its finished notebooks, run the rest "
                             "(an interrupted training resumes from its last finished epoch)")
    parser.add_argument("--seed", type=int, default=None, help="override every notebook's SEED")
    parser.add_argument("--max-bad-fraction", type=float, default=None, metavar="F",
                        help="accept up to this share of unreadable images/rows (skipped and counted; "
                             "default 0.01)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:                                                   # a bad path fails now, not after a kernel started
        project_root()                                     # helpers copied out of the workbook (no -e) finds nothing
        found = find_data(args.data, given_as="--data")
    except FERDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    demo = found is None
    asked = demo_asked(args.data, given_as="--data") if demo else None
    if args.resume and not args.out:
        print("error: --resume needs --out, the folder of the run to go on with", file=sys.stderr)
        return 2
    out_dir = Path(args.out or project_root() / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S"))
    previous = out_dir / "summary.json"
    if previous.exists() and not args.resume:
        print(f"error: {out_dir} already holds a run ({previous.name}). Go on with it: add --resume; "
              f"or start afresh in another --out folder (or delete this one).", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FER_RUN_DIR"] = str(out_dir.resolve())
    os.environ["FER_RUNNER"] = "1"          # record.under_runner: widgets and the inline app are skipped
    if args.data:
        os.environ["FER_DATA"] = "demo" if demo else str(found.resolve())
    # the kernel must be this Python (the one with the helpers installed), whatever PATH says
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    parameters = {"FAST_MODE": bool(args.fast)}
    if args.seed is not None:
        parameters["SEED"] = args.seed
    if args.max_bad_fraction is not None:
        parameters["MAX_BAD_FRACTION"] = args.max_bad_fraction

    todo = notebooks(args.only)
    done = {}
    if args.resume and previous.exists():
        previous_run = json.loads(previous.read_text(encoding="utf-8"))
        done = {e["name"]: e for e in previous_run["notebooks"] if e["status"] == "ok"}
        print(f"Resuming the run in {out_dir}: keeping {', '.join(done) or 'no notebook'}; running "
              f"{', '.join(nb.stem for nb in todo if nb.stem not in done) or 'nothing'}.")
    print(demo_banner(asked) if demo else data_line(found, args.data))
    summary = {"started": datetime.now().isoformat(timespec="seconds"), "fast": bool(args.fast) or demo,
               "demo": demo, "data": "demo" if demo else str(found), "machine": machine.describe(),
               "python": sys.version.split()[0], "notebooks": []}
    status = 0
    log_path = out_dir / "runner.log"
    print(f"Running {len(todo)} notebook(s) into {out_dir} (printed output: {log_path.name})")
    with kernel_stderr_to(log_path), open(log_path, "a", buffering=1, encoding="utf-8") as log:
        for i, nb in enumerate(todo, 1):
            if nb.stem in done:
                summary["notebooks"].append(done[nb.stem])
                print(f"  kept  {nb.stem} (finished before)", file=sys.stderr)
                continue
            try:
                entry = execute(nb, out_dir, parameters, f"[{i}/{len(todo)}] {nb.stem}", log)
            except KeyboardInterrupt:                          # a second Ctrl-C while cleaning up
                entry = {"name": nb.stem, "status": "interrupted", "error": "interrupted (Ctrl-C)",
                         "seconds": 0, "metrics": {}}
            summary["notebooks"].append(entry)
            write_text(out_dir / "summary.json", json.dumps(summary, indent=1))
            print(f"{entry['status']:>6}  {nb.stem}  {entry['seconds']:.0f} s", file=sys.stderr)
            if entry["status"] == "interrupted":
                finished = [e["name"] for e in summary["notebooks"] if e["status"] == "ok"]
                print(f"Interrupted in {nb.stem} ({entry['error'].split('in ', 1)[-1]}); finished: "
                      f"{', '.join(finished) or 'none'}. Partial results: {out_dir}. Resume with: "
                      f"{resume_command(args, out_dir)}", file=sys.stderr)
                status = 130
                break
            if entry["status"] != "ok":
                print(f"\n{nb.name} failed: {entry['error']}\n(executed copy: {out_dir / nb.name}; "
                      f"printed output and kernel messages: {log_path})", file=sys.stderr)
                status = 1
                break
    summary["seconds"] = round(sum(e["seconds"] for e in summary["notebooks"]), 1)
    largest = most_memory(summary["notebooks"])
    summary["peak_memory_mb"] = largest["peak_memory_mb"] if largest else None
    write_text(out_dir / "summary.json", json.dumps(summary, indent=1))
    memory = f", at most {largest['peak_memory_mb'] / 1024:.1f} GB of memory ({largest['name']})" if largest else ""
    print(f"Summary: {out_dir / 'summary.json'} ({summary['seconds']:.0f} s of notebooks{memory})")
    if demo:
        print(demo_banner(asked))
    return status


if __name__ == "__main__":
    sys.exit(main())
