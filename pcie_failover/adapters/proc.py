"""Which processes hold files open: `/proc/<pid>/fd/*` links, read through a configurable proc root.

Used by `prepare` to tell whether a VF on vfio-pci is in use (QEMU, DPDK and other VFIO users keep
`/dev/vfio/<group>` or the VF's `/dev/vfio/devices/vfioN` open while they use it). Processes come and go
while the scan runs: a pid that vanished is skipped; one whose descriptors cannot be read (EACCES, not
root) is counted, so the caller can say it could not tell rather than "unused". Never raises.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass

PROC = "/proc"
_COMM_LIMIT = 64


@dataclass(frozen=True)
class OpenFile:
    """A process holding `path` open: its pid, its `comm` (what the kernel shows, not trusted text)."""

    pid: int
    comm: str
    path: str


@dataclass(frozen=True)
class Holders:
    """The processes holding any of the files asked about, and how many processes could not be inspected."""

    files: tuple[OpenFile, ...] = ()
    unreadable: int = 0  # processes whose descriptors could not be read (EACCES, EPERM)
    error: str | None = None  # the proc root itself could not be listed


_GONE = (errno.ENOENT, errno.ESRCH, errno.ENOTDIR)


class ProcReader:
    """The processes of one proc root (`/proc`, or a directory laid out like it in tests)."""

    def __init__(self, root: str = PROC) -> None:
        self.root = root

    def holders(self, targets: frozenset[str]) -> Holders:
        """Every (pid, comm, path) with a descriptor whose link is one of `targets` (absolute paths)."""
        if not targets:
            return Holders()
        try:
            entries = os.listdir(self.root)
        except OSError as error:
            return Holders(error=f"cannot list {self.root}: {error.strerror or error}")
        found: list[OpenFile] = []
        unreadable = 0
        for entry in sorted((e for e in entries if e.isdigit()), key=int):
            fd_dir = f"{self.root}/{entry}/fd"
            try:
                fds = os.listdir(fd_dir)
            except OSError as error:
                if error.errno not in _GONE:
                    unreadable += 1
                continue
            paths: list[str] = []
            for fd in fds:
                try:
                    target = os.readlink(f"{fd_dir}/{fd}")
                except OSError as error:
                    if error.errno in (errno.EACCES, errno.EPERM):
                        unreadable += 1
                        break
                    continue  # closed meanwhile, or the process is gone
                if target in targets and target not in paths:
                    paths.append(target)
            found += [OpenFile(int(entry), self._comm(entry), path) for path in paths]
        return Holders(tuple(found), unreadable)

    def _comm(self, pid: str) -> str:
        try:
            with open(f"{self.root}/{pid}/comm", "rb") as handle:
                return handle.read(_COMM_LIMIT).decode("utf-8", "replace").strip() or "?"
        except OSError:
            return "?"
