"""Data-parallel training on several devices or machines, with the engines Keras and its backends provide.

Data parallelism: every device holds a copy (a *replica*) of the model; each step, the global batch is cut
into one share per replica, each replica computes the gradient of its share, the gradients are averaged
across replicas, and every replica applies the same update. The weights stay identical everywhere, and the
result is that of one device training with the global batch (``tests/test_distribute.py`` checks it).

- **TensorFlow**: ``tf.distribute.MirroredStrategy`` over the GPUs of one machine (or logical CPUs, see
  :func:`split_cpu`), ``tf.distribute.MultiWorkerMirroredStrategy`` across machines: every machine runs the
  same command with ``TF_CONFIG`` naming all of them and its own index (:func:`worker_config`).
- **JAX**: ``keras.distribution.DataParallel`` over ``jax.devices()`` (and across machines once
  ``keras.distribution.initialize()`` has connected the processes).
- **torch**: one device (Keras' torch backend has no data-parallel ``fit``; use JAX or TensorFlow for several).

:func:`helpers.train.fit` asks :func:`plan` what is there (``devices='auto'``: every GPU, else every CPU
device the backend shows, and every worker ``TF_CONFIG`` names) and trains on all of it.
Batch size and learning rate: ``fit``'s ``batch_size`` is per replica, so the global batch grows with the
replicas, and the learning rate grows with it (:func:`scaled`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from helpers.backend import keras


@dataclass
class Plan:
    """Where a training run goes: how many replicas, on which devices, and this process's part.

    ``strategy``: the ``tf.distribute`` strategy (TensorFlow), the ``keras.distribution.DataParallel``
    (JAX), or ``None`` (one device). ``worker``: this process's index among ``workers`` machines; worker 0,
    the *chief*, writes the run's outputs, the others write theirs under ``worker-<i>/``."""

    backend: str
    devices: list
    replicas: int = 1
    workers: int = 1
    worker: int = 0
    strategy: object = field(default=None, repr=False)
    _gather: object = field(default=None, repr=False, compare=False)     # agree()'s compiled gather (TF)

    @property
    def is_chief(self) -> bool:
        return self.worker == 0

    def scope(self):
        """The context in which the model's copy, its optimizer and its metrics must be created."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def adopt(self, model: keras.Model) -> keras.Model:
        """The model to train: ``model`` itself on one device; on several, a copy with the same weights
        created inside :meth:`scope` (call it there), whose variables the strategy places on every device."""
        if self.strategy is None:
            return model
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        return copy

    def agree(self, value: float) -> float:
        """The largest ``value`` over all workers (the value itself with one worker). Workers must take the
        same decisions (the learning rate, when to stop), so a time budget counts the slowest one's time."""
        if self.workers == 1:
            return value
        if self.backend == "jax":
            import numpy as np
            from jax.experimental import multihost_utils
            return float(np.max(multihost_utils.process_allgather(np.array([value], "float32"))))
        import tensorflow as tf
        if self._gather is None:                         # compiled once: run eagerly it warns of overhead
            self._gather = tf.function(lambda v: self.strategy.gather(
                self.strategy.run(lambda: tf.reshape(v, [1])), axis=0))
        return float(tf.reduce_max(self._gather(tf.constant(value, tf.float32))))

    def out_dir(self, out_dir):
        """Where this process writes its checkpoints and logs: ``out_dir`` for the chief, ``out_dir/worker-<i>``
        for the others (they save too, so that every worker can resume, but their files are not the run's)."""
        return Path(out_dir) if self.is_chief else Path(out_dir) / f"worker-{self.worker}"

    def describe(self) -> str:
        if self.replicas == 1:
            return f"one device ({self.devices[0] if self.devices else 'default'})"
        where = f" on {self.workers} machines" if self.workers > 1 else ""
        return f"{self.replicas} replicas{where}: {', '.join(map(str, self.devices))} ({type(self.strategy).__name__})"


