"""Human-readable tables (tabulate): pure, report -> str."""

from __future__ import annotations

from tabulate import tabulate

from pcie_failover.model.report import CheckReport, DeviceSummary, ListReport
from pcie_failover.model.results import Status, Verdict

_MARK = {
    Status.PASS: "pass",
    Status.WARN: "WARN",
    Status.FAIL: "FAIL",
    Status.UNKNOWN: "unknown",
    Status.SKIP: "skip",
}
_VERDICT = {
    Verdict.READY: "ready: this device can be the failover primary",
    Verdict.NOT_READY: "not ready: fix the FAIL rows",
    Verdict.UNDETERMINED: "undetermined: no failure, but a check that could fail is unknown",
}


def _headline(device: DeviceSummary, pf_netdev: str | None) -> str:
    parts = [f"{device.vendor or '????'}:{device.device or '????'}"]
    if device.pf is not None:
        index = "?" if device.vf_index is None else str(device.vf_index)
        parts.append(f"VF {index} of {device.pf}" + (f" ({pf_netdev})" if pf_netdev else ""))
    parts.append(f"driver {device.driver or 'none'}")
    parts.append(f"IOMMU group {device.iommu_group or 'none'}")
    if device.numa_node is not None:
        parts.append(f"NUMA node {device.numa_node}")
    return f"{device.bdf}: " + ", ".join(parts)


def render_check(report: CheckReport) -> str:
    """One row per rule: check, status, message, hint."""
    rows = [[r.rule_id, _MARK[r.status], r.message, r.hint or ""] for r in report.results]
    head = _headline(report.device, report.pf_netdev) if report.device else f"{report.query}: no such device"
    table = tabulate(
        rows,
        headers=["check", "status", "message", "how to fix"],
        tablefmt="simple",
        maxcolwidths=[None, None, 60, None],
    )
    return f"{head}\n\n{table}\n\nverdict: {_VERDICT[report.verdict]}\n"


def render_list(report: ListReport) -> str:
    """One row per network-class function."""
    rows = []
    for item in report.devices:
        d = item.summary
        relation = f"VF {d.vf_index if d.vf_index is not None else '?'} of {d.pf}" if d.pf else item.role.upper()
        rows.append(
            [
                d.bdf,
                f"{d.vendor or '????'}:{d.device or '????'}",
                relation,
                d.driver or "-",
                ",".join(d.netdevs) or "-",
                item.mac or "-",
                d.iommu_group or "-",
                "-" if d.numa_node is None else d.numa_node,
                item.verdict.value + (f" ({','.join(item.failing)})" if item.failing else ""),
            ]
        )
    headers = ["device", "id", "role", "driver", "interface", "mac", "group", "numa", "primary?"]
    return tabulate(rows, headers=headers, tablefmt="simple") + "\n"
