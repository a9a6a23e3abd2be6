"""Every relative link and image in the Markdown a reader meets (README, docs/, models/, benchmarks/, the
notebooks) points at a file a clone has, and every #anchor at a heading that exists.

A clone has what git tracks, not what happens to lie in this working tree: a record linked from the docs but
matched by .gitignore is missing on every other machine (docs/runs/ was, until 2026-12-07)."""

import json
import posixpath
import re
import subprocess
from pathlib import Path

import pytest

from helpers.data import project_root

ROOT = project_root()
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")          # [text](target) and ![alt](target)


def tracked_files() -> set[str]:
    """The paths git tracks in this checkout (what a clone gets), relative to the project root."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: which files a clone gets is unknown")
    return set(filter(None, listed.stdout.split("\0")))


def markdown_of(path: Path) -> str:
    """A Markdown file's text, or a notebook's markdown cells joined."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return path.read_text()


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors a Markdown text's headings (outside code blocks) and explicit ``<a id=...>`` tags give."""
    prose = re.sub(r"```.*?```", "", markdown, flags=re.S)
    found, seen = set(), {}
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", prose, flags=re.M):
        base = slug(heading)
        found.add(base if base not in seen else f"{base}-{seen[base]}")   # GitHub numbers repeated headings
        seen[base] = seen.get(base, 0) + 1
    return found | set(re.findall(r"<a (?:id|name)=\"([^\"]+)\"", markdown))


def broken_links() -> list[str]:
    """Every relative link in the tracked Markdown and notebooks whose file or anchor a clone lacks."""
    tracked = tracked_files()
    folders = {str(parent) for p in tracked for parent in Path(p).parents}      # a link may name a folder
    broken = []
    for name in sorted(p for p in tracked if p.endswith((".md", ".ipynb"))):
        source = ROOT / name
        for target in LINK.findall(markdown_of(source)):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):          # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            key = posixpath.normpath(posixpath.join(posixpath.dirname(name), path)) if path else name
            if key not in tracked and key not in folders:
                broken.append(f"{name}: {target}: not in git" + (" (it is ignored)" if (ROOT / key).exists() else ""))
            elif anchor and key.endswith(".md") and anchor not in anchors((ROOT / key).read_text()):
                broken.append(f"{name}: {target}: no heading gives #{anchor}")
    return broken


def test_slugs_follow_githubs_rules():
    assert slug("The first GPU runs (issue 21, 2026-11-29)") == "the-first-gpu-runs-issue-21-2026-11-29"
    assert slug("Packing FER2013 (`pack_cost.py`)") == "packing-fer2013-pack_costpy"
    assert slug("See [the card](models/README.md)") == "see-the-card"
    assert anchors("# A\n```\n# not a heading\n```\n## A\n") == {"a", "a-1"}


def test_every_relative_link_in_the_docs_reaches_a_tracked_file_and_heading():
    broken = broken_links()
    assert not broken, "\n".join(broken)
