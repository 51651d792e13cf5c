"""A sysfs root and a netlink source that remember what the readers asked of them.

`capture` reads the named devices through these, exactly as the commands read them, and
archives what was touched: no list of paths is kept by hand, so a reader that starts to read
a new attribute puts it into every later capture by itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from pcie_failover.model.host import Unreadable, VfAdminList
from pcie_failover.netinfo.source import NetlinkRecord, NetlinkSource
from pcie_failover.sysfs.root import DEFAULT_READ_LIMIT, SysfsError, SysfsRoot


@dataclass
class Touched:
    """Paths relative to the root, as the readers gave them (links not resolved)."""

    files: dict[str, bytes] = field(default_factory=dict)  # read: the bytes the reader got
    unreadable: set[str] = field(default_factory=set)  # there, but a read failed (EACCES, EIO, not a regular file)
    listed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # listed: the names the reader got
    links: set[str] = field(default_factory=set)  # read as links (their targets)
    entries: set[str] = field(default_factory=set)  # looked at without following a final link (exists, lstat)
    followed: set[str] = field(default_factory=set)  # looked at through a final link (is_directory, resolve)


class RecordingRoot(SysfsRoot):
    """A `SysfsRoot` that records every path a reader touched, successfully or not, in `touched`."""

    def __init__(self, path: str, origin: str | None = None) -> None:
        super().__init__(path, origin)
        self.touched = Touched()

    def read_bytes(self, rel: str, limit: int = DEFAULT_READ_LIMIT) -> bytes:
        """The base read; the bytes are kept (the longest read wins when a file is read twice)."""
        self.touched.entries.add(rel)  # even when the read fails: what is there (a link, a directory) is kept
        try:
            data = super().read_bytes(rel, limit)
        except SysfsError as error:
            if not error.missing:
                self.touched.unreadable.add(rel)
            raise
        if len(data) >= len(self.touched.files.get(rel, b"")):
            self.touched.files[rel] = data
        return data

    def readlink(self, rel: str) -> str:
        """The base readlink; the link is kept."""
        self.touched.links.add(rel)
        return super().readlink(rel)

    def listdir(self, rel: str) -> list[str]:
        """The base listing; the names are kept (each archived at least as an empty placeholder)."""
        self.touched.followed.add(rel)
        names = super().listdir(rel)
        self.touched.listed[rel] = tuple(names)
        return names

    def exists(self, rel: str) -> bool:
        """The base test; the path is kept."""
        self.touched.entries.add(rel)
        return super().exists(rel)

    def lstat(self, rel: str) -> os.stat_result:
        """The base lstat; the path is kept."""
        self.touched.entries.add(rel)
        return super().lstat(rel)

    def is_directory(self, rel: str) -> bool:
        """The base test; the path (through a final link) is kept."""
        self.touched.followed.add(rel)
        return super().is_directory(rel)

    def resolve(self, rel: str) -> str:
        """The base resolution; the path (through a final link) is kept."""
        self.touched.followed.add(rel)
        return super().resolve(rel)


class RecordingNetlink:
    """A `NetlinkSource` that remembers which interfaces the readers asked about."""

    def __init__(self, source: NetlinkSource) -> None:
        self.source = source
        self.pf_netdevs: list[str] = []  # asked for their VF list
        self.netdevs: list[str] = []  # asked for addresses or routes

    @property
    def kernel_cmdline(self) -> str | None:
        """The source's."""
        return self.source.kernel_cmdline

    def vf_admin(self, pf_netdev: str) -> VfAdminList | Unreadable:
        """The source's; the interface is kept."""
        if pf_netdev not in self.pf_netdevs:
            self.pf_netdevs.append(pf_netdev)
        return self.source.vf_admin(pf_netdev)

    def addresses(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """The source's; the interface is kept."""
        self._asked(ifname)
        return self.source.addresses(ifname)

    def routes(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """The source's; the interface is kept."""
        self._asked(ifname)
        return self.source.routes(ifname)

    def record(self, pf_netdevs: Sequence[str], netdevs: Sequence[str]) -> NetlinkRecord | None:
        """The source's record of these interfaces."""
        return self.source.record(pf_netdevs, netdevs)

    def recorded(self) -> NetlinkRecord | None:
        """The source's record of every interface the readers asked about."""
        return self.source.record(sorted(self.pf_netdevs), sorted(self.netdevs))

    def _asked(self, ifname: str) -> None:
        if ifname not in self.netdevs:
            self.netdevs.append(ifname)
