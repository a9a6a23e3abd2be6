"""The maps of the helpers package a reader is given (its docstring, docs/design.md's list) name every module,
and every module says what it is for."""

import ast
import re

import helpers
from helpers.data import project_root

MODULES = sorted(p.stem for p in (project_root() / "helpers").glob("*.py") if p.stem != "__init__")


def test_the_package_docstring_lists_every_module():
    listed = set(re.findall(r"``helpers\.(\w+)``", helpers.__doc__))
    assert set(MODULES) - listed == set(), "helpers/__init__.py: add a line for each new module"
    assert listed - set(MODULES) == set(), "helpers/__init__.py lists a module that is gone"


def test_the_design_notes_name_every_module():
    design = (project_root() / "docs" / "design.md").read_text()
    listing = re.search(r"a test keeps that list whole\):([^.]*)\.", design)
    assert listing, "docs/design.md: the sentence listing the helpers modules ('... keeps that list whole): ...') is gone"
    assert set(re.findall(r"`(\w+)`", listing.group(1))) == set(MODULES)


def test_every_module_has_a_docstring_a_student_can_start_from():
    for name in MODULES:
        doc = ast.get_docstring(ast.parse((project_root() / "helpers" / f"{name}.py").read_text()))
        assert doc and len(doc.split()) >= 5, f"helpers/{name}.py: no docstring saying what it is for"
