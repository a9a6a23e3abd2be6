"""The student edition: exercises kept, solutions gone, and the notebook still runs up to the exercises."""

import os
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from helpers import student
from helpers.run import notebooks


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_the_student_edition_keeps_the_exercises_and_drops_the_solutions(path):
    original = nbformat.read(path, as_version=4)
    edition = student.student_edition(original)
    text = "\n".join(c.source for c in edition.cells)
    assert "## Exercises" in text and "## Solutions" not in text
    at = next(i for i, c in enumerate(original.cells) if "## Solutions" in c.source)
    assert [c.source for c in edition.cells[:at]] == [c.source for c in original.cells[:at]]   # lesson unchanged
    solutions = [original.cells[at].source.split("## Solutions")[1]] + [c.source for c in original.cells[at + 1:]]
    solutions = [s.strip() for s in solutions if s.strip()]
    assert solutions and not any(s in text for s in solutions)
    assert edition.cells[-1].cell_type == "code" and not any(c.get("outputs") for c in edition.cells
                                                               if c.cell_type == "code")


def test_the_student_edition_runs_up_to_the_exercises(tmp_path, monkeypatch):
    monkeypatch.setenv("FER_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")   # this Python
    assert student.main(["--out", str(tmp_path / "student")]) == 0
    executed = tmp_path / "executed.ipynb"
    pm.execute_notebook(str(tmp_path / "student" / "00_setup_check.ipynb"), str(executed),
                        parameters={"DATA_DIR": "demo"}, kernel_name="python3", progress_bar=False)
    cells = nbformat.read(executed, as_version=4).cells
    assert all(c.metadata.papermill.status == "completed" for c in cells if c.cell_type == "code")
