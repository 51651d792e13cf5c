"""What `lint` found: the guest-side results and each primary's host check, with one verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from pcie_failover.lint.model import HostFacts, VmConfig
from pcie_failover.model.report import CheckReport
from pcie_failover.model.results import ExitCode, RuleResult, Verdict, exit_code_of, verdict_of, worst


@dataclass(frozen=True)
class HostItem:
    """One primary's host device: the `check` report, or why it was not checked (`verdict` None: skipped)."""

    primary: str
    device: str  # the host address as written or parsed
    report: CheckReport | None
    verdict: Verdict | None
    note: str | None


@dataclass(frozen=True)
class LintReport:
    """`lint`: one VM configuration."""

    source: str  # the file name, or "-"
    config: VmConfig
    qemu_version: str | None
    sysfs_root: str | None  # None: no host check asked for
    results: tuple[RuleResult, ...]
    hosts: tuple[HostItem, ...]
    facts: HostFacts = field(default_factory=HostFacts)  # what the host check read that the rules compared

    @property
    def verdict(self) -> Verdict:
        """The worst over the guest rules and the host items."""
        return worst([verdict_of(self.results), *(h.verdict for h in self.hosts if h.verdict is not None)])

    @property
    def exit_code(self) -> ExitCode:
        """0 ready, 1 not ready, 4 undetermined."""
        return exit_code_of(self.verdict)
