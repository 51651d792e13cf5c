"""What a rule is, for any input (a host's CheckInput, a VM's LintInput): a stable id, a severity, what it
checks, the upstream fact it mirrors, a pure check, and what it found."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import field
from typing import Generic, TypeVar

from pcie_failover.model.record import record
from pcie_failover.model.results import RuleResult, Severity, Status


@record
class Finding:
    """What a check found: status, one-line message, optional fix hint (may span lines)."""

    status: Status
    message: str
    hint: str | None = None


InputT = TypeVar("InputT")


@record
class Source:
    """Where upstream enforces what a rule mirrors: project, file in its tree, function or section."""

    project: str  # "linux", "qemu", "libvirt", "iproute2"
    path: str  # e.g. "drivers/vfio/vfio_iommu_type1.c"
    symbol: str  # e.g. "vfio_iommu_type1_attach_group()"

    def __str__(self) -> str:
        return f"{self.project} {self.path} {self.symbol}"


@record
class Rule(Generic[InputT]):
    """A named unit over some input (a host's CheckInput, a VM's LintInput): `rule_id` is stable.

    `sources` are where upstream enforces what the rule mirrors; `proofs` are the pytest node ids of the tests
    that prove it on the most real input (captures, lab, the QEMU oracle, then hand-made hosts). Both are
    required: `pcie-failover rules` and docs/rules.md are the ledger built from them.
    """

    rule_id: str
    severity: Severity
    title: str
    fact: str
    check: Callable[[InputT], Finding]
    sources: tuple[Source, ...] = field(kw_only=True)
    proofs: tuple[str, ...] = field(kw_only=True)

    def run(self, rule_input: InputT) -> RuleResult:
        """Apply the check; a `fail` from a warn-severity rule is capped at `warn`."""
        finding = self.check(rule_input)
        status = finding.status
        if status is Status.FAIL and self.severity is not Severity.FAIL:
            status = Status.WARN
        return RuleResult(self.rule_id, self.severity, status, finding.message, finding.hint)


class RuleKind(enum.Enum):
    """Which registry: host rules (`check`), guest rules (`lint`), or both."""

    HOST = "host"
    GUEST = "guest"
    ALL = "all"


@record
class LedgerEntry:
    """One rule as the ledger shows it: what it claims, where upstream enforces it, which tests prove it."""

    rule_id: str
    kind: RuleKind  # HOST or GUEST
    severity: Severity
    title: str
    fact: str
    sources: tuple[Source, ...]
    proofs: tuple[str, ...]


@record
class Ledger:
    """Every rule of the asked registries, in their report order (host rules first)."""

    kind: RuleKind
    entries: tuple[LedgerEntry, ...]
