"""Committed notebooks follow the workbook's conventions (checked on the files, nothing executed)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_numbered_notebooks():
    assert NOTEBOOKS and all(nb.name[:2].isdigit() and nb.name[2] == "_" for nb in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_and_parameterised(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs; strip them before committing"
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    source = "".join(params[0]["source"])
    assert "FAST_MODE" in source and "SEED" in source
    intro = "".join(nb["cells"][0]["source"])
    assert nb["cells"][0]["cell_type"] == "markdown" and "**Goal:**" in intro and "**Runtime:**" in intro
    text = "".join("".join(c["source"]) for c in nb["cells"])
    assert "## Exercises" in text and "## Solutions" in text
    assert "sys.path" not in text, "import helpers normally (pip install -e .), no sys.path tricks"
    missing = [i for i, c in enumerate(nb["cells"]) if "id" not in c]      # nbformat 4.5: one day an error
    assert nb["nbformat_minor"] < 5 or not missing, f"{path.name}: cells {missing} have no id"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_without_a_warning(path, caplog):
    import ast

    import nbformat
    from papermill.translators import PythonTranslator
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    with caplog.at_level("WARNING", logger="papermill"):
        parsed = [p.name for p in PythonTranslator.inspect(cell)]
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assigned = [t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets]
    assert parsed == assigned


def test_no_committed_file_records_a_machine_path():
    import re
    import subprocess
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    pattern = re.compile(r"(?<![\w.])/(home|root|work|tmp|Users)/")
    found = [f for f in tracked if f.endswith((".py", ".json", ".md", ".ipynb", ".toml", ".txt", ".yml", ".csv"))
             and pattern.search((root / f).read_text(errors="replace"))]
    assert not found, f"absolute paths of a machine in {found}"
