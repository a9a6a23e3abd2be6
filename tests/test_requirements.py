"""The Python versions the README promises are the ones the project and its pinned requirements accept."""

import importlib.metadata
import re
import tomllib

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from helpers.data import project_root


def test_readme_pyproject_and_pinned_packages_agree_on_the_oldest_python():
    root = project_root()
    oldest, newest = re.search(r"Python (3\.\d+)-(3\.\d+)", (root / "README.md").read_text()).groups()
    accepted = SpecifierSet(tomllib.loads((root / "pyproject.toml").read_text())["project"]["requires-python"])
    older = f"3.{int(oldest.split('.')[1]) - 1}"
    assert oldest in accepted and older not in accepted, f"pyproject's requires-python {accepted} vs README's {oldest}"
    for line in (root / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name = Requirement(line).name
        needs = importlib.metadata.metadata(name).get("Requires-Python")      # the installed, pinned version's
        assert not needs or oldest in SpecifierSet(needs), \
            f"{name} {importlib.metadata.version(name)} needs Python {needs}; the README promises {oldest}"
