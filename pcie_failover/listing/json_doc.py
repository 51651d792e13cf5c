"""The `list` JSON document: pure, report -> str."""

from __future__ import annotations

from pcie_failover.model.report import ListReport
from pcie_failover.render.json_doc import device_json, dump, envelope, options_json


def render_list(report: ListReport) -> str:
    """The `list` document."""
    document = envelope("list", report.sysfs_root)
    document["input"] = {**options_json(report.options), "pf": report.pf, "vfs": report.vfs}
    document["devices"] = [
        {
            **device_json(d.summary),
            "role": d.role,
            "mac": d.mac,
            "verdict": d.verdict.value,
            "failing": list(d.failing),
            "interface_mac": d.interface_mac,
            "admin_mac": d.admin_mac,
            "driver_override": d.driver_override,
            "sriov_numvfs": d.sriov_numvfs,
            "sriov_totalvfs": d.sriov_totalvfs,
        }
        for d in report.devices
    ]
    return dump(document)
