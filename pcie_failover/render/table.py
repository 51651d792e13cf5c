"""Human-readable tables (tabulate): pure, report -> str; every cell and headline is escaped (render.escape)."""

from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from pcie_failover.model.report import CheckReport, DeviceSummary, ListedDevice, ListReport
from pcie_failover.model.results import RuleResult, Status, Verdict
from pcie_failover.render.escape import escape, escape_lines

MARK = {
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


def results_table(head: str, rows: list[list[str]], verdict: str) -> str:
    """A headline, the rows under the check/status/message/how-to-fix headers, and the verdict line."""
    table = tabulate(
        escaped_rows(rows, multiline=frozenset({2, 3})),
        headers=["check", "status", "message", "how to fix"],
        tablefmt="simple",
        maxcolwidths=[None, None, 60, None],
    )
    return f"{escape(head)}\n\n{table}\n\nverdict: {verdict}\n"


def render_check(report: CheckReport) -> str:
    """One row per rule: check, status, message, hint."""
    head = _headline(report.device, report.pf_netdev) if report.device else f"{report.query}: no such device"
    return results_table(head, result_rows(report.results), _VERDICT[report.verdict])


def _count(value: int | None) -> str:
    return "?" if value is None else str(value)


def _readiness(item: ListedDevice) -> str:
    """A VF's readiness as a primary; a PF says how many VFs it hosts; another function is no candidate."""
    if item.role == "pf":
        return f"pf (hosts {_count(item.sriov_numvfs)} VF{'' if item.sriov_numvfs == 1 else 's'})"
    if item.role == "device":
        return "-"
    return item.verdict.value + (f" ({','.join(item.failing)})" if item.failing else "")


def render_list(report: ListReport) -> str:
    """One row per network-class function."""
    rows = []
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
    headers = [
        "device", "id", "role", "driver", "override", "vfs", "interface", "mac", "admin mac", "group", "numa",
        "primary?", "name",
    ]  # fmt: skip
    return tabulate(escaped_rows(rows), headers=headers, tablefmt="simple") + "\n"
