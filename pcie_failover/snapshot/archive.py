"""Write a selection of sysfs into a gzip'd tar whose `sysfs/` directory is a --sysfs-root.

Write-only and side-effecting attributes are never opened (`remove`, `rescan`, `reset`,
`resourceN`, `rom`, `vpd`, ...), config space is cut to its standard 256 bytes (the
extended space can hold a device serial number), symbolic links are kept as the kernel
wrote them (relative), and netlink facts go into the sidecar file.
"""

from __future__ import annotations

import io
import re
import stat
import tarfile
import time
from typing import BinaryIO

from pcie_failover.model.address import PciAddress
from pcie_failover.snapshot.selection import Selection
from pcie_failover.sysfs.root import CONFIG_READ_LIMIT, SysfsError, SysfsRoot

TOP = "sysfs"
READ_LIMIT = 64 * 1024
SKIP_FILES = frozenset(
    {
        "remove", "rescan", "reset", "resource", "rom", "vpd", "new_id", "remove_id", "bind", "unbind",
        "sriov_vf_msix_count", "phys_port_id", "phys_switch_id", "serial", "label",
    }
)  # fmt: skip
SKIP_DIRS = frozenset({"power", "statistics", "queues", "msi_irqs"})
_RESOURCE = re.compile(r"resource\d+(_wc)?")


class _Archive:
    def __init__(self, root: SysfsRoot, tar: tarfile.TarFile) -> None:
        self.root = root
        self.tar = tar
        self.done: set[str] = set()
        self.mtime = int(time.time())

    def _info(self, rel: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(f"{TOP}/{rel}" if rel else TOP)
        info.type, info.mode, info.mtime = kind, mode, self.mtime
        return info

    def _parents(self, rel: str) -> None:
        parts = rel.split("/")
        for end in range(1, len(parts)):
            self.directory("/".join(parts[:end]), 0o755)

    def directory(self, rel: str, mode: int) -> None:
        if rel not in self.done:
            self._parents(rel)
            self.done.add(rel)
            self.tar.addfile(self._info(rel, tarfile.DIRTYPE, mode))

    def link(self, rel: str) -> None:
        if rel in self.done:
            return
        try:
            target = self.root.readlink(rel)
        except SysfsError:
            return
        self._parents(rel)
        self.done.add(rel)
        info = self._info(rel, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self.tar.addfile(info)

    def file(self, rel: str, mode: int, content: bytes | None = None) -> None:
        name = rel.rsplit("/", 1)[-1]
        if rel in self.done or name in SKIP_FILES or _RESOURCE.fullmatch(name) or not mode & 0o444:
            return
        if content is None:
            try:
                content = self.root.read_bytes(rel, CONFIG_READ_LIMIT if name == "config" else READ_LIMIT)
            except SysfsError:
                return  # unreadable or vanished: the snapshot simply lacks it, as the checks would
        self._parents(rel)
        self.done.add(rel)
        info = self._info(rel, tarfile.REGTYPE, stat.S_IMODE(mode))
        info.size = len(content)
        self.tar.addfile(info, io.BytesIO(content))

    def entry(self, rel: str, into: str) -> None:
        """Copy one entry; `into` says how far to descend: "tree", "device" or "port"."""
        try:
            st = self.root.lstat(rel)
        except SysfsError:
            return
        name = rel.rsplit("/", 1)[-1]
        if stat.S_ISLNK(st.st_mode):
            self.link(rel)
        elif stat.S_ISREG(st.st_mode):
            self.file(rel, st.st_mode)
        elif stat.S_ISDIR(st.st_mode) and name not in SKIP_DIRS:
            self.directory(rel, stat.S_IMODE(st.st_mode))
            for child in self._children(rel):
                child_name = child.rsplit("/", 1)[-1]
                if into == "tree" or not self._is_subdirectory(child) or self._descends(child_name, into):
                    self.entry(child, "tree")

    def _children(self, rel: str) -> list[str]:
        try:
            return [f"{rel}/{n}" for n in self.root.listdir(rel)]
        except SysfsError:
            return []

    def _is_subdirectory(self, rel: str) -> bool:
        try:
            return stat.S_ISDIR(self.root.lstat(rel).st_mode)
        except SysfsError:
            return False

    @staticmethod
    def _descends(name: str, into: str) -> bool:
        if into == "port":
            return ":pcie" in name  # the port's PCIe services (pciehp, aer, ...)
        return PciAddress.try_parse(name) is None  # a device's own subdirectories, not child devices


def write_archive(root: SysfsRoot, selection: Selection, sidecar: dict[str, bytes], out: BinaryIO) -> int:
    """Write the snapshot to `out`; return the number of entries."""
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        archive = _Archive(root, tar)
        archive.directory("", 0o755)
        for rel in selection.devices:
            archive.entry(rel, "device")
        for rel in selection.ports:
            archive.entry(rel, "port")
        for rel in selection.trees:
            archive.entry(rel, "tree")
        for rel in selection.links:
            archive.link(rel)
        for rel in selection.presence:
            archive.file(rel, 0o400, b"")
        for rel, content in sidecar.items():
            archive.file(rel, 0o644, content)
        return len(archive.done)
