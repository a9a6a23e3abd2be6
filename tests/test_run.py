"""The runner (python -m helpers.run) as a user meets it: bad arguments, a run folder used twice, Ctrl-C and
--resume, progress. The notebooks themselves are checked in test_notebooks.py."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import data, run


@pytest.fixture
def no_kernels(monkeypatch):
    """Fail the test if the runner starts executing a notebook."""
    import papermill

    def started(*args, **kwargs):
        raise AssertionError("a notebook was executed")
    monkeypatch.setattr(papermill, "execute_notebook", started)


def test_a_bad_data_path_is_rejected_before_any_kernel_starts(tmp_path, no_kernels, capsys):
    assert run.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "nowhere: no such file or folder (--data)" in err and "$FER_DATA" not in err
    assert not (tmp_path / "run").exists()


def test_helpers_copied_out_of_the_workbook_say_to_install_it_in_place(tmp_path):
    """A plain `pip install .` copies helpers/ into site-packages, where a notebook's kernel imports it from."""
    shutil.copytree(Path(run.__file__).parent, tmp_path / "site" / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    proc = subprocess.run([sys.executable, "-m", "helpers.run", "--data", "demo"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert f"helpers runs from {tmp_path / 'site' / 'helpers'}, a copy outside the workbook" in proc.stderr
    assert "pip install -e ." in proc.stderr
    assert not list(tmp_path.glob("site/runs")), "nothing is written beside the copy"


def test_the_run_says_which_dataset_it_reads_and_how_it_was_found(tmp_path, monkeypatch):
    monkeypatch.delenv("FER_DATA", raising=False)
    assert run.data_line(tmp_path, None) == f"Data: {tmp_path} (from the project's data/)"
    assert run.data_line(tmp_path, str(tmp_path)) == f"Data: {tmp_path} (from --data)"
    monkeypatch.setenv("FER_DATA", str(tmp_path))                  # left set by another project, say
    assert run.data_line(tmp_path, None) == f"Data: {tmp_path} (from $FER_DATA)"


def test_the_demo_set_asked_for_by_name_is_not_called_data_not_found(tmp_path, capsys, monkeypatch):
    import papermill
    monkeypatch.setattr(papermill, "execute_notebook", lambda *args, **kwargs: None)   # no kernel needed
    monkeypatch.setattr(os, "environ", {k: v for k, v in os.environ.items() if k != "FER_DATA"})  # main sets some
    assert run.main(["--data", "demo", "--only", "00", "--out", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("DEMO DATA, as asked (--data is 'demo')") and "no dataset found" not in said
    monkeypatch.setenv("FER_DATA", "demo")
    assert run.demo_banner(data.demo_asked(None, "--data")).startswith("DEMO DATA, as asked ($FER_DATA is 'demo')")
    assert data.demo_asked(str(tmp_path), "--data") is None                  # a real path wins over $FER_DATA
    monkeypatch.setenv("FER_DATA", str(tmp_path))
    assert data.demo_asked(None) is None and run.demo_banner(None).startswith(run.DEMO_BANNER)


def test_a_run_folder_is_not_reused_without_resume(tmp_path, no_kernels, capsys):
    (tmp_path / "summary.json").write_text(json.dumps({"notebooks": []}))
    assert run.main(["--data", "demo", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} already holds a run" in err and "add --resume" in err
    assert run.main(["--resume"]) == 2                                  # --resume needs the folder


def test_the_resume_command_repeats_the_options():
    args = run.parse_args(["--fast", "--data", "/d", "--only", "00", "02", "--seed", "3", "--out", "x"])
    assert run.resume_command(args, "x") == ("python -m helpers.run --fast --data /d --only 00 02 --seed 3 "
                                            "--out x --resume")


def _notebook_of_two_code_cells():
    import nbformat
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# hi"), nbformat.v4.new_code_cell("1"),
                                           nbformat.v4.new_code_cell("2")])


def test_progress_shows_the_cell_and_the_training_epoch(tmp_path):
    with open(tmp_path / "log.txt", "w") as log:
        progress = run.Progress("[1/1] nb", log, live=True)             # a terminal: one bar, updated in place
        notebook = _notebook_of_two_code_cells()
        progress.on_notebook_start(notebook)
        progress.on_cell_start(notebook.cells[2], 2)
        progress.write("Epoch 3/12\n55/55 - 10s - accuracy: 0.3\n")
        assert (progress.bar.n, progress.bar.total) == (2, 2)
        assert "training epoch 3/12" in str(progress.bar)
        progress.close()
    assert "Epoch 3/12" in (tmp_path / "log.txt").read_text()            # the printed output is kept


def test_progress_in_a_log_is_one_plain_line_per_cell_and_epoch(tmp_path, capsys):
    """Not a terminal (CI, nohup): no carriage returns, a line each time the cell or the epoch changes."""
    with open(tmp_path / "log.txt", "w") as log:
        progress = run.Progress("[1/1] nb", log, live=False)
        notebook = _notebook_of_two_code_cells()
        progress.on_notebook_start(notebook)
        for index in (0, 1, 2):                                          # the markdown cell says nothing
            progress.on_cell_start(notebook.cells[index], index)
        progress.write("Epoch 1/2\n")
        progress.write("27/55 [=====>....] - accuracy: 0.3\n")           # the same epoch: no new line
        progress.write("Epoch 2/2\n")
        progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert all(re.search(r" \[\d\d:\d\d\]", line) for line in lines)          # each with the elapsed time
    assert [re.sub(r" \[\d\d:\d\d\]", "", line) for line in lines] == [
        "[1/1] nb: cell 1 of 2", "[1/1] nb: cell 2 of 2", "[1/1] nb: cell 2 of 2, training epoch 1/2",
        "[1/1] nb: cell 2 of 2, training epoch 2/2"]


def _wait_for(path, text, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.5)
    raise AssertionError(f"{text!r} did not appear in {path} within {seconds} s")


def test_ctrl_c_stops_cleanly_and_resume_finishes_the_run(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "helpers.run", "--only", "01", "--data", "demo", "--out", str(out)]
    # SIGINT as a terminal delivers it: a test session started in the background (nohup, `&`) has it ignored,
    # the child would inherit that, and Python then never raises KeyboardInterrupt (the run ends with 0)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # the data is loaded (cell 4 of 22): about 15 s of the notebook are still to run. (Notebook 00 finished
    # too soon after its last output: the signal sometimes came after the run had ended.)
    _wait_for(out / "runner.log", "Loaded Dataset")
    proc.send_signal(signal.SIGINT)                                    # as Ctrl-C in the terminal
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert f"Resume with: python -m helpers.run --data demo --only 01 --out {out} --resume" in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [(nb["name"], nb["status"]) for nb in summary["notebooks"]] == [("01_data_and_balancing", "interrupted")]
    executed = json.loads((out / "01_data_and_balancing.ipynb").read_text())
    statuses = [c["metadata"]["papermill"]["status"] for c in executed["cells"]]
    assert "interrupted" in statuses and statuses[-1] == "pending"      # not every cell "completed"
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert [(nb["name"], nb["status"]) for nb in summary["notebooks"]] == [("01_data_and_balancing", "ok")]


def test_peak_memory_is_what_the_children_held_at_most():
    with run.PeakMemory(interval=0.1) as before:        # what this process's other children hold (a pool, ...)
        time.sleep(0.3)
    hold = "import time; block = b'x' * (300 * 2**20); time.sleep(2)"     # 300 MB written, so resident
    with run.PeakMemory(interval=0.1) as memory:
        subprocess.run([sys.executable, "-c", hold], check=True)
    assert before.peak + 300 * 2**20 < memory.peak < before.peak + 600 * 2**20
