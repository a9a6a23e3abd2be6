"""This computer, read without importing Keras: its processor's name, the cores this process may use and its
widest vector units, and the Keras backend to use where TensorFlow is missing. The notebooks' runner names the
machine with its run times (:mod:`helpers.run`), and the device settings choose the precision by the vector
units (:func:`helpers.backend.configure_device`).

One processor name covers machines that train several times faster or slower than each other (with bfloat16
units or without), so both say which units there are.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path


def cpu_info() -> dict:
    """The fields /proc/cpuinfo gives for this machine's last processor (empty where there is no such file)."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    return {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in lines if ":" in line)}


def cpu_flags() -> set:
    """The processor's feature flags (``avx2``, ``avx512_bf16``, ``amx_bf16``, ...)."""
    return set(cpu_info().get("flags", "").split())


def cores() -> int:
    """How many cores this process may use (fewer than the machine has in a container or under ``taskset``)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def vector_units(flags: set | None = None) -> str:
    """The widest vector units among a CPU's ``flags`` (default: this one's), by what they do for training
    here: ``'AMX'``, ``'AVX-512 + bfloat16'``, ``'AVX-512'``, ``'AVX2'``, or ``''``."""
    flags = cpu_flags() if flags is None else flags
    for flag, units in (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512 + bfloat16"), ("avx512f", "AVX-512"),
                        ("avx2", "AVX2")):
        if flag in flags:
            return units
    return ""


def has_bfloat16_units(flags: set | None = None) -> bool:
    """Whether the CPU computes bfloat16 natively (AMX or AVX512-BF16); elsewhere bfloat16 is emulated, slowly."""
    return vector_units(flags) in ("AMX", "AVX-512 + bfloat16")


def describe() -> str:
    """The processor, its cores and its vector units, e.g. ``'AMD EPYC 9B14, 2 cores, AVX2'``."""
    name = cpu_info().get("model name") or platform.processor() or platform.machine()
    units = vector_units()
    return f"{name}, {cores()} cores" + (f", {units}" if units else "")


def nvidia_gpus() -> list[str]:
    """The names of the NVIDIA GPUs this computer's driver lists (``nvidia-smi -L``), e.g. ``['NVIDIA GeForce
    RTX 3060']``, whether or not a Keras backend can use them; empty without the driver or its tool."""
    tool = shutil.which("nvidia-smi")
    if not tool:
        return []
    try:
        listed = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if listed.returncode != 0:                          # e.g. a driver that does not answer
        return []
    # each line: "GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-...)"
    return [m.group(1) for m in re.finditer(r"^GPU \d+: (.+?)(?: \(UUID: [^)]*\))?$", listed.stdout, re.M)]


def installed(package: str) -> bool:
    """Whether ``package`` can be imported (looked for, not imported)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):               # an import hook refused it, or a broken earlier import
        return False


def default_backend() -> str | None:
    """The backend to give Keras when TensorFlow, its default, is not installed and nothing names another: the
    first of ``jax`` and ``torch`` installed. ``None`` (leave Keras to choose) where ``KERAS_BACKEND`` is set,
    where TensorFlow is installed, or where Keras' settings file (``~/.keras/keras.json``, or ``$KERAS_HOME``'s)
    names a backend other than the ``tensorflow`` that Keras writes there itself on its first import."""
    if os.environ.get("KERAS_BACKEND") or installed("tensorflow"):
        return None
    settings = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "keras.json"
    try:
        chosen = json.loads(settings.read_text(encoding="utf-8")).get("backend")
    except (OSError, ValueError, AttributeError):      # no file, not JSON, not an object
        chosen = None
    if chosen and chosen != "tensorflow":
        return None
    return next((name for name in ("jax", "torch") if installed(name)), None)


def use_default_backend() -> None:
    """Set ``KERAS_BACKEND`` to :func:`default_backend`'s choice, if it makes one; before Keras is imported."""
    if backend := default_backend():
        os.environ["KERAS_BACKEND"] = backend
