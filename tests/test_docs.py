"""The project's docs stand alone: none points at the notes kept outside the repository
(`ARCHITECTURE.md`, `STYLE.md`, `DEVICES.md` in a `../shared` beside the checkout), and every
relative link leads to a file in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.broker import REPO

DOCS = sorted(
    [
        REPO / "README.md",
        REPO / "shared" / "README.md",
        REPO / "bench" / "README.md",
        *(REPO / "docs").rglob("*.md"),
        *(REPO / "services").glob("*/README.md"),
    ]
)
OUTSIDE = ("ARCHITECTURE.md", "STYLE.md", "DEVICES.md", "/work/")
# [text](target) and reference definitions `[name]: target`
LINK = re.compile(r"\]\(([^)\s]+)\)|^\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


def relative_links(doc: Path) -> list[str]:
    targets = [a or b for a, b in LINK.findall(doc.read_text())]
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_the_docs_are_found() -> None:
    names = {d.relative_to(REPO).as_posix() for d in DOCS}
    assert {"README.md", "docs/topics.md", "services/controller/README.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=[d.relative_to(REPO).as_posix() for d in DOCS])
def test_a_doc_points_at_nothing_outside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    assert [name for name in OUTSIDE if name in text] == []
    for target in relative_links(doc):
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(REPO), f"{target} leaves the repository"
        assert path.exists(), f"{target} does not exist"
