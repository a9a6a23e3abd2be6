"""Where a notebook's outputs go: its metrics JSON and its figures, inside the current run folder.

``python -m helpers.run`` sets ``FER_RUN_DIR`` to ``runs/<timestamp>/`` (and ``FER_RUNNER``: no browser is
watching); a notebook opened by hand in JupyterLab writes to ``runs/interactive/``. Metric names are flat:
``<what>_<split>_<metric>``, e.g. ``svm_private_accuracy``; the runner gathers every notebook's metrics into
``summary.json``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from helpers import demo
from helpers.data import project_root
from helpers.files import atomic_path, write_text


def run_dir() -> Path:
    """The current run folder (created if needed)."""
    folder = Path(os.environ.get("FER_RUN_DIR") or project_root() / "runs" / "interactive")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def under_runner() -> bool:
    """True when ``python -m helpers.run`` (papermill, no browser) executes the notebook."""
    return os.environ.get("FER_RUNNER") == "1"


def _plain(value):
    """numpy numbers -> Python numbers, NaN -> None, so the JSON is portable."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Run:
    """One notebook's outputs: ``Run('01_data_and_balancing')``, then ``.log(name=value)`` and
    ``.save_fig(fig, 'name')``."""

    def __init__(self, notebook: str):
        self.notebook = notebook
        self.metrics_file = run_dir() / "metrics" / f"{notebook}.json"
        self.figure_dir = run_dir() / "figures" / notebook
        self.metrics = {}
        if self.metrics_file.exists():
            self.metrics_file.unlink()                     # a re-run starts a fresh record

    def log(self, **values) -> dict:
        """Record metrics (numbers, strings, bools); written to disk at once."""
        self.metrics.update({k: _plain(v) for k, v in values.items()})
        write_text(self.metrics_file, json.dumps(self.metrics, indent=1, sort_keys=True))
        return self.metrics

    def save_fig(self, fig, name: str, dpi: int = 110) -> None:
        """Save a matplotlib figure as ``figures/<notebook>/<name>.png`` in the run folder. On the demo set
        the figure (as saved and as shown) gets a red DEMO DATA line above it. Returns nothing, so that a
        cell ending with it shows the figure and no path."""
        if demo.IN_USE and not any(t.get_text() == demo.BANNER for t in fig.texts):
            fig.text(0.5, 1.0, demo.BANNER, ha="center", va="bottom", color="crimson", fontsize=11,
                     fontweight="bold")
        path = self.figure_dir / f"{name}.png"
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
