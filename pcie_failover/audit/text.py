"""Audit as a table, and as journal lines with syslog priority prefixes: pure, audit -> str.

Every value is escaped (render.escape), so no name or message can start a line of its own.
Narrower than the table (a Layout's width), the table becomes one block per pair (`key  value`
lines, each deciding check on a line of its own); colour paints each verdict.
"""

from __future__ import annotations

from tabulate import tabulate

from pcie_failover.audit.report import AuditReport, PairAudit
from pcie_failover.model.results import RuleResult, Severity, Status, Verdict
from pcie_failover.render.escape import escape
from pcie_failover.render.layout import PLAIN, Layout, fit_table, fits, key_value_lines, paint, wrap
from pcie_failover.render.table import VERDICT_TONE, escaped_rows

# sd-daemon(3) prefixes: journald stores them as the line's priority.
_PRIORITY = {Verdict.READY: "<6>", Verdict.UNDETERMINED: "<4>", Verdict.NOT_READY: "<3>"}


def _deciding(result: RuleResult, strict: bool) -> bool:
    """Whether the result makes the pair not ready or undetermined (verdict_of's conditions)."""
    return (
        result.status is Status.FAIL
        or (strict and result.status is Status.WARN)
        or (result.status is Status.UNKNOWN and result.severity is Severity.FAIL)
    )


def _wrong_parts(pair: PairAudit) -> list[str]:
    """What keeps the pair from being ready: another pair's claim on its primary, and the deciding checks."""
    if pair.report is None:
        return [pair.resolved.note] if pair.resolved.note else []
    shared = pair.shared_with
    parts = [f"primary shared with pair{'s' if len(shared) > 1 else ''} {', '.join(shared)}"] if shared else []
    return parts + [f"{r.rule_id}: {r.message}" for r in pair.report.results if _deciding(r, pair.report.strict)]


def _wrong(pair: PairAudit) -> str:
    return "; ".join(_wrong_parts(pair))


def _warnings(pair: PairAudit) -> list[str]:
    """Warnings that do not decide the verdict (without --strict)."""
    if pair.report is None or pair.report.strict:
        return []
    return [f"{pair.record.name}: {r.rule_id}: {r.message}" for r in pair.report.results if r.status is Status.WARN]


_HEADERS = ["pair", "vm", "primary", "verdict", "what is wrong"]


def render_audit_table(report: AuditReport, layout: Layout = PLAIN) -> str:
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
    width = layout.width
    if rows:
        cells = escaped_rows(rows)
        painted = [
            [*row[:3], paint(row[3], VERDICT_TONE[pair.verdict], layout), row[4]]
            for row, pair in zip(cells, report.pairs, strict=True)
        ]
        text = tabulate(painted, headers=_HEADERS, tablefmt="simple") + "\n"
        if width is not None and not fits(text, width):  # each deciding check on a line of its own, wrapped
            split = [
                [*row[:4], "\n".join(escape(part) for part in _wrong_parts(pair)) or "-"]
                for row, pair in zip(painted, report.pairs, strict=True)
            ]
            narrow = fit_table(split, _HEADERS, {4: None}, width)
            text = "" if narrow is None else tabulate(narrow, headers=_HEADERS, tablefmt="simple") + "\n"
        if width is not None and not (text and fits(text, width)):
            text = _pair_blocks(report, width, layout) + ("\n" if report.problems or _any_warning(report) else "")
    elif report.device is not None:
        text = "\n".join(wrap(f"no registered pair uses {report.device}", width, "", "  ")) + "\n"
    else:
        text = "no registered pairs\n"
    warnings = [line for pair in report.pairs for line in _warnings(pair)]
    if warnings:
        text += "".join(
            f"{line}\n" for line in wrap("warnings (not failures; --strict makes them so):", width, "", "  ")
        )
        text += "".join(f"{line}\n" for w in warnings for line in wrap(escape(w), width, "  ", "    "))
    return text + "".join(
        f"{line}\n" for problem in report.problems for line in wrap(escape(problem), width, "registry: ", "  ")
    )


def _any_warning(report: AuditReport) -> bool:
    return any(_warnings(pair) for pair in report.pairs)


def _pair_blocks(report: AuditReport, width: int, layout: Layout) -> str:
    """Per pair: `pair NAME  verdict`, then vm, primary and what is wrong (one deciding check a line)."""
    blocks = []
    for pair in report.pairs:
        name = escape(pair.record.name)
        lines = wrap(pair.verdict.value, width, f"pair {name}  ", "  ", tone=VERDICT_TONE[pair.verdict], layout=layout)
        primary = "-" if pair.resolved.address is None else str(pair.resolved.address)
        wrong = [escape(part) for part in _wrong_parts(pair)] or ["-"]
        values = [("vm", escape(pair.record.vm or "-")), ("primary", primary)]
        values += [("what is wrong" if index == 0 else "", part) for index, part in enumerate(wrong)]
        lines += key_value_lines([(key, value, None) for key, value in values], width, layout, more="  ")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


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
