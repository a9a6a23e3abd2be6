"""The Python versions the README promises are the ones the project and its pinned requirements accept."""

import importlib.metadata
import re
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from helpers.data import project_root

OLDEST = re.search(r"Python (3\.\d+)-3\.\d+", (project_root() / "README.md").read_text()).group(1)
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def test_readme_and_pyproject_agree_on_the_oldest_python():
    accepted = SpecifierSet(tomllib.loads((project_root() / "pyproject.toml").read_text())["project"]["requires-python"])
    older = f"3.{int(OLDEST.split('.')[1]) - 1}"
    assert OLDEST in accepted and older not in accepted, f"pyproject's requires-python {accepted} vs README's {OLDEST}"


@pytest.mark.skipif(HERE != OLDEST, reason=f"pip chose the installed versions for Python {HERE} (numpy 2.5 needs "
                                           f"3.12): only on the oldest promised Python ({OLDEST}, as in CI) do they "
                                           f"show what it gets")
def test_every_pinned_package_installs_on_the_oldest_python():
    for line in (project_root() / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        name = Requirement(line).name
        needs = importlib.metadata.metadata(name).get("Requires-Python")      # the installed, pinned version's
        assert not needs or OLDEST in SpecifierSet(needs), \
            f"{name} {importlib.metadata.version(name)} needs Python {needs}; the README promises {OLDEST}"
