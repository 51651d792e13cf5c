"""Audit as a table, and as journal lines with syslog priority prefixes: pure, audit -> str.

Every value is escaped (render.escape), so no name or message can start a line of its own.
"""

from __future__ import annotations

from tabulate import tabulate

from pcie_failover.audit.report import AuditReport, PairAudit
from pcie_failover.model.results import RuleResult, Severity, Status, Verdict
from pcie_failover.render.escape import escape
from pcie_failover.render.table import escaped_rows

# sd-daemon(3) prefixes: journald stores them as the line's priority.
_PRIORITY = {Verdict.READY: "<6>", Verdict.UNDETERMINED: "<4>", Verdict.NOT_READY: "<3>"}


def _deciding(result: RuleResult, strict: bool) -> bool:
    """Whether the result makes the pair not ready or undetermined (verdict_of's conditions)."""
    return (
        result.status is Status.FAIL
        or (strict and result.status is Status.WARN)
        or (result.status is Status.UNKNOWN and result.severity is Severity.FAIL)
    )


def _wrong(pair: PairAudit) -> str:
    """What keeps the pair from being ready: another pair's claim on its primary, and the deciding checks."""
    if pair.report is None:
        return pair.resolved.note
    shared = pair.shared_with
    parts = [f"primary shared with pair{'s' if len(shared) > 1 else ''} {', '.join(shared)}"] if shared else []
    parts += [f"{r.rule_id}: {r.message}" for r in pair.report.results if _deciding(r, pair.report.strict)]
    return "; ".join(parts)


def _warnings(pair: PairAudit) -> list[str]:
    """Warnings that do not decide the verdict (without --strict)."""
    if pair.report is None or pair.report.strict:
        return []
    return [f"{pair.record.name}: {r.rule_id}: {r.message}" for r in pair.report.results if r.status is Status.WARN]


def render_audit_table(report: AuditReport) -> str:
    """One row per pair; the warnings that leave a pair ready below, under their own heading; registry problems."""
    rows = [
        [
            pair.record.name,
            pair.record.vm or "-",
            "-" if pair.resolved.address is None else str(pair.resolved.address),
            pair.verdict.value,
            _wrong(pair) or "-",
        ]
        for pair in report.pairs
    ]
    if rows:
        headers = ["pair", "vm", "primary", "verdict", "what is wrong"]
        text = tabulate(escaped_rows(rows), headers=headers, tablefmt="simple") + "\n"
    elif report.device is not None:
        text = f"no registered pair uses {report.device}\n"
    else:
        text = "no registered pairs\n"
    warnings = [line for pair in report.pairs for line in _warnings(pair)]
    if warnings:
        text += "warnings (not failures; --strict makes them so):\n" + "".join(f"  {escape(w)}\n" for w in warnings)
    return text + "".join(f"registry: {escape(problem)}\n" for problem in report.problems)


def render_journal(report: AuditReport) -> str:
    """One line per pair (and per registry problem) for journald."""
    lines = [
        (
            _PRIORITY[p.verdict],
            f"pair {p.record.name} ({'not found' if p.resolved.address is None else p.resolved.address}):"
            f" {p.verdict.value}" + (f": {_wrong(p)}" if p.verdict is not Verdict.READY else ""),
        )
        for p in report.pairs
    ]
    lines += [("<4>", f"registry: {problem}") for problem in report.problems]
    return "".join(f"{priority}{escape(text)}\n" for priority, text in lines)
