"""Keras and its backend, imported once and quietly (``from helpers.backend import keras``), and the device
settings (:func:`configure_device`): the one place for what depends on the machine and the backend.

Everything else in ``helpers`` is Keras 3 and NumPy, so it runs on whichever backend ``KERAS_BACKEND`` names
(``tensorflow`` by default, ``jax`` or ``torch``). Where TensorFlow is not installed and nothing names a
backend, Keras runs on JAX (else torch) instead of failing at import (:func:`helpers.machine.default_backend`):
TensorFlow 2.21 has no wheels for Python 3.14 nor for Intel Macs, so there ``requirements.txt`` installs JAX
alone. The two things Keras does not abstract live here: finding the accelerator and picking the precision
(:func:`configure_device`), and the gradient of a score with respect to an input (:func:`input_gradient`, for
the saliency maps).

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

import numpy as np

from helpers import machine

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


machine.use_default_backend()                                # no TensorFlow: JAX or torch
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")           # TensorFlow's own INFO and WARNING lines
with quiet_stderr():
    import keras                                             # noqa: E402  (the point of this module)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        tf.config.list_physical_devices("GPU")               # the cuInit attempt happens here, caught


def _not_a_retracing_note(record) -> bool:
    """TensorFlow warns "N out of the last M calls ... triggered tf.function retracing" when many models
    predict in one process: each new model traces its own predict step once, as it must. A notebook that
    compares several networks meets it every time, and it says nothing is wrong, so it is dropped."""
    return "triggered tf.function retracing" not in record.getMessage()


if keras.backend.backend() == "tensorflow":
    tf.get_logger().addFilter(_not_a_retracing_note)



# ----------------------------------------------------------------------------------------------------------
# Device settings
# ----------------------------------------------------------------------------------------------------------

def gpus() -> list:
    """The GPUs the Keras backend in use can use (empty on a CPU-only machine), as that backend lists them."""
    name = keras.backend.backend()
    if name == "tensorflow":
        import tensorflow as tf
        return tf.config.list_physical_devices("GPU")
    if name == "jax":
        import jax
        return [d for d in jax.devices() if d.platform == "gpu"]
    if name == "torch":
        import torch
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return []


def unused_gpu_advice(backend: str | None = None) -> str | None:
    """What to install when this computer has an NVIDIA GPU that Keras' ``backend`` (default: the one in use)
    cannot use, as one message; ``None`` when there is no such GPU or the backend already uses it.

    The pip packages of TensorFlow and JAX in ``requirements.txt`` run on the CPU alone until NVIDIA's CUDA
    libraries are installed next to them: TensorFlow's ``and-cuda`` and JAX's ``cuda12`` extras bring them."""
    backend = backend or keras.backend.backend()
    found = machine.nvidia_gpus()
    if not found or gpus():
        return None
    from importlib.metadata import version
    pip = f'"{sys.executable}" -m pip install'
    if backend == "tensorflow":
        install = f'{pip} "tensorflow[and-cuda]=={version("tensorflow")}" (Linux, or Windows in WSL2)'
    elif backend == "jax":
        install = f'{pip} "jax[cuda12]=={version("jax")}"'
    else:
        install = "a PyTorch built with CUDA (pytorch.org, 'Get started')"
    return (f"This computer has an NVIDIA GPU, {found[0]}, but Keras' {backend} backend runs on the CPU: it "
            f"needs NVIDIA's CUDA libraries. Install them with {install}, then restart the kernel or the command "
            f"(docs/commands.md, 'Your own NVIDIA GPU').")


def configure_device(mixed_precision: str | bool = "auto", verbose: bool = True) -> dict:
    """Pick the fastest settings for this machine and backend, and say which.

    GPU: mixed precision (``mixed_bfloat16`` where the GPU has bfloat16 units, which needs no loss scaling;
    ``mixed_float16`` on older GPUs) and XLA where the backend compiles well (TensorFlow: left to Keras; JAX always
    compiles; torch: off); TensorFlow is told to take GPU memory as it needs it, not all at once. CPU: XLA off for
    TensorFlow, as Keras itself decides on a CPU (the recipes' augmentation layers cannot be compiled there anyway,
    and the quick CNN, which has none, trained 3x slower compiled: ``benchmarks/train_throughput.py
    --no-augment``), on for JAX; and ``mixed_bfloat16`` when the CPU has bfloat16 units (AMX or AVX512-BF16;
    measured with ``benchmarks/train_throughput.py``: about 2x for the VGG-style CNNs with AMX, 1.13x for
    ``wide_cnn`` and no loss for ``compact_cnn`` with AVX512-BF16 alone; without such units bfloat16 is emulated,
    10x slower). ``mixed_precision=False`` forces float32.
    Returns ``{'device', 'policy', 'jit_compile', 'cpu', 'backend'}``; pass ``jit_compile`` to ``model.compile``.
    """
    backend = keras.backend.backend()
    found = gpus()
    if found:
        if backend == "tensorflow":                     # take GPU memory as needed, not all of it at once
            import tensorflow as tf
            for gpu in found:
                tf.config.experimental.set_memory_growth(gpu, True)
        device, jit = f"GPU x{len(found)}", ("auto" if backend != "torch" else False)
        policy = "mixed_bfloat16" if _gpu_has_bfloat16(backend) else "mixed_float16"
    else:
        device = f"CPU ({platform.processor() or platform.machine()}, {machine.cores()} cores)"
        jit = "auto" if backend == "jax" else False       # JAX without its compiler runs op by op: far slower
        policy = "mixed_bfloat16" if machine.has_bfloat16_units() else "float32"
    if mixed_precision is False or mixed_precision == "float32":
        policy = "float32"
    elif isinstance(mixed_precision, str) and mixed_precision != "auto":
        policy = mixed_precision
    keras.mixed_precision.set_global_policy(policy)
    info = {"device": device, "policy": policy, "jit_compile": jit, "backend": backend,
            "cpu": machine.vector_units() or platform.machine()}
    if verbose:
        print(f"Training on {device} with Keras' {backend} backend; precision policy {policy}; jit_compile={jit}")
        if not found and (advice := unused_gpu_advice(backend)):
            print(advice)
    return info


#: Keras' random image layers that it marks as not compilable (``supports_jit = False``) on every backend,
#: because TensorFlow's image ops cannot be XLA-compiled; under JAX they are plain ``jax.numpy`` ops that can.
_MARKED_NOT_COMPILABLE = tuple(getattr(keras.layers, name) for name in (
    "RandomTranslation", "RandomZoom", "RandomRotation", "RandomCrop", "RandomShear", "RandomPerspective")
    if hasattr(keras.layers, name))


def compilable(model):
    """``model``, with its augmentation layers marked compilable under JAX, so that ``jit_compile="auto"``
    compiles the training step; returns it. Elsewhere nothing changes. Call it before ``model.compile``
    (which settles whether to compile).

    One such layer makes Keras run the whole step uncompiled, and under JAX uncompiled means one GPU call per
    operation: the GPU recipe's first run (thesis_cnn, an NVIDIA H200, JAX) took 979 ms a step, where the same
    network's steps took 2-4 ms compiled. TensorFlow stays as it is (its image ops cannot be compiled), and
    torch does not compile (:func:`configure_device`). :func:`helpers.models.build` and
    :func:`helpers.train.fit` call it. A model from ``keras.models.load_model(path, compile=False)`` can be
    passed through it before it predicts; one loaded compiled predicts uncompiled under JAX (correct, slower)."""
    if keras.backend.backend() == "jax":
        for layer in model._flatten_layers():
            if isinstance(layer, _MARKED_NOT_COMPILABLE):
                layer.supports_jit = True
    return model


def _gpu_has_bfloat16(backend: str) -> bool:
    """Whether the first GPU computes in bfloat16 natively (NVIDIA compute capability 8.0 or newer)."""
    try:
        if backend == "torch":
            import torch
            return torch.cuda.get_device_capability(0) >= (8, 0)
        if backend == "jax":
            import jax
            return float(getattr(jax.devices("gpu")[0], "compute_capability", "0")) >= 8.0
        import tensorflow as tf
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return details.get("compute_capability", (0, 0)) >= (8, 0)
    except Exception:                                   # unknown: float16 with loss scaling works everywhere
        return False


def input_gradient(score, x) -> np.ndarray:
    """d ``score(x).sum()`` / d ``x`` as a NumPy array, on whichever backend Keras runs: ``score`` maps a
    batch (a backend tensor) to one number per sample using Keras ops and models; ``x`` is a float32 array.
    Samples are independent, so each row of the result is that sample's own gradient."""
    backend = keras.backend.backend()
    x = np.asarray(x, dtype="float32")
    if backend == "tensorflow":
        import tensorflow as tf
        t = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(t)
            total = tf.reduce_sum(score(t))
        return tape.gradient(total, t).numpy()
    if backend == "jax":
        import jax
        import jax.numpy as jnp
        return np.asarray(jax.grad(lambda t: jnp.sum(score(t)))(jnp.asarray(x)))
    if backend == "torch":
        t = keras.ops.convert_to_tensor(x).detach().requires_grad_(True)     # on Keras' device (GPU if any)
        score(t).sum().backward()
        return t.grad.detach().cpu().numpy()
    raise NotImplementedError(f"input_gradient: Keras backend {backend!r} is not supported")


__all__ = ["keras", "configure_device", "unused_gpu_advice", "input_gradient", "quiet_stderr", "keep", "NOISE"]
