"""The README and docs/ point only inside the repository or to upstream URLs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
CLIMB = re.compile(r"(?<![\w./-])\.\./[\w./-]+")  # a relative path that starts by climbing, anywhere in the text


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_links_stay_in_the_repository(document: Path) -> None:
    text = document.read_text()
    outside = []
    for target in LINK.findall(text):
        if target.startswith(("https://", "http://", "#")):
            continue
        path = (document.parent / target.split("#")[0]).resolve()
        if not path.is_relative_to(REPO) or not path.exists():
            outside.append(target)
    climbing = [path for path in CLIMB.findall(text) if not (document.parent / path).resolve().is_relative_to(REPO)]
    assert (outside, climbing) == ([], [])
