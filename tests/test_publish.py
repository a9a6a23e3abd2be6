"""The published, executed copies of the notebooks (docs/notebooks/) match the notebooks' code."""

import re

import nbformat
import pytest

from helpers import publish
from helpers.data import project_root
from helpers.run import notebooks

DOCS = project_root() / "docs" / "notebooks"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_the_published_copy_matches_the_notebook(path):
    published = DOCS / f"{path.stem}.md"
    assert published.exists(), f"{published} missing: python -m helpers.publish RUN_DIR (README)"
    found = re.search(r"code fingerprint ([0-9a-f]{16})", published.read_text())
    assert found, f"{published}: no code fingerprint in its first line"
    current = publish.code_fingerprint(nbformat.read(path, as_version=4))
    assert found.group(1) == current, (f"{path.name} changed since it was published: run the workbook on "
                                       f"FER2013 and python -m helpers.publish RUN_DIR (README)")


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_the_published_copy_has_the_notebooks_prose(path):
    published = (DOCS / f"{path.stem}.md").read_text()
    stale = [c.source.splitlines()[0] for c in nbformat.read(path, as_version=4).cells
             if c.cell_type == "markdown" and c.source.strip() not in published]
    assert not stale, (f"{path.name}: markdown changed since it was published ({stale[:3]}): "
                       f"python -m helpers.publish RUN_DIR takes the notebook's prose as it is now")


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_the_published_copy_keeps_html_tables_and_urls_whole(path):
    published = (DOCS / f"{path.stem}.md").read_text()
    for tag in ("table", "tr", "th", "td", "div", "pre", "span"):
        opened, closed = len(re.findall(rf"<{tag}[ >]", published)), published.count(f"</{tag}>")
        assert opened == closed, f"{path.stem}.md: {opened} <{tag}> but {closed} </{tag}>: republish it"
    assert not re.search(r"https?:/(?!/)", published), f"{path.stem}.md: a URL lost its '//': republish it"


def test_publishing_takes_the_notebooks_prose_as_it_is_now(tmp_path):
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Sad -> neutral: 18%."),
                                             nbformat.v4.new_code_cell("x = 1")])
    nbformat.write(source, tmp_path / "nb.ipynb")
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Sad -> neutral: 19%."),
                                               nbformat.v4.new_code_cell("x = 1")])
    assert publish._current_prose(executed, tmp_path / "nb.ipynb").cells[0].source == "Sad -> neutral: 18%."
    executed.cells[1].source = "x = 2"                   # other code: the run's copy is kept as it is
    executed.cells[0].source = "Sad -> neutral: 19%."
    assert publish._current_prose(executed, tmp_path / "nb.ipynb").cells[0].source == "Sad -> neutral: 19%."
    executed.cells[1].source = "x = 1"                   # same code, a cell more: no guessing which is which
    executed.cells.insert(0, nbformat.v4.new_markdown_cell("Intro."))
    assert publish._current_prose(executed, tmp_path / "nb.ipynb").cells[1].source == "Sad -> neutral: 19%."


def test_a_runs_peak_memory_is_recorded_with_its_notebook(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "project_root", lambda: tmp_path)
    (tmp_path / "docs").mkdir()
    summary = {"started": "2026-12-07T03:40:00", "machine": "AMD EPYC, 2 cores", "seconds": 30.0,
               "peak_memory_mb": 2970, "notebooks": [{"name": "00_a", "seconds": 10.0, "peak_memory_mb": 900},
                                                     {"name": "03_b", "seconds": 20.0, "peak_memory_mb": 2970}]}
    assert publish.record_runtimes(summary)["fer2013"]["memory"] == {"peak_mb": 2970, "notebook": "03_b"}
    del summary["peak_memory_mb"]                        # a run from before the runner measured memory
    assert "memory" not in publish.record_runtimes(summary)["fer2013"]


def test_the_published_copies_stay_small():
    files = [p for p in (project_root() / "docs").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 8 * 2**20          # a few MB in all
    assert all(p.stat().st_size < 1 * 2**20 for p in files)           # no single huge figure or output


def test_the_fingerprint_sees_code_but_not_the_injected_parameters():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    before = publish.code_fingerprint(nb)
    injected = nbformat.v4.new_code_cell("FAST_MODE = True")
    injected.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(0, injected)
    assert publish.code_fingerprint(nb) == before
    nb.cells[-1].source = "x = 2"
    assert publish.code_fingerprint(nb) != before


def test_the_readme_quotes_the_published_run_and_it_reproduces_the_shipped_model():
    import json

    from helpers import shipped
    summary = json.loads((DOCS / "summary.json").read_text())
    m = {nb["name"][:2]: nb["metrics"] for nb in summary["notebooks"]}
    readme = (project_root() / "README.md").read_text()
    quoted = {"pixels + PCA + SVM": m["03"]["pca_svm_private_accuracy"], "best classical": m["03"]["svm_private_accuracy"],
              "CNN + SVM": m["04"]["stacking_private_accuracy"], "CNN": m["04"]["cnn_private_accuracy"],
              "CNN, TTA chosen on PublicTest": m["02"]["cnn_private_accuracy"]}
    missing = {name: f"{value:.1%}" for name, value in quoted.items() if f"{value:.1%}" not in readme}
    assert not missing, f"README's results table does not show the published run's figures {missing}"
    scores = shipped.metadata()["scores"]                                          # measured when it was shipped
    options = {"no TTA": "accuracy", "flip TTA": "accuracy_tta", "flip + shifts TTA": "accuracy_shift_tta"}
    best = max(options, key=lambda name: scores["public"][options[name]])          # on a tie, the cheaper
    assert m["02"]["cnn_private_tta"] == best                                      # notebook 02 chose the same
    assert m["02"]["cnn_private_accuracy"] == pytest.approx(scores["private"][options[best]], abs=0.002)


def test_every_run_time_quoted_is_the_one_the_runner_measured():
    """One source for run times: docs/runtimes.json, written by helpers.publish from a run's summary."""
    assert publish.stale_runtime_text() == {}, "python -m helpers.publish RUN_DIR rewrites them"
    readme = (project_root() / "README.md").read_text()
    for path in notebooks():
        header = nbformat.read(path, as_version=4).cells[0].source
        for kind in ("fer2013", "demo"):
            marker = f"<!--rt:{kind}/{path.stem}-->"
            assert marker in header and marker in readme, (path.name, kind)


def test_run_time_markers_render_from_the_recorded_times():
    runtimes = {"demo": {"date": "2026-01-02", "machine": "Intel(R) Xeon(R), 2 cores", "total": 312.0,
                         "notebooks": {"00_x": 8.4, "02_y": 95.0}}}
    text = "a <!--rt:demo/00_x-->old<!--/rt--> b <!--rt:demo/02_y--><!--/rt--> <!--rt:demo/total-->?<!--/rt-->"
    assert publish._render(text, runtimes) == ("a <!--rt:demo/00_x-->8 s<!--/rt--> b <!--rt:demo/02_y-->1.6 min"
                                               "<!--/rt--> <!--rt:demo/total-->5.2 min<!--/rt-->")
    assert publish.runtime_text("demo", "when", runtimes) == "Intel Xeon, 2 cores, 2026-01-02"
    assert publish.runtime_text("demo", "memory", runtimes) == "not measured yet"     # a run from before
    runtimes["demo"]["memory"] = {"peak_mb": 2970, "notebook": "02_y"}
    assert publish._render("<!--rt:demo/memory-->?<!--/rt-->", runtimes) == \
        "<!--rt:demo/memory-->2.9 GB (02_y)<!--/rt-->"
