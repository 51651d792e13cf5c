"""`capture`: write a snapshot of what the checks read, for a bug report or an offline check."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from pcie_failover.adapters.files import SafeDirectory
from pcie_failover.capture.archive import write_archive
from pcie_failover.capture.recording import RecordingNetlink, RecordingRoot
from pcie_failover.capture.rehearsal import rehearse
from pcie_failover.model.address import PciAddress
from pcie_failover.model.report import CaptureResult
from pcie_failover.netinfo.source import SIDECAR
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.names import NAMES_FILE, names_document, names_for
from pcie_failover.sysfs.root import SysfsRoot

STDOUT = "-"
READING, ARCHIVING = "reading", "archiving"
Progress = Callable[[str, int, int], None]  # (stage, done, of how many): devices read, then entries archived


def run_capture(
    root: SysfsRoot, devices: list[PciAddress], output: str, stdout: BinaryIO, progress: Progress | None = None
) -> CaptureResult:
    """Snapshot `devices` (every network function when empty) into `output` (`-`: `stdout`).

    A file is written atomically through the shared adapter (a temporary file in the target's
    directory, fsync, rename, directory fsync); an existing target that is not a regular file
    (a device, a FIFO, a link, a directory) is refused (UnsafePathError) before anything is read.
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
    recording = RecordingRoot(root.path, root.origin)
    netlink = RecordingNetlink(netlink_for(root))
    read = None if progress is None else lambda done, total: progress(READING, done, total)
    functions = rehearse(recording, netlink, devices or None, read)
    record = netlink.recorded()
    extra = {} if record is None else {SIDECAR: record.document(), **record.link_files()}
    names = names_document(names_for(root).lookup(functions))
    if names is not None:
        extra[NAMES_FILE] = names
    archived = None if progress is None else lambda done, total: progress(ARCHIVING, done, total)
    entries = write_archive(root, recording.touched, extra, out, archived)
    return CaptureResult(path, len(functions), entries, record is not None)
