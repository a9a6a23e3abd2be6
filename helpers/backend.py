"""Keras and its backend, imported once and quietly: ``from helpers.backend import keras``.

TensorFlow writes start-up lines straight to the process's standard error (file descriptor 2), below Python
and ignoring ``TF_CPP_MIN_LOG_LEVEL``: ``oneDNN custom operations are on``, ``Could not find cuda drivers``
and, on every machine without an NVIDIA GPU, ``failed call to cuInit: ... CUDA error``. None of them is a
problem, but they look like failures. Here the import and the first look for a GPU run with that descriptor
caught; the known start-up lines are dropped and anything else is written back, so real errors still show.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

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

__all__ = ["keras", "quiet_stderr", "keep", "NOISE"]
