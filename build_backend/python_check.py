"""The project's build backend: setuptools', after a check of the Python version.

pip builds the project (`-e .`) before it looks for anything in requirements.txt, so on a Python older than
pyproject's requires-python this message comes first. Without it, pip downloads TensorFlow (572 MB) and then
stops at "No matching distribution found for scikit-learn~=1.9", which does not say that Python is the cause.
Written for any Python 3 (this file runs on the old ones too).
"""
import sys

OLDEST = (3, 11)  # pyproject.toml's requires-python (tests/test_requirements.py checks that they agree)

if sys.version_info[:2] < OLDEST:
    sys.exit("\n\nfer-workbook needs Python %d.%d or newer; %s is Python %d.%d.\n"
             "Remove .venv and make it again with a newer Python, e.g. python3.12 -m venv .venv\n"
             "(bash .ci/run: PYTHON=python3.12 bash .ci/run)\n"
             "How to get one: docs/commands.md, 'A Python for the workbook'.\n"
             % (OLDEST + (sys.executable,) + tuple(sys.version_info[:2])))

# The PEP 517 and PEP 660 hooks pip calls, setuptools' own
from setuptools.build_meta import (build_editable, build_sdist, build_wheel,  # noqa: E402
                                   get_requires_for_build_editable, get_requires_for_build_sdist,
                                   get_requires_for_build_wheel, prepare_metadata_for_build_editable,
                                   prepare_metadata_for_build_wheel)

__all__ = ["build_editable", "build_sdist", "build_wheel", "get_requires_for_build_editable",
           "get_requires_for_build_sdist", "get_requires_for_build_wheel", "prepare_metadata_for_build_editable",
           "prepare_metadata_for_build_wheel"]
