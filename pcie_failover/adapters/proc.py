"""Which processes hold files open: `/proc/<pid>/fd/*` links, read through a configurable proc root.

Used by `prepare` to tell whether a device on vfio-pci is in use (QEMU, DPDK and other VFIO users keep
`/dev/vfio/<group>` or the device's `/dev/vfio/devices/vfioN` open while they use it, and always a VFIO
*device* file, an anonymous inode the kernel shows as `anon_inode:[vfio-device]`). A device file names no
device in its link; where the kernel says which in `/proc/<pid>/fdinfo/<fd>` (`vfio-device-syspath:`,
Linux 6.10+, drivers/vfio/vfio_main.c vfio_device_show_fdinfo()) it is read, else it is left unnamed.
Processes come and go while the scan runs: a pid that vanished is skipped; one whose descriptors cannot be
read (EACCES, not root) is counted, so the caller can say it could not tell rather than "unused". Only
links are read (never a stat of what they lead to: that could wait on a network filesystem). Never raises.
"""

from __future__ import annotations

import errno
import os

from pcie_failover.model.occupancy import DeviceFile, Holders, OpenFile

PROC = "/proc"
VFIO_DEVICE_FILE = "anon_inode:[vfio-device]"
SYSPATH_KEY = "vfio-device-syspath:"
_COMM_LIMIT = 64
_FDINFO_LIMIT = 4096


_GONE = (errno.ENOENT, errno.ESRCH, errno.ENOTDIR)


class ProcReader:
    """The processes of one proc root (`/proc`, or a directory laid out like it in tests)."""

    def __init__(self, root: str = PROC) -> None:
        self.root = root

    def holders(self, targets: frozenset[str], *, device_files: bool = False) -> Holders:
        """Every (pid, comm, path) with a descriptor whose link is one of `targets` (absolute paths), and with
        `device_files` every VFIO device file open (with the device fdinfo names, where it does). Nothing asked:
        nothing scanned."""
        if not targets and not device_files:
            return Holders()
        try:
            entries = os.listdir(self.root)
        except OSError as error:
            return Holders(error=f"cannot list {self.root}: {error.strerror or error}")
        found: list[OpenFile] = []
        devices: list[DeviceFile] = []
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
            syspaths: list[str | None] = []
            for fd in sorted(fds, key=lambda n: int(n) if n.isdigit() else -1):
                try:
                    target = os.readlink(f"{fd_dir}/{fd}")
                except OSError as error:
                    if error.errno in (errno.EACCES, errno.EPERM):
                        unreadable += 1
                        break
                    continue  # closed meanwhile, or the process is gone
                if target == VFIO_DEVICE_FILE:
                    if not device_files:
                        continue
                    syspath = self._syspath(entry, fd)
                    if syspath not in syspaths:
                        syspaths.append(syspath)
                elif target in targets and target not in paths:
                    paths.append(target)
            comm = self._comm(entry) if paths or syspaths else ""
            found += [OpenFile(int(entry), comm, path) for path in paths]
            devices += [DeviceFile(int(entry), comm, syspath) for syspath in syspaths]
        return Holders(tuple(found), unreadable, device_files=tuple(devices))

    def _syspath(self, pid: str, fd: str) -> str | None:
        """The device of a VFIO device file as fdinfo names it (6.10+), or None."""
        try:
            with open(f"{self.root}/{pid}/fdinfo/{fd}", "rb") as handle:
                text = handle.read(_FDINFO_LIMIT).decode("utf-8", "replace")
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(SYSPATH_KEY):
                value = line[len(SYSPATH_KEY) :].strip()
                return value if value.startswith("/sys/") and value.isprintable() else None
        return None

    def _comm(self, pid: str) -> str:
        try:
            with open(f"{self.root}/{pid}/comm", "rb") as handle:
                return handle.read(_COMM_LIMIT).decode("utf-8", "replace").strip() or "?"
        except OSError:
            return "?"
