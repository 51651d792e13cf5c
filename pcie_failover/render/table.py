"""Human-readable tables (tabulate): pure, report -> str; every cell and headline is escaped (render.escape).

With a Layout (render.layout) whose width the natural table exceeds, `check` (and `lint`) first
narrow the message and fix columns, then fall back to one line per check and its mark, the
message and fix wrapped under it; `list` to one block of `key  value` lines per device.
Colour paints the status marks, a VF's readiness and the verdict, after escaping.
"""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from pcie_failover.model.report import CheckReport, DeviceSummary, ListedDevice, ListReport
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
    key_value_lines,
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
_VERDICT = {
    Verdict.READY: "ready: this device can be the failover primary",
    Verdict.NOT_READY: "not ready: fix the FAIL rows",
    Verdict.UNDETERMINED: "undetermined: no failure, but a check that could fail is unknown",
}


def _ids(device: DeviceSummary) -> str:
    return f"{device.vendor or '????'}:{device.device or '????'}"


def _name(device: DeviceSummary) -> str | None:
    """`Vendor Device` as lspci prints it (`Vendor Device 1018` when only the vendor is known); None when unknown."""
    if device.vendor_name is None:
        return None
    return f"{device.vendor_name} {device.device_name or 'Device ' + (device.device or '????')}"


def _headline(device: DeviceSummary, pf_netdev: str | None) -> str:
    name = _name(device)
    parts = [_ids(device) if name is None else f"{name} [{_ids(device)}]"]
    if device.pf is not None:
        index = "?" if device.vf_index is None else str(device.vf_index)
        parts.append(f"VF {index} of {device.pf}" + (f" ({pf_netdev})" if pf_netdev else ""))
    parts.append(f"driver {device.driver or 'none'}")
    parts.append(f"IOMMU group {device.iommu_group or 'none'}")
    if device.numa_node is not None:
        parts.append(f"NUMA node {device.numa_node}")
    return f"{device.bdf}: " + ", ".join(parts)


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


def check_verdict(results: Sequence[RuleResult], verdict: Verdict, strict: bool) -> str:
    """The verdict line: when not ready, the rows that made it so (--strict makes WARN rows count)."""
    if verdict is not Verdict.NOT_READY:
        return _VERDICT[verdict]
    statuses = {r.status for r in results}
    warned = strict and Status.WARN in statuses
    if Status.FAIL not in statuses and warned:
        return "not ready: fix the WARN rows (--strict counts warnings)"
    if warned:
        return "not ready: fix the FAIL and WARN rows (--strict counts warnings)"
    return _VERDICT[verdict]


def render_check(report: CheckReport, layout: Layout = PLAIN) -> str:
    """One row per rule: check, status, message, hint."""
    head = _headline(report.device, report.pf_netdev) if report.device else f"{report.query}: no such device"
    verdict = report.verdict
    closing = check_verdict(report.results, verdict, report.strict)
    return results_table(head, result_rows(report.results), closing, layout, VERDICT_TONE[verdict])


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _readiness(item: ListedDevice) -> str:
    """A VF's readiness as a primary; a PF says how many VFs it hosts; another function is no candidate."""
    if item.role == "pf":
        return f"pf (hosts {_count(item.sriov_numvfs)} VF{'' if item.sriov_numvfs == 1 else 's'})"
    if item.role == "device":
        return "-"
    return item.verdict.value + (f" ({','.join(item.failing)})" if item.failing else "")


_LIST_HEADERS = [
    "device", "id", "role", "driver", "override", "vfs", "interface", "mac", "admin mac", "group", "numa",
    "primary?", "name",
]  # fmt: skip
_READINESS = 11  # the primary? column
_BLOCK_ORDER = (12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # a block: the name first, then the table's order


def render_list(report: ListReport, layout: Layout = PLAIN) -> str:
    """One row per network-class function; narrower than the table (layout.width): one block per function."""
    rows = []
    tones: list[str | None] = []
    for item in report.devices:
        d = item.summary
        relation = f"VF {d.vf_index if d.vf_index is not None else '?'} of {d.pf}" if d.pf else item.role.upper()
        vfs = "-" if item.role != "pf" else f"{_count(item.sriov_numvfs)}/{_count(item.sriov_totalvfs)}"
        rows.append(
            [
                d.bdf,
                _ids(d),
                relation,
                d.driver or "-",
                item.driver_override or "-",
                vfs,
                ",".join(d.netdevs) or "-",
                item.interface_mac or "-",
                item.admin_mac or "-",
                d.iommu_group or "-",
                "-" if d.numa_node is None else d.numa_node,
                _readiness(item),
                _name(d) or "-",
            ]
        )
        tones.append(VERDICT_TONE[item.verdict] if item.role == "vf" else None)
    if layout == PLAIN:
        return tabulate(escaped_rows(rows), headers=_LIST_HEADERS, tablefmt="simple") + "\n"
    cells = escaped_rows(rows)
    painted = [
        [*row[:_READINESS], paint(row[_READINESS], tone, layout), *row[_READINESS + 1 :]]
        for row, tone in zip(cells, tones, strict=True)
    ]
    table = tabulate(painted, headers=_LIST_HEADERS, tablefmt="simple") + "\n"
    if layout.width is None or fits(table, layout.width):
        return table
    return _list_blocks(cells, tones, layout.width, layout)


def _list_blocks(cells: list[list[str]], tones: list[str | None], width: int, layout: Layout) -> str:
    """Per function: `device  readiness`, then `key  value` lines (name first), blocks apart by a blank line."""
    blocks = []
    for row, tone in zip(cells, tones, strict=True):
        ready = row[_READINESS]  # `-`: no candidate, nothing to say
        lines = [row[0]] if ready == "-" else wrap(ready, width, f"{row[0]}  ", "  ", tone=tone, layout=layout)
        lines += key_value_lines([(_LIST_HEADERS[c], row[c], None) for c in _BLOCK_ORDER], width, layout)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
