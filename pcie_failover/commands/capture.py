"""`capture`: write a snapshot of what the checks read, for a bug report or an offline check."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

from pcie_failover.model.address import PciAddress
from pcie_failover.netinfo.source import SIDECAR
from pcie_failover.snapshot.archive import write_archive
from pcie_failover.snapshot.selection import select
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.root import SysfsRoot


@dataclass(frozen=True)
class CaptureResult:
    """Where the snapshot went and what it holds."""

    path: str
    devices: int
    entries: int
    netlink: bool


def run_capture(root: SysfsRoot, devices: list[PciAddress], output: str) -> CaptureResult:
    """Snapshot `devices` (every network function when empty) into `output`, written atomically."""
    from pcie_failover.commands.listing import network_functions

    wanted = devices or network_functions(root)
    selection = select(root, wanted)
    record = netlink_for(root).record(selection.pf_netdevs, selection.netdevs)
    directory = os.path.dirname(os.path.abspath(output))
    handle, temporary = tempfile.mkstemp(prefix=".pcie-failover-capture.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            sidecar = {} if record is None else {SIDECAR: record.document(), **record.link_files()}
            entries = write_archive(root, selection, sidecar, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        os.unlink(temporary)
        raise
    return CaptureResult(output, len(selection.devices), entries, record is not None)
