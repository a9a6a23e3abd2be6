"""The Python versions and platforms the README promises are the ones the project and its pinned requirements
accept (whether the index has their wheels: tests/platform_wheels.py, which asks it)."""

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from helpers.data import project_root
from platform_wheels import NOT_PROMISED, PLATFORMS, PYTHONS, marker_environment, pinned, requirements_for

OLDEST = re.search(r"Python (3\.\d+)-3\.\d+", (project_root() / "README.md").read_text()).group(1)
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
BACKEND = project_root() / "build_backend" / "python_check.py"     # pyproject.toml's build backend


def backend_oldest() -> str:
    """The oldest Python the build backend lets through, read from its source (importing it needs setuptools)."""
    for node in ast.parse(BACKEND.read_text()).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == "OLDEST":
            return "%d.%d" % ast.literal_eval(node.value)
    raise AssertionError(f"{BACKEND} sets no OLDEST")


def run_backend_as(version: tuple[int, int]) -> subprocess.CompletedProcess:
    """Import the build backend in a Python that says it is ``version``, as pip does before it builds."""
    fake = f"import runpy, sys; sys.version_info = {version + (0, 'final', 0)}; runpy.run_path({str(BACKEND)!r})"
    return subprocess.run([sys.executable, "-c", fake], capture_output=True, text=True, timeout=60)


def test_readme_and_pyproject_agree_on_the_oldest_python():
    accepted = SpecifierSet(tomllib.loads((project_root() / "pyproject.toml").read_text())["project"]["requires-python"])
    older = f"3.{int(OLDEST.split('.')[1]) - 1}"
    assert OLDEST in accepted and older not in accepted, f"pyproject's requires-python {accepted} vs README's {OLDEST}"
    assert backend_oldest() == OLDEST, f"{BACKEND.name} lets Python {backend_oldest()} through, README says {OLDEST}"


def test_an_older_python_stops_at_the_build_with_a_message_that_names_it():
    major, minor = map(int, OLDEST.split("."))
    stopped = run_backend_as((major, minor - 1))
    assert stopped.returncode == 1, stopped
    assert f"fer-workbook needs Python {OLDEST} or newer" in stopped.stderr
    assert f"is Python {major}.{minor - 1}." in stopped.stderr and "python3.12 -m venv .venv" in stopped.stderr
    # The section it points to exists
    assert "## A Python for the workbook" in (project_root() / "docs" / "commands.md").read_text()
    # The oldest promised Python gets past the check (what follows it is setuptools' own backend)
    passed = run_backend_as((major, minor))
    assert "needs Python" not in passed.stderr


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


def test_the_project_builds_without_a_deprecation_and_ships_its_license(tmp_path):
    # pip builds the project (`-e .` in command 1) with the newest setuptools pyproject allows; a deprecated
    # setting in pyproject.toml warns there first and stops the build once setuptools drops it
    source = tmp_path / "project"
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        (source / name).parent.mkdir(exist_ok=True)
        (source / name).write_bytes((project_root() / name).read_bytes())
    for folder in ("build_backend", "helpers"):
        shutil.copytree(project_root() / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=300)
    if built.returncode and "No matching distribution found for setuptools" in built.stdout + built.stderr:
        pytest.skip("the package index is out of reach: pip cannot fetch setuptools to build with")
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    warned = [line for line in (built.stdout + built.stderr).splitlines() if "Deprecat" in line]
    assert not warned, "\n".join(warned)
    wheel = zipfile.ZipFile(next((tmp_path / "dist").glob("fer_workbook-*.whl")))
    license_file = next(n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE"))
    assert wheel.read(license_file).decode().startswith("MIT License")
    metadata = wheel.read(next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata.splitlines()
