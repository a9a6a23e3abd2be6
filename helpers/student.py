"""The student edition of the workbook: every notebook with its exercises kept and its solutions removed.

    python -m helpers.student                  # writes student/NN_*.ipynb
    python -m helpers.student --out DIR

Each notebook ends with a markdown cell holding ``## Exercises`` and then ``## Solutions``, followed by the
solution cells. The student edition keeps everything up to the exercises, cuts that cell at ``## Solutions``,
drops the cells after it and adds one empty code cell for the answers. Outputs are cleared; the notebooks'
code before the exercises is unchanged, so the edition runs exactly as far as the original does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from helpers.data import project_root
from helpers.files import write_text

SOLUTIONS = "## Solutions"


def student_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` without its solutions (see the module's docstring)."""
    cells = nb.cells
    at = next((i for i, c in enumerate(cells) if c.cell_type == "markdown" and SOLUTIONS in c.source), None)
    if at is None or "## Exercises" not in cells[at].source:
        raise ValueError("the notebook has no markdown cell with '## Exercises' then '## Solutions'")
    edition = nbformat.from_dict(nb)
    exercises = nbformat.from_dict(cells[at])
    exercises.source = exercises.source.split(SOLUTIONS)[0].rstrip() + "\n\n*Your answers below.*"
    answer = nbformat.v4.new_code_cell("# your answers")
    edition.cells = [nbformat.from_dict(c) for c in cells[:at]] + [exercises, answer]
    for cell in edition.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return edition


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.student", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(project_root() / "student"), help="folder for the edition")
    args = parser.parse_args(argv)
    out = Path(args.out)
    for path in sorted((project_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        edition = student_edition(nbformat.read(path, as_version=4))
        write_text(out / path.name, nbformat.writes(edition))
        print(f"{out / path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
