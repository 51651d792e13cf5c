"""`capture`: write a snapshot of what the checks read, for a bug report or an offline check."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO

from pcie_failover.adapters.files import SafeDirectory
from pcie_failover.model.address import PciAddress
from pcie_failover.netinfo.source import SIDECAR
from pcie_failover.snapshot.archive import write_archive
from pcie_failover.snapshot.selection import select
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.root import SysfsRoot

STDOUT = "-"


@dataclass(frozen=True)
class CaptureResult:
    """Where the snapshot went and what it holds."""

    path: str
    devices: int
    entries: int
    netlink: bool


def run_capture(root: SysfsRoot, devices: list[PciAddress], output: str, stdout: BinaryIO) -> CaptureResult:
    """Snapshot `devices` (every network function when empty) into `output` (`-`: `stdout`).

    A file is written atomically through the shared adapter (a temporary file in the target's
    directory, fsync, rename, directory fsync); an existing target that is not a regular file
    (a device, a FIFO, a link, a directory) is refused (UnsafePathError) before anything is read.
    """
    if output == STDOUT:
        return _capture(root, devices, STDOUT, stdout)
    directory, name = os.path.split(os.path.abspath(output))
    results: list[CaptureResult] = []
    with SafeDirectory.open(directory, private=False) as opened:
        opened.atomic_write(name, lambda out: results.append(_capture(root, devices, output, out)), 0o644)
    return results[0]


def _capture(root: SysfsRoot, devices: list[PciAddress], path: str, out: BinaryIO) -> CaptureResult:
    from pcie_failover.commands.listing import network_functions

    selection = select(root, devices or network_functions(root))
    record = netlink_for(root).record(selection.pf_netdevs, selection.netdevs)
    sidecar = {} if record is None else {SIDECAR: record.document(), **record.link_files()}
    entries = write_archive(root, selection, sidecar, out)
    return CaptureResult(path, len(selection.devices), entries, record is not None)
