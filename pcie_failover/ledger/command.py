"""`rules`: the rule ledger, read from the two explicit registries (no host, no file is read)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pcie_failover.model.rule import Ledger, LedgerEntry, Rule, RuleKind


def _entries(kind: RuleKind, rules: Iterable[Rule[Any]]) -> list[LedgerEntry]:
    return [LedgerEntry(r.rule_id, kind, r.severity, r.title, r.fact, r.sources, r.proofs) for r in rules]


def run_rules(kind: RuleKind) -> Ledger:
    """The ledger of `kind`'s rules."""
    from pcie_failover.lint.guest_rules import LINT_RULES
    from pcie_failover.rules import HOST_RULES

    entries: list[LedgerEntry] = []
    if kind in (RuleKind.HOST, RuleKind.ALL):
        entries += _entries(RuleKind.HOST, HOST_RULES)
    if kind in (RuleKind.GUEST, RuleKind.ALL):
        entries += _entries(RuleKind.GUEST, LINT_RULES)
    return Ledger(kind, tuple(entries))
