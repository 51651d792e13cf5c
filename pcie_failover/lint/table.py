"""`lint` as a table (tabulate): pure, report -> str; narrow terminals and colour as `check` (render.table)."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import pairs
from pcie_failover.lint.model import ConfigKind
from pcie_failover.lint.report import HostItem, LintReport
from pcie_failover.model.results import Status, Verdict
from pcie_failover.render.layout import PLAIN, Layout
from pcie_failover.render.table import MARK, VERDICT_TONE, result_rows, results_table

_HOST_MARK = {None: "skip", Verdict.READY: "pass", Verdict.NOT_READY: "FAIL", Verdict.UNDETERMINED: "unknown"}
_KIND = {ConfigKind.QEMU: "QEMU command line", ConfigKind.LIBVIRT: "libvirt domain XML"}
_VERDICT = {
    Verdict.READY: "ready: this VM's failover configuration works",
    Verdict.NOT_READY: "not ready: fix the FAIL rows",
    Verdict.UNDETERMINED: "undetermined: no failure, but a check that could fail is unknown",
}


def _host_rows(item: HostItem) -> list[list[str]]:
    head = f"host {item.device}"
    if item.report is None:
        mark = (
            "skip"
            if item.verdict is None
            else MARK[Status.FAIL if item.verdict is Verdict.NOT_READY else Status.UNKNOWN]
        )
        return [[head, mark, f"primary {item.primary}: {item.note}", ""]]
    shown = tuple(r for r in item.report.results if r.status not in (Status.PASS, Status.SKIP))
    summary = [
        [
            head,
            _HOST_MARK[item.verdict],
            f"primary {item.primary}: check {item.device}: {item.report.verdict.value}",
            "",
        ]
    ]
    return summary + result_rows(shown, "- ")


def render_lint(report: LintReport, layout: Layout = PLAIN) -> str:
    """A headline (machine, pairs), one row per guest rule, host rows, the verdict."""
    config = report.config
    found = pairs(config)
    described = ", ".join(f"{s.name} + {p.name}" for p, s in found) or "no failover pair"
    head = f"{_KIND[config.kind]} {report.source}: machine {config.machine or 'not given'}; {described}"
    rows = result_rows(report.results) + [row for item in report.hosts for row in _host_rows(item)]
    return results_table(head, rows, _VERDICT[report.verdict], layout, VERDICT_TONE[report.verdict])
