"""`rules`: the rule ledger, read from the two explicit registries (no host, no file is read)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pcie_failover.model.results import Severity
from pcie_failover.model.rule import Rule, Source


class RuleKind(enum.Enum):
    """Which registry: host rules (`check`), guest rules (`lint`), or both."""

    HOST = "host"
    GUEST = "guest"
    ALL = "all"


@dataclass(frozen=True)
class LedgerEntry:
    """One rule as the ledger shows it: what it claims, where upstream enforces it, which tests prove it."""

    rule_id: str
    kind: RuleKind  # HOST or GUEST
    severity: Severity
    title: str
    fact: str
    sources: tuple[Source, ...]
    proofs: tuple[str, ...]


@dataclass(frozen=True)
class Ledger:
    """Every rule of the asked registries, in their report order (host rules first)."""

    kind: RuleKind
    entries: tuple[LedgerEntry, ...]


def _entries(kind: RuleKind, rules: Iterable[Rule[Any]]) -> list[LedgerEntry]:
    return [LedgerEntry(r.rule_id, kind, r.severity, r.title, r.fact, r.sources, r.proofs) for r in rules]


def run_rules(kind: RuleKind) -> Ledger:
    """The ledger of `kind`'s rules."""
    from pcie_failover.lint.rules import LINT_RULES
    from pcie_failover.rules import HOST_RULES

    entries: list[LedgerEntry] = []
    if kind in (RuleKind.HOST, RuleKind.ALL):
        entries += _entries(RuleKind.HOST, HOST_RULES)
    if kind in (RuleKind.GUEST, RuleKind.ALL):
        entries += _entries(RuleKind.GUEST, LINT_RULES)
    return Ledger(kind, tuple(entries))
