"""The `capture` JSON document: pure, result -> str."""

from __future__ import annotations

from pcie_failover.model.report import CaptureResult
from pcie_failover.render.json_doc import dump, envelope


def render_capture(sysfs_root: str, result: CaptureResult) -> str:
    """The `capture` document."""
    document = envelope("capture", sysfs_root)
    document["output"] = result.path
    document["devices"] = result.devices
    document["entries"] = result.entries
    document["netlink"] = result.netlink
    return dump(document)
