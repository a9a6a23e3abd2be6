"""The Python versions and platforms the README promises are the ones the project and its pinned requirements
accept (whether the index has their wheels: tests/platform_wheels.py, which asks it)."""

import importlib.metadata
import re
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from helpers.data import project_root
from platform_wheels import NOT_PROMISED, PLATFORMS, PYTHONS, marker_environment, pinned, requirements_for

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
    for requirement in pinned():                                           # this platform's pins
        name = requirement.name
        needs = importlib.metadata.metadata(name).get("Requires-Python")      # the installed, pinned version's
        assert not needs or OLDEST in SpecifierSet(needs), \
            f"{name} {importlib.metadata.version(name)} needs Python {needs}; the README promises {OLDEST}"


def pyproject_dependencies(platform: str, python: str) -> set[str]:
    """The names of pyproject.toml's dependencies that apply on ``platform`` with Python ``python``."""
    env = marker_environment(platform, python)
    listed = tomllib.loads((project_root() / "pyproject.toml").read_text())["project"]["dependencies"]
    return {r.name for r in map(Requirement, listed) if r.marker is None or r.marker.evaluate(env)}


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_every_promised_platform_gets_a_keras_backend_it_has_wheels_for(platform, python):
    if (platform, python) in NOT_PROMISED:
        pytest.skip("not promised: neither TensorFlow nor JAX builds for it")
    pinned = {r.name: r for r in requirements_for(platform, python)}
    # TensorFlow 2.21 has wheels for Python 3.11-3.13 everywhere but on Intel Macs (2.16.2 was their last)
    tensorflow_builds = python != "3.14" and platform != "macOS Intel"
    assert ("tensorflow" in pinned) == tensorflow_builds
    assert "jax" in pinned and "keras" in pinned
    if platform == "macOS Intel":                       # JAX's last release for Intel Macs
        assert pinned["jax"].specifier.contains("0.4.38") and not pinned["jax"].specifier.contains("0.5.0")
    else:
        assert not pinned["jax"].specifier.contains("0.4.38")
    # pyproject.toml (pip install -e . alone) asks for the same backend
    named = pyproject_dependencies(platform, python)
    assert ("tensorflow" in named) == tensorflow_builds and ("jax" in named) == (not tensorflow_builds)
