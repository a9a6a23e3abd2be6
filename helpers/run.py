"""Execute the workbook's notebooks in order with papermill.

    python -m helpers.run                  # every notebook, on the data found (the demo set otherwise)
    python -m helpers.run --fast           # small subset and few epochs: CI and a first look
    python -m helpers.run --only 00 01     # some notebooks (by number or name)
    python -m helpers.run --data PATH      # a dataset folder or CSV (default: $FER_DATA, then data/)
    python -m helpers.run --out DIR        # where to write (default: runs/<timestamp>/)

Executed copies of the notebooks, their figures and metrics go into the run folder, with ``summary.json``:
each notebook's status, wall time and the metrics it recorded. The run stops at the first failing notebook
and prints the failing cell's error; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path

from helpers.data import project_root


CELL_TIMEOUT = 1800      # seconds: a cell that hangs fails the run instead of blocking CI forever


def notebooks(only=None) -> list[Path]:
    """The numbered notebooks (``notebooks/NN_*.ipynb``), optionally only those whose name starts with one
    of ``only`` (``'02'``, ``'02_cnn'`` ...)."""
    found = sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [nb for nb in found if any(nb.stem.startswith(o) for o in only)]
        if not found:
            raise SystemExit(f"no notebook matches {only}; available: "
                             f"{[nb.stem for nb in sorted((project_root() / 'notebooks').glob('[0-9][0-9]_*.ipynb'))]}")
    return found


def execute(nb: Path, out_dir: Path, parameters: dict) -> dict:
    """Run one notebook with papermill; returns ``{name, status, seconds, metrics, error}``."""
    import papermill as pm
    start = time.perf_counter()
    entry = {"name": nb.stem, "status": "ok", "error": None}
    try:
        pm.execute_notebook(str(nb), str(out_dir / nb.name), parameters=parameters, kernel_name="python3",
                            cwd=str(nb.parent), progress_bar=False, log_output=False,
                            execution_timeout=CELL_TIMEOUT)
    except pm.PapermillExecutionError as err:
        entry.update(status="failed", error=f"cell {err.exec_count}: {err.ename}: {err.evalue}")
    except Exception as err:                                  # kernel died, notebook unreadable, ...
        entry.update(status="failed", error=f"{type(err).__name__}: {err}")
    entry["seconds"] = round(time.perf_counter() - start, 1)
    metrics_file = out_dir / "metrics" / f"{nb.stem}.json"
    entry["metrics"] = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return entry


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="FAST_MODE: small subset, few epochs")
    parser.add_argument("--data", help="dataset path (folder or CSV), or 'demo'")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks (e.g. 00 02)")
    parser.add_argument("--out", help="run folder (default: runs/<timestamp>)")
    parser.add_argument("--seed", type=int, default=None, help="override every notebook's SEED")
    args = parser.parse_args(argv)

    out_dir = Path(args.out or project_root() / "runs" / datetime.now().strftime("%Y%m%d-%H%M%S"))
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FER_RUN_DIR"] = str(out_dir.resolve())
    if args.data:
        os.environ["FER_DATA"] = str(Path(args.data).resolve()) if args.data != "demo" else "demo"
    # the kernel must be this Python (the one with the helpers installed), whatever PATH says
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")           # hide TensorFlow start-up chatter
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    parameters = {"FAST_MODE": bool(args.fast)}
    if args.seed is not None:
        parameters["SEED"] = args.seed

    from tqdm.auto import tqdm
    todo = notebooks(args.only)
    summary = {"started": datetime.now().isoformat(timespec="seconds"), "fast": bool(args.fast),
               "data": os.environ.get("FER_DATA", "auto"), "python": sys.version.split()[0], "notebooks": []}
    status = 0
    with tqdm(todo, unit="notebook", desc="workbook") as bar:
        for nb in bar:
            bar.set_postfix_str(nb.stem)
            entry = execute(nb, out_dir, parameters)
            summary["notebooks"].append(entry)
            (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
            tqdm.write(f"{entry['status']:>6}  {nb.stem}  {entry['seconds']:.0f} s")
            if entry["status"] != "ok":
                tqdm.write(f"\n{nb.name} failed: {entry['error']}\n(executed copy: {out_dir / nb.name})")
                status = 1
                break
    summary["seconds"] = round(sum(e["seconds"] for e in summary["notebooks"]), 1)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"Summary: {out_dir / 'summary.json'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
