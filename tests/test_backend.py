"""Keras is imported without TensorFlow's start-up noise, and real errors still get through."""

import os
import subprocess
import sys

import pytest

from helpers import backend, machine

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
