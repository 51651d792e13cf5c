"""The `check` table: a headline, one row per rule, the verdict; pure, report -> str (render.table)."""

from __future__ import annotations

from collections.abc import Sequence

from pcie_failover.model.report import CheckReport, DeviceSummary
from pcie_failover.model.results import RuleResult, Status, Verdict
from pcie_failover.render.layout import PLAIN, Layout
from pcie_failover.render.table import VERDICT_TONE, device_ids, device_name, result_rows, results_table

_VERDICT = {
    Verdict.READY: "ready: this device can be the failover primary",
    Verdict.NOT_READY: "not ready: fix the FAIL rows",
    Verdict.UNDETERMINED: "undetermined: no failure, but a check that could fail is unknown",
}


def _headline(device: DeviceSummary, pf_netdev: str | None) -> str:
    name = device_name(device)
    parts = [device_ids(device) if name is None else f"{name} [{device_ids(device)}]"]
    if device.pf is not None:
        index = "?" if device.vf_index is None else str(device.vf_index)
        parts.append(f"VF {index} of {device.pf}" + (f" ({pf_netdev})" if pf_netdev else ""))
    parts.append(f"driver {device.driver or 'none'}")
    parts.append(f"IOMMU group {device.iommu_group or 'none'}")
    if device.numa_node is not None:
        parts.append(f"NUMA node {device.numa_node}")
    return f"{device.bdf}: " + ", ".join(parts)


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
