"""What an audit found, pair by pair, for the renderers."""

from __future__ import annotations

from dataclasses import dataclass

from pcie_failover.audit.record import PairRecord, Resolved
from pcie_failover.model.address import PciAddress
from pcie_failover.model.report import CheckReport
from pcie_failover.model.results import ExitCode, Verdict, exit_code_of, worst


@dataclass(frozen=True)
class PairAudit:
    """One pair: where its primary is now, its check (None when it was not found), the other pairs sharing it."""

    record: PairRecord
    resolved: Resolved
    report: CheckReport | None
    shared_with: tuple[str, ...]

    @property
    def verdict(self) -> Verdict:
        """Not found, or a primary another pair has too, is not ready."""
        return Verdict.NOT_READY if self.report is None or self.shared_with else self.report.verdict


@dataclass(frozen=True)
class AuditReport:
    """Every audited pair (those `device` touches, when given), and the registry's problems."""

    sysfs_root: str
    registry: str
    pairs: tuple[PairAudit, ...]
    problems: tuple[str, ...]
    finished: float  # Unix time
    duration: float  # seconds
    device: PciAddress | None

    @property
    def verdict(self) -> Verdict:
        """The worst verdict; a registry problem (a file skipped, a missing directory) makes it undetermined at best."""
        verdicts = [p.verdict for p in self.pairs] + ([Verdict.UNDETERMINED] if self.problems else [])
        return worst(verdicts)

    @property
    def exit_code(self) -> ExitCode:
        """0 all ready (or none registered), 1 any not ready, 4 otherwise undetermined."""
        return exit_code_of(self.verdict)
