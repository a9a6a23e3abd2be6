"""Small datasets written in every format the loaders read; each test gets fresh copies in tmp_path."""

import os

#: The math libraries' thread settings, as the user gave them (None: unset), read before this file sets any.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
USER_THREADS = {name: os.environ.get(name) for name in THREAD_VARIABLES}
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    # pytest-xdist's workers (pyproject.toml: one per core) each get their share of the cores, set before numpy
    # and TensorFlow start their thread pools: otherwise every worker's pools spin on every core
    share = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, share)

import socket

import cv2
import numpy as np
import pytest

from helpers import demo, machine
from helpers.data import FER2013_CSV_LABELS

machine.use_default_backend()       # no TensorFlow (Python 3.14, Intel Macs): the tests' `import keras` is JAX


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test reads the developer's data or cache, or writes into the project's runs/."""
    monkeypatch.setenv("FER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("FER_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("FER_DATA", raising=False)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny():
    """The demo set, 12 faces per class: small enough to train on in seconds (tests read it, never change it)."""
    return demo.make_dataset(per_class=12, seed=0)


def face(rng, h=48, w=48, channels=1, dtype=np.uint8):
    shape = (h, w) if channels == 1 else (h, w, channels)
    if dtype == np.uint16:
        return rng.integers(0, 65536, shape).astype(np.uint16)
    return rng.integers(0, 256, shape).astype(np.uint8)


def write_image(path, img):
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(path.suffix, img)
    assert ok
    buf.tofile(str(path))


@pytest.fixture
def fer_csv(tmp_path):
    """A FER2013-style CSV: 2 rows per class and usage, codes 0-6 in the CSV's own order."""
    rng = np.random.default_rng(0)
    rows = ["emotion,pixels,Usage"]
    for usage in ("Training", "PublicTest", "PrivateTest"):
        for code in range(7):
            for _ in range(2):
                rows.append(f"{code},{' '.join(map(str, face(rng).ravel()))},{usage}")
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def kaggle_folders(tmp_path):
    """FER2013 in Kaggle's layout: train/<class>/Training_*.jpg, test/<class>/{Public,Private}Test_*.jpg."""
    rng = np.random.default_rng(1)
    root = tmp_path / "fer2013"
    n = 0
    for cls in sorted(FER2013_CSV_LABELS):
        for split, prefix, count in (("train", "Training", 3), ("test", "PublicTest", 2), ("test", "PrivateTest", 1)):
            for _ in range(count):
                n += 1
                write_image(root / split / cls / f"{prefix}_{1000 + n}.jpg", face(rng))
    return root


@pytest.fixture
def ckplus_folders(tmp_path):
    """A CK+-style set: one folder per class with CK+'s names, colour PNGs of another size, no split."""
    rng = np.random.default_rng(2)
    root = tmp_path / "ckplus"
    for cls in ("anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"):
        for i in range(10):
            write_image(root / cls / f"S{i:03d}_{cls}.png", face(rng, 120, 100, channels=3))
    return root


@pytest.fixture
def affectnet_folders(tmp_path):
    """AffectNet-style: train/ and val/ with numbered class folders 0-7 (needs a class_map)."""
    rng = np.random.default_rng(3)
    root = tmp_path / "affectnet"
    for split, count in (("train", 6), ("val", 2)):
        for code in range(8):
            for i in range(count):
                write_image(root / split / str(code) / f"{i}.jpg", face(rng, 96, 96, channels=3))
    return root


AFFECTNET_MAP = {"0": "neutral", "1": "happy", "2": "sad", "3": "surprise", "4": "fear", "5": "disgust",
                 "6": "angry", "7": "contempt"}


def snapshot(root):
    """(path, size, mtime, bytes) of every file under root: to prove loading changes nothing."""
    out = []
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            out.append((p, st.st_size, st.st_mtime_ns, open(p, "rb").read()))
    return sorted(out)


def _session_data() -> str:
    """The dataset the FER2013 tests run on, as the runner finds it: $FER_DATA when set (CI points it at
    FER2013), else FER2013 where the README puts it (``data/fer2013/``, ``data/fer2013.csv``), else the demo
    set (``'demo'``)."""
    if os.environ.get("FER_DATA"):
        return os.environ["FER_DATA"]
    from helpers.data import find_data
    found = find_data()
    return str(found) if found else "demo"


#: The dataset the FER2013 tests run on (:func:`_session_data`), read before any test changes the environment.
SESSION_DATA = _session_data()


def pytest_collection_modifyitems(items):
    """The notebooks' tests first (a stable sort): their two runs take longest, so under pytest-xdist they start
    at once and share the cores with the other test files rather than finishing alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("notebooks") is None)


#: Memory one test worker may need (GB): the heaviest test files, each with the processes it starts, held
#: 2.0-3.2 GB (python benchmarks/tests_memory.py, 2026-12-07), and the workers run files at the same time.
WORKER_GB = 3.0
_WORKERS_NOTE = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject.toml): one worker per core as pytest-xdist counts them, but no more than the
    available memory holds at ``WORKER_GB`` each. A laptop with many cores and little memory would otherwise
    run out of it. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` (or ``-n N``) still chooses for you."""
    import psutil
    from xdist.plugin import pytest_xdist_auto_num_workers as per_core
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores, available = per_core(config), psutil.virtual_memory().available / 1e9
    workers = max(1, min(cores, int(available / WORKER_GB)))
    if workers < cores:
        config.stash[_WORKERS_NOTE] = (f"{workers} test worker(s) for {cores} cores: {available:.1f} GB of memory "
                                       f"available, {WORKER_GB:g} GB per worker (PYTEST_XDIST_AUTO_NUM_WORKERS "
                                       f"sets another number)")
    return workers


def pytest_report_header(config):
    """Which dataset the FER2013 tests run on (``SESSION_DATA``), and the workers' note when memory limits them."""
    data = "the generated demo set" if SESSION_DATA == "demo" else SESSION_DATA
    workers = config.stash.get(_WORKERS_NOTE, None)
    return [f"dataset for the notebook runs and FER2013 checks: {data}", *([workers] if workers else [])]
