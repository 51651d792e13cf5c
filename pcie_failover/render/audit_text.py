"""Audit as a table, and as journal lines with syslog priority prefixes: pure, audit -> str."""

from __future__ import annotations

from tabulate import tabulate

from pcie_failover.audit.report import AuditReport, PairAudit
from pcie_failover.model.results import Status, Verdict

# sd-daemon(3) prefixes: journald stores them as the line's priority.
_PRIORITY = {Verdict.READY: "<6>", Verdict.UNDETERMINED: "<4>", Verdict.NOT_READY: "<3>"}


def _failing(pair: PairAudit) -> str:
    if pair.report is None:
        return pair.resolved.note
    bad = [r for r in pair.report.results if r.status in (Status.FAIL, Status.UNKNOWN) and r.severity.value == "fail"]
    return "; ".join(f"{r.rule_id}: {r.message}" for r in bad)


def render_audit_table(report: AuditReport) -> str:
    """One row per pair."""
    rows = [
        [
            pair.record.name,
            pair.record.vm or "-",
            "-" if pair.resolved.address is None else str(pair.resolved.address),
            pair.verdict.value,
            _failing(pair) or "-",
        ]
        for pair in report.pairs
    ]
    table = tabulate(rows, headers=["pair", "vm", "primary", "verdict", "what is wrong"], tablefmt="simple")
    problems = "".join(f"registry: {problem}\n" for problem in report.problems)
    return (table + "\n" if rows else "no registered pairs\n") + problems


def render_journal(report: AuditReport) -> str:
    """One line per pair (and per unreadable registry file) for journald."""
    lines = [
        f"{_PRIORITY[p.verdict]}pair {p.record.name}"
        f" ({'not found' if p.resolved.address is None else p.resolved.address}): {p.verdict.value}"
        + (f": {_failing(p)}" if p.verdict is not Verdict.READY else "")
        for p in report.pairs
    ]
    lines += [f"<4>registry: {problem}" for problem in report.problems]
    return "".join(f"{line}\n" for line in lines)
