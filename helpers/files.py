"""Writing output files so that an interruption never leaves half a file behind.

Each output is written to a temporary file beside its target, then renamed over it in one step: a reader
(or the next run) sees the old file or the new one, never a truncated mix.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike):
    """Yield a temporary path (same folder, same suffix) to write to; it replaces ``target`` only if the
    block finishes without an error, and is deleted otherwise."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")
    try:
        yield tmp
        if not tmp.exists():
            raise OSError(f"{target}: nothing was written")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(target: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``target`` atomically; returns the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)
