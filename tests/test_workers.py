"""The test command's own sizing: how many pytest-xdist workers ``-n auto`` starts (tests/conftest.py)."""

import types

import psutil
import pytest

import conftest


def _workers(monkeypatch, cores, available_gb):
    monkeypatch.setattr("xdist.plugin.pytest_xdist_auto_num_workers", lambda config: cores)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: types.SimpleNamespace(available=available_gb * 1e9))
    config = types.SimpleNamespace(stash=pytest.Stash())
    workers = conftest.pytest_xdist_auto_num_workers(config)
    dataset, *note = conftest.pytest_report_header(config)          # the header's first line names the dataset
    assert dataset.startswith("dataset for the notebook runs and FER2013 checks: ")
    return workers, (note[0] if note else None)


def test_one_worker_per_core_while_the_memory_holds_them(monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    assert _workers(monkeypatch, cores=4, available_gb=14) == (4, None)         # GitHub's runner: one per core
    workers, note = _workers(monkeypatch, cores=16, available_gb=10)            # a 16-core laptop, 10 GB free
    assert workers == 3 and note.startswith("3 test worker(s) for 16 cores: 10.0 GB")
    assert _workers(monkeypatch, cores=8, available_gb=2)[0] == 1               # never none


def test_the_users_own_number_of_workers_wins(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "12")
    assert _workers(monkeypatch, cores=16, available_gb=10) == (None, None)    # left to pytest-xdist
