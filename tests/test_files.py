"""Outputs are replaced in one step: an interrupted write leaves the old file, never half a new one."""

import pytest

from helpers import files


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    files.write_text(target, "old")
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_path(target) as tmp:
            tmp.write_text("half of the ne")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_a_write_that_produced_nothing_is_an_error(tmp_path):
    with pytest.raises(OSError, match="nothing was written"):
        with files.atomic_path(tmp_path / "figure.png"):
            pass                                    # e.g. a library that failed without raising
    assert not (tmp_path / "figure.png").exists()
