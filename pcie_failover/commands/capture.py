"""`capture`: write a snapshot of what the checks read, for a bug report or an offline check."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from pcie_failover.adapters.files import SafeDirectory
from pcie_failover.model.address import PciAddress
from pcie_failover.model.report import CaptureResult
from pcie_failover.netinfo.source import SIDECAR
from pcie_failover.snapshot.archive import write_archive
from pcie_failover.snapshot.selection import select
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.root import SysfsRoot

STDOUT = "-"
SELECTING, ARCHIVING = "selecting", "archiving"
Progress = Callable[[str, int, int], None]  # (stage, devices done, of how many): SELECTING 0 of those named


def run_capture(
    root: SysfsRoot, devices: list[PciAddress], output: str, stdout: BinaryIO, progress: Progress | None = None
) -> CaptureResult:
    """Snapshot `devices` (every network function when empty) into `output` (`-`: `stdout`).

    A file is written atomically through the shared adapter (a temporary file in the target's
    directory, fsync, rename, directory fsync); an existing target that is not a regular file
    (a device, a FIFO, a link, a directory) is refused (UnsafePathError) before anything is read.
    `progress` hears when the selection starts and as each selected device is archived.
    """
    if output == STDOUT:
        return _capture(root, devices, STDOUT, stdout, progress)
    directory, name = os.path.split(os.path.abspath(output))
    results: list[CaptureResult] = []
    with SafeDirectory.open(directory, private=False) as opened:
        opened.atomic_write(name, lambda out: results.append(_capture(root, devices, output, out, progress)), 0o644)
    return results[0]


def _capture(
    root: SysfsRoot, devices: list[PciAddress], path: str, out: BinaryIO, progress: Progress | None
) -> CaptureResult:
    from pcie_failover.listing.command import network_functions

    wanted = devices or network_functions(root)
    if progress is not None:
        progress(SELECTING, 0, len(wanted))
    selection = select(root, wanted)
    record = netlink_for(root).record(selection.pf_netdevs, selection.netdevs)
    sidecar = {} if record is None else {SIDECAR: record.document(), **record.link_files()}
    total = len(selection.devices)
    archived = None if progress is None else lambda done: progress(ARCHIVING, done, total)
    entries = write_archive(root, selection, sidecar, out, archived)
    return CaptureResult(path, total, entries, record is not None)
