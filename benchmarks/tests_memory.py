"""How much memory each test file needs: the most its pytest process and every process it starts (notebook
kernels, servers, scripts) held at once, each file run alone in one process (``-n 0``).

The test command runs one worker per core (``-n auto``), each worker a whole file at a time, so a machine runs
up to that many of these at once; ``tests/conftest.py`` sizes the number of workers with these figures.

    python benchmarks/tests_memory.py [tests/test_x.py ...]      # default: every test file; FER_DATA as set
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from helpers.run import PeakMemory

ROOT = Path(__file__).resolve().parents[1]


def peak_of(test_file: Path) -> tuple[float, float, str]:
    """``(peak GB, seconds, pytest's last line)`` for one test file run alone: the proportional set sizes of
    pytest and every process it starts, summed (a page they share counted once: Chromium's processes, or a
    server's libraries shared with pytest's, would count many times in a sum of resident sizes)."""
    start = time.perf_counter()
    with PeakMemory(interval=0.2, proportional=True) as memory:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider",
                               str(test_file)], cwd=ROOT, capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip().splitlines()
    summary = next((line for line in reversed(out) if " in " in line and ("passed" in line or "failed" in line)),
                   out[-1] if out else "")
    return memory.peak / 1e9, time.perf_counter() - start, summary.strip("= ")


def main(argv: list[str]) -> None:
    files = [Path(a) for a in argv] or sorted((ROOT / "tests").glob("test_*.py"))
    results = []
    for f in files:
        gb, seconds, summary = peak_of(f)
        results.append((gb, f.name))
        print(f"{f.name:34s} {gb:5.2f} GB  {seconds:6.0f} s  {summary}", flush=True)
    results.sort(reverse=True)
    print("heaviest:", ", ".join(f"{name} {gb:.2f} GB" for gb, name in results[:4]))
    print(f"machine: {psutil.virtual_memory().total / 2**30:.0f} GiB, {psutil.cpu_count()} logical CPUs")


if __name__ == "__main__":
    main(sys.argv[1:])
