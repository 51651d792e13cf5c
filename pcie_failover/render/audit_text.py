"""Audit as a table, and as journal lines with syslog priority prefixes: pure, audit -> str.

Every value is escaped (render.escape), so no name or message can start a line of its own.
"""

from __future__ import annotations

from tabulate import tabulate

from pcie_failover.audit.report import AuditReport, PairAudit
from pcie_failover.model.results import Status, Verdict
from pcie_failover.render.escape import escape
from pcie_failover.render.table import escaped_rows

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
    table = tabulate(
        escaped_rows(rows), headers=["pair", "vm", "primary", "verdict", "what is wrong"], tablefmt="simple"
    )
    problems = "".join(f"registry: {escape(problem)}\n" for problem in report.problems)
    return (table + "\n" if rows else "no registered pairs\n") + problems


def render_journal(report: AuditReport) -> str:
    """One line per pair (and per unreadable registry file) for journald."""
    lines = [
        (
            _PRIORITY[p.verdict],
            f"pair {p.record.name} ({'not found' if p.resolved.address is None else p.resolved.address}):"
            f" {p.verdict.value}" + (f": {_failing(p)}" if p.verdict is not Verdict.READY else ""),
        )
        for p in report.pairs
    ]
    lines += [("<4>", f"registry: {problem}") for problem in report.problems]
    return "".join(f"{priority}{escape(text)}\n" for priority, text in lines)
