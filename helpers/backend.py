"""Keras and its backend, imported once and quietly (``from helpers.backend import keras``), and the device
settings (:func:`configure_device`): the one place for what depends on the machine and the backend.

TensorFlow writes start-up lines straight to the process's standard error (file descriptor 2), below Python
and ignoring ``TF_CPP_MIN_LOG_LEVEL``: ``oneDNN custom operations are on``, ``Could not find cuda drivers``
and, on every machine without an NVIDIA GPU, ``failed call to cuInit: ... CUDA error``. None of them is a
problem, but they look like failures. Here the import and the first look for a GPU run with that descriptor
caught; the known start-up lines are dropped and anything else is written back, so real errors still show.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
import tempfile
from pathlib import Path

#: Start-up lines of TensorFlow/XLA that say nothing is wrong (matched anywhere in the line).
NOISE = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    r"oneDNN custom operations are on",
    r"Could not find cuda drivers on your machine",
    r"failed call to cuInit",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"To enable the following instructions: .* rebuild TensorFlow",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"computation_placer\.cc",
    r"TF-TRT Warning",
]))


def keep(text: str) -> str:
    """The lines of ``text`` that are not known start-up noise."""
    return "".join(line for line in text.splitlines(keepends=True) if line.strip() and not NOISE.search(line))


@contextlib.contextmanager
def quiet_stderr():
    """Catch what is written to file descriptor 2 inside the block; afterwards write back all but the noise."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):          # no real descriptor 2 (some embedded interpreters)
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            rest = keep(caught.read().decode("utf-8", "replace"))
            if rest:
                sys.stderr.write(rest)


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")           # TensorFlow's own INFO and WARNING lines
with quiet_stderr():
    import keras                                             # noqa: E402  (the point of this module)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.config.list_physical_devices("GPU")               # the cuInit attempt happens here, caught



# ----------------------------------------------------------------------------------------------------------
# Device settings
# ----------------------------------------------------------------------------------------------------------

def _cpu_flags() -> set:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def configure_device(mixed_precision: str | bool = "auto", verbose: bool = True) -> dict:
    """Pick the fastest settings for this machine and say which.

    GPU: ``mixed_float16`` and XLA left to Keras. CPU: XLA off (``jit_compile=False`` trained 2x faster here)
    and ``mixed_bfloat16`` when the CPU has bfloat16 units (AMX or AVX512-BF16; measured with
    ``benchmarks/train_throughput.py``: about 2x for the VGG-style CNNs with AMX, 1.13x for ``wide_cnn`` and
    no loss for ``compact_cnn`` with AVX512-BF16 alone). ``mixed_precision=False`` forces float32.
    Returns ``{'device', 'policy', 'jit_compile', 'cpu'}``; pass ``jit_compile`` to ``model.compile``.
    """
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    flags = _cpu_flags()
    if gpus:
        device, jit, policy = f"GPU x{len(gpus)}", "auto", "mixed_float16"
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
    else:
        device, jit = f"CPU ({platform.processor() or platform.machine()}, {_cpu_count()} cores)", False
        policy = "mixed_bfloat16" if flags & {"amx_bf16", "avx512_bf16"} else "float32"
    if mixed_precision is False or mixed_precision == "float32":
        policy = "float32"
    elif isinstance(mixed_precision, str) and mixed_precision != "auto":
        policy = mixed_precision
    keras.mixed_precision.set_global_policy(policy)
    info = {"device": device, "policy": policy, "jit_compile": jit,
            "cpu": "AMX" if "amx_bf16" in flags else ("AVX512" if "avx512f" in flags else "x86/other")}
    if verbose:
        print(f"Training on {device}; precision policy {policy}; jit_compile={jit}")
    return info


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


__all__ = ["keras", "configure_device", "quiet_stderr", "keep", "NOISE"]
