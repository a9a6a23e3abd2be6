"""Does every platform the README promises find a wheel of every package requirements.txt pins?

Asks the package index what pip would install there (``pip install --dry-run --only-binary=:all: --platform ...
--python-version ...``), with requirements.txt's markers evaluated for that platform, not for this machine (pip
itself would evaluate them here). Run it after changing a pin; it needs the index, and takes 20-90 s a row:

    .venv/bin/python tests/platform_wheels.py [--python 3.12 ...] [--platform "macOS Intel" ...]

It prints one row per platform and Python, and exits 1 if a promised one finds no install.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"

# Platform -> (its marker values, the wheel tags pip accepts there). pip matches --platform tags exactly, but
# for macOS also every older version, so the newest macOS stands for all.
PLATFORMS = {
    "Linux x86-64": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"},
                     ["manylinux2014_x86_64"] + [f"manylinux_2_{v}_x86_64" for v in range(17, 40)]),
    "Linux ARM": ({"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64"},
                  ["manylinux2014_aarch64"] + [f"manylinux_2_{v}_aarch64" for v in range(17, 40)]),
    "macOS Apple silicon": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64"},
                            ["macosx_15_0_arm64", "macosx_15_0_universal2"]),
    "macOS Intel": ({"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64"},
                    ["macosx_15_0_x86_64", "macosx_15_0_universal2"]),
}
PYTHONS = ["3.11", "3.12", "3.13", "3.14"]
# What the README does not promise: neither TensorFlow nor JAX builds for an Intel Mac on Python 3.14
NOT_PROMISED = {("macOS Intel", "3.14")}


def marker_environment(platform: str, python: str) -> dict:
    """The values requirement markers are evaluated against on ``platform`` with Python ``python``."""
    env = default_environment()
    env.update(PLATFORMS[platform][0], python_version=python, python_full_version=f"{python}.0",
               os_name="posix", implementation_name="cpython", platform_python_implementation="CPython")
    return env


def pinned(env: dict | None = None) -> list[Requirement]:
    """The lines of requirements.txt that apply where the markers see ``env`` (this machine if None)."""
    lines = (line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    requirements = [Requirement(line) for line in lines if line]
    return [r for r in requirements if r.marker is None or r.marker.evaluate(env)]


def requirements_for(platform: str, python: str) -> list[Requirement]:
    """The lines of requirements.txt that apply on ``platform`` with Python ``python``."""
    return pinned(marker_environment(platform, python))


def resolve(platform: str, python: str) -> str:
    """``ok`` if pip finds a wheel of every requirement (and of what they need) there, else pip's error."""
    with tempfile.TemporaryDirectory() as tmp:
        listed = Path(tmp) / "requirements.txt"
        listed.write_text("\n".join(str(r).split(";")[0] for r in requirements_for(platform, python)) + "\n")
        tags = [arg for tag in PLATFORMS[platform][1] for arg in ("--platform", tag)]
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                               "--disable-pip-version-check", "--only-binary=:all:", "--target", str(Path(tmp) / "t"),
                               "--python-version", python, *tags, "-r", str(listed)],
                              capture_output=True, text=True)
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
    return "ok" if done.returncode == 0 else (errors[-1] if errors else done.stderr.strip()[-300:])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", action="append", choices=PYTHONS, help="only these Pythons (default: all)")
    parser.add_argument("--platform", action="append", choices=list(PLATFORMS), help="only these platforms")
    args = parser.parse_args(argv)
    failed = 0
    for platform in args.platform or PLATFORMS:
        for python in args.python or PYTHONS:
            result = resolve(platform, python)
            promised = (platform, python) not in NOT_PROMISED
            failed += promised and result != "ok"
            backends = [r.name + str(r.specifier) for r in requirements_for(platform, python)
                        if r.name in ("tensorflow", "jax")]
            print(f"{platform:20} Python {python}  {' + '.join(backends) or 'no backend':32} {result}"
                  + ("" if promised else "  (not promised)"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