def plan(devices="auto") -> Plan:
    """What to train on. ``devices``: ``'auto'`` (every GPU, else every CPU device the backend shows; and,
    with TensorFlow, every worker ``TF_CONFIG`` names), a number (the first ``n`` devices of this machine)
    or a list of device names (``['/gpu:0', '/gpu:1']`` for TensorFlow).

    Several machines under TensorFlow: call it first thing in the program (TensorFlow sets up its collective
    operations before it runs anything else); :func:`helpers.train.fit` then gets the same plan."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_plan(devices)
    if backend == "jax":
        return _jax_plan(devices)
    return Plan(backend, [f"{backend}'s default device"])    # torch: one device


def _pick(names: list, devices) -> list:
    if devices == "auto":
        return names
    if isinstance(devices, int):
        if not 1 <= devices <= len(names):
            raise ValueError(f"devices={devices}: this machine shows {len(names)} device(s): {names}")
        return names[:devices]
    return list(devices)


_MULTI_WORKER = {}                                 # the process's one MultiWorkerMirroredStrategy, once made


def _tensorflow_plan(devices) -> Plan:
    import tensorflow as tf
    workers = _tf_config_workers()
    if workers > 1 and devices == "auto":
        if "plan" not in _MULTI_WORKER:
            try:
                strategy = tf.distribute.MultiWorkerMirroredStrategy()
            except RuntimeError as err:
                raise RuntimeError(f"$TF_CONFIG names {workers} workers, but TensorFlow has already run an "
                                   f"operation in this process ({err}): call helpers.distribute.plan() first "
                                   f"thing in the program, before loading data or building a model "
                                   f"(python -m helpers.train does).") from None
            _reduce_nests_and_scalars(strategy)
            task = json.loads(os.environ["TF_CONFIG"])["task"]
            _MULTI_WORKER["plan"] = Plan("tensorflow", strategy.extended.worker_devices,
                                         strategy.num_replicas_in_sync, workers, int(task.get("index", 0)), strategy)
        return _MULTI_WORKER["plan"]
    kind = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    names = _pick([d.name for d in tf.config.list_logical_devices(kind)], devices)
    if len(names) == 1:
        return Plan("tensorflow", names)
    return Plan("tensorflow", names, len(names), strategy=tf.distribute.MirroredStrategy(names))


def _jax_plan(devices) -> Plan:
    import jax
    found = [d for d in jax.devices() if d.platform == "gpu"] or jax.devices()
    names = _pick([str(d) for d in found], devices)
    chosen = [d for d in found if str(d) in names]
    if len(chosen) == 1:
        return Plan("jax", [str(chosen[0])])
    return Plan("jax", [str(d) for d in chosen], len(chosen), jax.process_count(), jax.process_index(),
                keras.distribution.DataParallel(devices=chosen))


def _tf_config_workers() -> int:
    """How many workers ``$TF_CONFIG`` names (1 without it)."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        return 1
    try:
        cluster = json.loads(text)["cluster"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"$TF_CONFIG is not valid: {err}; expected e.g. {worker_config(['host1:2222'], 0)}") from err
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _reduce_nests_and_scalars(strategy) -> None:
    """Let Keras 3 (3.15) train under ``MultiWorkerMirroredStrategy``, which it fails to in two places
    (keras-team/keras#20585): it reduces a whole ``(x, y)`` batch with one ``strategy.reduce`` call, which
    this strategy does not accept for nested values, and it reduces every scalar log over axis 0. This
    strategy's ``reduce`` is given both: it reduces each tensor of a nest, scalars over no axis."""
    import tensorflow as tf
    reduce = strategy.reduce

    def rank(value):
        return (value.values[0] if hasattr(value, "values") else value).shape.rank

    def nest_reduce(op, value, axis=None):
        return tf.nest.map_structure(
            lambda v: v if v is None else reduce(op, v, None if axis is not None and rank(v) == 0 else axis),
            value)

    strategy.reduce = nest_reduce


def scaled(batch_size: int, lr: float, replicas: int, optimizer: str = "sgd") -> tuple:
    """The global batch and learning rate for ``replicas`` replicas of ``batch_size`` images each.

    The global batch is ``batch_size * replicas``: k times larger, so k times fewer steps per epoch. SGD keeps
    the same progress per epoch with a k-times larger rate (the linear scaling rule, Goyal et al. 2017,
    "Accurate, Large Minibatch SGD"; it needs the warm-up ``fit``'s schedules have). Adam and NAdam
    normalise the gradient by its own size, and for them the square-root rule holds (Malladi et al. 2022,
    "On the SDEs and Scaling Rules for Adaptive Gradient Algorithms"): the rate times ``sqrt(k)``."""
    factor = replicas if optimizer == "sgd" else math.sqrt(replicas)
    return batch_size * replicas, lr * factor


def split_cpu(n: int) -> None:
    """Show the CPU as ``n`` devices, to try data parallelism without GPUs (tests, the notebook, benchmarks).

    TensorFlow: ``n`` logical CPU devices (call it before TensorFlow runs any operation). JAX: ``n`` host
    devices through ``XLA_FLAGS``, which only works before JAX starts: set it in the environment of a new
    process, e.g. ``XLA_FLAGS=--xla_force_host_platform_device_count=2``, and train compiled (``fit``'s
    ``jit_compile='auto'``): uncompiled, each operation is a program of its own on every device, and XLA's CPU
    runtime can deadlock in their all-reduces on a busy machine."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    elif backend == "jax":
        import jax
        if len(jax.devices()) != n:
            raise RuntimeError(f"JAX already started with {len(jax.devices())} device(s); start Python with "
                               f"XLA_FLAGS=--xla_force_host_platform_device_count={n} to get {n}")
    else:
        raise RuntimeError(f"split_cpu: Keras' {backend} backend trains on one device")


def worker_config(hosts: list, index: int) -> str:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of ``hosts`` (``['10.0.0.1:2222', ...]``): every
    machine runs the same training command with its own ``TF_CONFIG``; worker 0 writes the outputs."""
    return json.dumps({"cluster": {"worker": list(hosts)}, "task": {"type": "worker", "index": index}})


__all__ = ["Plan", "plan", "scaled", "split_cpu", "worker_config"]
