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

ROOT = Path(__file__).resolve().parents[1]


def tree_memory(process: psutil.Process) -> int:
    """Bytes that ``process`` and all its descendants hold now: the sum of their proportional set sizes (each
    shared page counted once across them: Chromium's processes, or a server's libraries shared with pytest's,
    would count many times in a sum of resident sizes)."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_full_info().pss
        except psutil.Error:                        # ended between the listing and the reading
            pass
    return total


def peak_of(test_file: Path) -> tuple[float, float, str]:
    """``(peak GB, seconds, pytest's last line)`` for one test file run alone."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider",
                             str(test_file)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watched, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, tree_memory(watched))
        except psutil.Error:
            break
        time.sleep(0.2)
    out = proc.stdout.read().strip().splitlines()
    summary = next((line for line in reversed(out) if " in " in line and ("passed" in line or "failed" in line)),
                   out[-1] if out else "")
    return peak / 1e9, time.perf_counter() - start, summary.strip("= ")


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
