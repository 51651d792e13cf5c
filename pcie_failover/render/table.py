"""What every human-readable table (tabulate) is made of: the marks and tones, a device's ids and name, the
table of check results; pure, every cell and headline escaped (render.escape). Each command's own table is in
its folder.

With a Layout (render.layout) whose width the natural table exceeds, a table of results (check, lint)
first narrows the message and fix columns, then falls back to one line per check and its mark, the
message and fix wrapped under it. Colour paints the status marks and the verdict, after escaping.
"""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from pcie_failover.model.report import DeviceSummary
from pcie_failover.model.results import RuleResult, Status, Verdict
from pcie_failover.render.escape import escape, escape_lines
from pcie_failover.render.layout import (
    GREEN,
    MAGENTA,
    PLAIN,
    RED,
    YELLOW,
    Layout,
    fit_table,
    fits,
    paint,
    wrap,
    wrap_hint,
    wrap_paragraphs,
)

MARK = {
    Status.PASS: "pass",
    Status.WARN: "WARN",
    Status.FAIL: "FAIL",
    Status.UNKNOWN: "unknown",
    Status.SKIP: "skip",
}
TONE = {"FAIL": RED, "WARN": YELLOW, "unknown": MAGENTA, "pass": GREEN}  # by mark, the text every table shows
VERDICT_TONE = {Verdict.READY: GREEN, Verdict.NOT_READY: RED, Verdict.UNDETERMINED: MAGENTA}


def device_ids(device: DeviceSummary) -> str:
    """`vendor:device` as lspci -n prints it (`????` for what is not known)."""
    return f"{device.vendor or '????'}:{device.device or '????'}"


def device_name(device: DeviceSummary) -> str | None:
    """`Vendor Device` as lspci prints it (`Vendor Device 1018` when only the vendor is known); None when unknown."""
    if device.vendor_name is None:
        return None
    return f"{device.vendor_name} {device.device_name or 'Device ' + (device.device or '????')}"


def result_rows(results: Sequence[RuleResult], prefix: str = "") -> list[list[str]]:
    """One row per rule result: check, status, message, hint."""
    return [[prefix + r.rule_id, MARK[r.status], r.message, r.hint or ""] for r in results]


def escaped_rows(rows: Sequence[Sequence[object]], multiline: frozenset[int] = frozenset()) -> list[list[str]]:
    """Every cell as escaped text; the columns in `multiline` keep their line breaks."""
    return [
        [escape_lines(str(cell)) if column in multiline else escape(str(cell)) for column, cell in enumerate(row)]
        for row in rows
    ]


_RESULT_HEADERS = ["check", "status", "message", "how to fix"]


def results_table(
    head: str, rows: list[list[str]], verdict: str, layout: Layout = PLAIN, tone: str | None = None
) -> str:
    """A headline, the rows under the check/status/message/how-to-fix headers, and the verdict line.

    Narrower than the table (layout.width): the message and fix columns wrapped narrower, else one
    line per check (`  id ...... FAIL`) with its message and `fix:` wrapped under it.
    """
    cells = escaped_rows(rows, multiline=frozenset({2, 3}))
    if layout == PLAIN:
        table = tabulate(cells, headers=_RESULT_HEADERS, tablefmt="simple", maxcolwidths=[None, None, 60, None])
        return f"{escape(head)}\n\n{table}\n\nverdict: {verdict}\n"
    painted = [[row[0], paint(row[1], TONE.get(row[1]), layout), *row[2:]] for row in cells]
    width = layout.width
    body = tabulate(painted, headers=_RESULT_HEADERS, tablefmt="simple", maxcolwidths=[None, None, 60, None])
    if width is not None and not fits(body, width):
        narrow = fit_table(painted, _RESULT_HEADERS, {2: 60, 3: None}, width, commands=frozenset({3}))
        body = "" if narrow is None else tabulate(narrow, headers=_RESULT_HEADERS, tablefmt="simple")
        if narrow is None or not fits(body, width):
            body = "\n".join(result_lines(cells, width, layout))
    headline = "\n".join(wrap(escape(head), width, "", "  "))
    closing = "\n".join(wrap(escape(verdict), width, "verdict: ", "  ", tone=tone, layout=layout))
    return f"{headline}\n\n{body}\n\n{closing}\n"


def result_lines(cells: list[list[str]], width: int, layout: Layout) -> list[str]:
    """Escaped check/status/message/hint rows as virt-host-validate-like lines: `  id ...... MARK`, the marks
    aligned where the width allows, then the message and `fix: hint` wrapped with a hanging indent."""
    marks = max((len(row[1]) for row in cells), default=0)
    column = min(2 + max((len(row[0]) for row in cells), default=0) + 5, width - marks)
    lines: list[str] = []
    for check, mark, message, hint in cells:
        lead = f"  {check} "
        shown = paint(mark, TONE.get(mark), layout)
        dots = column - len(lead) - 1
        if dots >= 3:
            lines.append(f"{lead}{'.' * dots} {shown}")
        elif len(lead) + len(mark) <= width:
            lines.append(lead + shown)
        else:  # an id as wide as the terminal: the mark under it
            lines += [lead.rstrip(), f"    {shown}"]
        lines += wrap_paragraphs(message, width, "    ", "    ")
        if hint:
            lines += wrap_hint(hint, width, "    fix: ", "         ")
    return lines
