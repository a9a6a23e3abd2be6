"""Keras is imported without TensorFlow's start-up noise, and real errors still get through."""

import os
import subprocess
import sys

import pytest

from helpers import backend, machine
from helpers.data import project_root

needs_tensorflow = pytest.mark.skipif(not machine.installed("tensorflow"), reason="TensorFlow is not installed")


@needs_tensorflow
def test_importing_the_helpers_prints_no_start_up_noise():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([sys.executable, "-c", "import helpers.train; import tensorflow as tf; "
                           "print(len(tf.config.list_physical_devices()))"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0 and int(proc.stdout) >= 1
    for noise in ("cuInit", "cuda drivers", "oneDNN", "absl::InitializeLog"):
        assert noise not in proc.stderr, proc.stderr


def test_only_the_known_noise_is_dropped(capfd):
    with backend.quiet_stderr():
        os.write(2, b"E0000 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n")
        os.write(2, b"Fatal Python error: a real problem\n")
    err = capfd.readouterr().err
    assert "real problem" in err and "cuInit" not in err


@needs_tensorflow
def test_many_models_predicting_in_one_process_print_no_retracing_warning():
    """Each new model traces its predict step once; TensorFlow's warning about it is dropped, its other
    warnings are not."""
    code = ("import numpy as np; from helpers.backend import keras; import tensorflow as tf\n"
            "x = np.zeros((4, 8), 'float32')\n"
            "for _ in range(12):\n"
            "    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)]); m.predict(x, verbose=0)\n"
            "tf.get_logger().warning('another warning')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "retracing" not in proc.stderr and "another warning" in proc.stderr


def fake_nvidia_smi(folder, output: str, status: int = 0) -> None:
    """Put an ``nvidia-smi`` that prints ``output`` and exits with ``status`` into ``folder`` (shell builtins
    only: the tests leave nothing else on the PATH)."""
    tool = folder / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\nwhile IFS= read -r line; do echo \"$line\"; done <<'END'\n{output}\nEND\n"
                    f"exit {status}\n")
    tool.chmod(0o755)


@pytest.mark.skipif(bool(backend.gpus()), reason="Keras uses a GPU here: there is nothing to advise")
def test_an_nvidia_gpu_keras_cannot_use_gets_the_install_that_enables_it(tmp_path, monkeypatch, capsys):
    from importlib.metadata import version
    monkeypatch.setenv("PATH", str(tmp_path))                # no nvidia-smi: no NVIDIA driver, no advice
    assert machine.nvidia_gpus() == [] and backend.unused_gpu_advice() is None
    fake_nvidia_smi(tmp_path, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", 9)
    assert machine.nvidia_gpus() == [] and backend.unused_gpu_advice() is None
    fake_nvidia_smi(tmp_path, "GPU 0: NVIDIA GeForce RTX 3060 (UUID: GPU-5d6f)")
    assert machine.nvidia_gpus() == ["NVIDIA GeForce RTX 3060"]
    advice = backend.unused_gpu_advice("jax")
    assert "NVIDIA GeForce RTX 3060" in advice and f'-m pip install "jax[cuda12]=={version("jax")}"' in advice
    assert "'Your own NVIDIA GPU'" in advice and "## Your own NVIDIA GPU" in (
        project_root() / "docs" / "commands.md").read_text(encoding="utf-8")
    if machine.installed("tensorflow"):
        assert f'"tensorflow[and-cuda]=={version("tensorflow")}"' in backend.unused_gpu_advice("tensorflow")
    # notebooks 00 and 02 and every training command print it under their device line
    policy = backend.keras.mixed_precision.global_policy().name
    try:
        backend.configure_device(verbose=True)
    finally:
        backend.keras.mixed_precision.set_global_policy(policy)     # as the other tests of this file expect
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].startswith("Training on CPU") and "NVIDIA GeForce RTX 3060" in printed
