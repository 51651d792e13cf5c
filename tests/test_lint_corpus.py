"""QEMU is the oracle: every corpus configuration QEMU 10 showed broken is flagged by the rule that explains it.

`tests/lint_corpus/outcomes.json` is what `python -m lab.lint_oracle` recorded (refused to start, never
paired in the guest, lost its primary on migration, or works); these tests replay it without QEMU.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pcie_failover.lint.command import run_lint
from pcie_failover.lint.model import ConfigKind
from pcie_failover.lint.report import LintReport
from pcie_failover.model.results import Status

CORPUS = Path(__file__).parent / "lint_corpus"
OUTCOMES: dict[str, Any] = json.loads((CORPUS / "outcomes.json").read_text())
ENTRIES = sorted(CORPUS.glob("*.args"))
QEMU_VERSION = re.match(r"[\d.]+", OUTCOMES["qemu_version"])[0]  # type: ignore[index]


def _explains(text: str) -> set[str]:
    found = re.search(r"^# explains: (.+)$", text, re.MULTILINE)
    return set(found[1].split()) if found else set()


def _lint(text: str) -> LintReport:
    return run_lint(text, ConfigKind.QEMU, source="corpus", root=None, why_not="--no-host", version=QEMU_VERSION)


def test_the_corpus_is_large_and_recorded_with_qemu_10() -> None:
    assert len(ENTRIES) >= 30
    assert OUTCOMES["qemu_version"].startswith("10.")
    assert set(OUTCOMES["configs"]) == {p.stem for p in ENTRIES}
    outcomes = {r["outcome"] for r in OUTCOMES["configs"].values()}
    assert outcomes == {"refused", "unpaired", "lost-primary", "works"}


@pytest.mark.parametrize("path", ENTRIES, ids=lambda p: p.stem)
def test_lint_agrees_with_qemu(path: Path) -> None:
    text = path.read_text()
    record = OUTCOMES["configs"][path.stem]
    assert record["digest"] == hashlib.sha256(text.encode()).hexdigest(), (
        f"outcomes.json is stale for {path.stem}: run python -m lab.lint_oracle {path.stem}"
    )
    report = _lint(text)
    failing = {r.rule_id for r in report.results if r.status is Status.FAIL}
    explains = _explains(text)
    if record["outcome"] == "works":
        assert not failing, f"QEMU paired and migrated it, lint fails {failing}"
        assert not explains
    else:
        assert explains, f"QEMU: {record['outcome']}, but the corpus entry names no rule"
        assert explains <= failing, f"QEMU: {record['outcome']} ({record.get('refused')}); lint fails {failing}"


@pytest.mark.parametrize(
    "path", [p for p in ENTRIES if OUTCOMES["configs"].get(p.stem, {}).get("refused")], ids=lambda p: p.stem
)
def test_a_refusal_is_explained_in_qemus_words(path: Path) -> None:
    """The explaining rule's message quotes what QEMU said when it refused to start."""
    refused = OUTCOMES["configs"][path.stem]["refused"]
    report = _lint(path.read_text())
    messages = " ".join(r.message for r in report.results if r.rule_id in _explains(path.read_text()))
    assert refused in messages


@pytest.mark.parametrize("path", ENTRIES, ids=lambda p: p.stem)
def test_qemus_failover_warnings_are_quoted(path: Path) -> None:
    """A failover warning QEMU gave when it could not plug the hidden primary is in the explaining rule's message."""
    text = path.read_text()
    warnings = [w for w in OUTCOMES["configs"][path.stem]["qemu_warnings"] if "failover" in w]
    messages = " ".join(r.message for r in _lint(text).results if r.rule_id in _explains(text))
    assert [w for w in warnings if w not in messages] == []
