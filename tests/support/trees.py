"""Trees for the tests: the lab's captures as private copies, and the small trees the reader tests build.

No test writes into a committed tree: the captures are copied once a session (`Captures`), the hand-made
hosts are built into each test's own directory (`conftest.host_root`), and a reader test that needs a tree
no builder makes writes it with `SmallTree` under its `tmp_path`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from fixtures_sysfs.captures import copy_capture
from pcie_failover.model.host import Unreadable, VfAdminList
from pcie_failover.netinfo.source import NetlinkRecord
from pcie_failover.sysfs.root import SysfsRoot


class Captures:
    """The sysfs root of each captured topology, copied on first use into one session directory."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self._roots: dict[str, Path] = {}

    def __call__(self, topology: str) -> Path:
        if topology not in self._roots:
            self._roots[topology] = copy_capture(topology, self.base)
        return self._roots[topology]


class SmallTree:
    """A few sysfs files and links written by hand, for the reader cases no host builder describes."""

    def __init__(self, root: Path) -> None:
        self.path = root
        root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> SysfsRoot:
        """The tree as the readers open it."""
        return SysfsRoot(str(self.path))

    def file(self, rel: str, content: str | bytes = "", mode: int = 0o444) -> SmallTree:
        """A file holding `content` (a str gets no newline added)."""
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(mode)
        return self

    def dir(self, rel: str) -> SmallTree:
        """An (empty) directory."""
        (self.path / rel).mkdir(parents=True, exist_ok=True)
        return self

    def link(self, rel: str, target: str) -> SmallTree:
        """A link at `rel` to `target`, both relative to the root (written relative, as the kernel does)."""
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(self.path / target, path.parent), path)
        return self

    def raw_link(self, rel: str, target: str) -> SmallTree:
        """A link at `rel` whose target is written as given (a dangling or looping one)."""
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, path)
        return self


class FakeNetlink:
    """Netlink answers given by the test (a NetlinkSource); it records what it was asked."""

    def __init__(
        self,
        addresses: dict[str, tuple[str, ...] | Unreadable] | None = None,
        routes: dict[str, tuple[str, ...] | Unreadable] | None = None,
        vf_lists: dict[str, VfAdminList | Unreadable] | None = None,
        kernel_cmdline: str | None = None,
    ) -> None:
        self._addresses = addresses or {}
        self._routes = routes or {}
        self._vf_lists = vf_lists or {}
        self._cmdline = kernel_cmdline
        self.asked: list[tuple[str, str]] = []

    @property
    def kernel_cmdline(self) -> str | None:
        return self._cmdline

    def addresses(self, ifname: str) -> tuple[str, ...] | Unreadable:
        self.asked.append(("addresses", ifname))
        return self._addresses.get(ifname, ())

    def routes(self, ifname: str) -> tuple[str, ...] | Unreadable:
        self.asked.append(("routes", ifname))
        return self._routes.get(ifname, ())

    def vf_admin(self, ifname: str) -> VfAdminList | Unreadable:
        self.asked.append(("vf_admin", ifname))
        return self._vf_lists.get(ifname, VfAdminList(ifname, 0, ()))

    def record(self, pf_netdevs: Sequence[str], netdevs: Sequence[str]) -> NetlinkRecord | None:  # noqa: ARG002
        """Nothing to record."""
        return None
