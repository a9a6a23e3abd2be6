"""Data-parallel training (helpers.distribute through train.fit): two devices give what one gives, two worker
processes on 127.0.0.1 end with identical weights, under TensorFlow and JAX.

Each run is its own process (tests/dp_train.py): TensorFlow's logical devices and collective operations, and
JAX's device count, are fixed when they start. The network has no batch norm, dropout or augmentation,
so nothing differs per replica; the data and the class weights are those of a real run.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import demo, distribute, machine

SCRIPT = str(Path(__file__).with_name("dp_train.py"))
needs_tensorflow = pytest.mark.skipif(not machine.installed("tensorflow"), reason="TensorFlow is not installed")


def _train(out, *options, env=None, wait=True):
    cmd = [sys.executable, SCRIPT, str(out), *map(str, options)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    return _finish(proc, out) if wait else proc


def _finish(proc, out, worker=0):
    text, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, text[-4000:]
    return (json.loads((Path(out) / f"result-{worker}.json").read_text()),
            [w for _, w in sorted(np.load(Path(out) / f"weights-{worker}.npz").items(), key=lambda kv: int(kv[0][4:]))])


def _close(a, b, atol):
    return all(np.allclose(x, y, atol=atol, rtol=0) for x, y in zip(a, b))


def test_batch_and_learning_rate_grow_with_the_replicas():
    assert distribute.scaled(64, 0.01, 4, "sgd") == (256, pytest.approx(0.04))         # linear rule
    assert distribute.scaled(64, 0.01, 4, "nadam") == (256, pytest.approx(0.02))       # square-root rule
    assert distribute.scaled(64, 0.01, 1, "adam") == (64, 0.01)


def test_one_device_plan_changes_nothing():
    plan = distribute.plan("auto")                  # this process: one CPU device
    assert plan.replicas == 1 and plan.is_chief and plan.strategy is None
    model = object()
    assert plan.adopt(model) is model and plan.agree(2.5) == 2.5


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    """The reference: one device, a global batch of 16, learning rate 0.1."""
    return _train(tmp_path_factory.mktemp("one"), "--split-cpu", 2, "--devices", 1, "--batch", 16, "--lr", 0.1)


@needs_tensorflow
def test_two_logical_cpu_devices_train_like_one(one_device, tmp_path):
    # 8 images per replica on 2 replicas: fit makes the global batch 16 and SGD's rate 2 x 0.05
    two, weights = _train(tmp_path / "two", "--split-cpu", 2, "--devices", 2, "--batch", 8, "--lr", 0.05)
    one, reference = one_device
    assert (one["replicas"], two["replicas"]) == (1, 2)
    assert np.allclose(two["loss"], one["loss"], rtol=1e-5) and two["val_accuracy"] == one["val_accuracy"]
    assert _close(weights, reference, atol=1e-5)
    assert not _close(weights, _train(tmp_path / "half", "--split-cpu", 2, "--devices", 2, "--batch", 8,
                                      "--lr", 0.02)[1], atol=1e-3)      # and the comparison can fail


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@needs_tensorflow
def test_two_worker_processes_end_with_identical_weights(one_device, tmp_path):
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    out = tmp_path / "cluster"
    procs = [_train(out, "--batch", 8, "--lr", 0.05, env={"TF_CONFIG": distribute.worker_config(hosts, i)},
                    wait=False) for i in range(2)]
    (chief, w0), (other, w1) = [_finish(p, out, i) for i, p in enumerate(procs)]
    assert (chief["workers"], chief["replicas"], other["worker"]) == (2, 2, 1)
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1))            # one model, kept on two machines
    assert chief["loss"] == other["loss"] and np.allclose(chief["loss"], one_device[0]["loss"], rtol=1e-5)
    assert (out / "log.csv").exists() and (out / "best.keras").exists()  # the chief writes the run
    assert (out / "worker-1" / "log.csv").exists()                       # the other worker, its own copy


def write_folder(root, per_class=20):
    """The demo faces as a class-per-folder dataset of PNG files (no split folders)."""
    ds = demo.make_dataset(per_class=per_class, seed=0)
    for i, (image, label) in enumerate(zip(ds.images, ds.labels)):
        path = root / ds.classes[label] / f"face_{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), image)
    return root


@needs_tensorflow
def test_two_logical_cpu_devices_train_like_one_from_a_streamed_folder(tmp_path):
    folder = write_folder(tmp_path / "faces")
    one, reference = _train(tmp_path / "one", "--data", folder, "--split-cpu", 2, "--devices", 1, "--batch", 16,
                            "--lr", 0.1)
    two, weights = _train(tmp_path / "two", "--data", folder, "--split-cpu", 2, "--devices", 2, "--batch", 8,
                          "--lr", 0.05)
    assert (one["replicas"], two["replicas"]) == (1, 2)
    assert np.allclose(two["loss"], one["loss"], rtol=1e-5) and _close(weights, reference, atol=1e-5)


@pytest.mark.skipif(not machine.installed("jax"), reason="JAX is not installed")
def test_jax_two_devices_train_like_one_from_a_streamed_folder(tmp_path):
    folder = write_folder(tmp_path / "faces")
    env = {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    one, reference = _train(tmp_path / "one", "--data", folder, "--devices", 1, "--batch", 16, "--lr", 0.1, env=env)
    two, weights = _train(tmp_path / "two", "--data", folder, "--devices", 2, "--batch", 8, "--lr", 0.05, env=env)
    assert (one["backend"], one["replicas"], two["replicas"]) == ("jax", 1, 2)
    assert np.allclose(two["loss"], one["loss"], rtol=1e-5) and _close(weights, reference, atol=1e-5)
