"""Opening a host: check the sysfs root once and pick where netlink facts come from."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from pcie_failover.adapters.unpack import TOP, unpack_capture
from pcie_failover.model import bounded_json
from pcie_failover.model.host import Unreadable
from pcie_failover.netinfo.source import (
    LINKS_DIR,
    SIDECAR,
    SIDECAR_LIMIT,
    NetlinkSource,
    Unavailable,
    parse_sidecar,
)
from pcie_failover.sysfs.pci import DEVICES
from pcie_failover.sysfs.root import SysfsError, SysfsRoot


class NoHostError(Exception):
    """The root holds no PCI tree: nothing can be inspected (exit code 3)."""


def open_root(path: str) -> SysfsRoot:
    """A SysfsRoot whose `bus/pci/devices` is a directory, else NoHostError.

    `path` is a directory laid out like /sys, a capture's directory (holding a real `sysfs/`
    directory, not a link) or a capture archive (a regular file: unpacked into a private
    temporary directory, removed at exit; ArchiveError when it cannot be used).
    """
    root = _find_root(path)
    problem = root.reopen_problem()
    if problem is not None:
        raise NoHostError(f"cannot read {path}: {problem}")
    return root


def _find_root(path: str) -> SysfsRoot:
    try:
        is_file = stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        is_file = False
    if is_file:
        root = SysfsRoot(unpack_capture(path), path)
        if not root.is_directory(DEVICES):
            raise NoHostError(f"no PCI device tree in {path} ({TOP}/{DEVICES})")
        return root
    root = SysfsRoot(path)
    if root.is_directory(DEVICES):
        return root
    capture = os.path.join(path, TOP)
    try:
        is_capture = stat.S_ISDIR(os.stat(capture, follow_symlinks=False).st_mode)
    except OSError:
        is_capture = False
    if not is_capture:
        raise NoHostError(f"no PCI device tree at {path}/{DEVICES}")
    root = SysfsRoot(capture, path)
    if not root.is_directory(DEVICES):
        raise NoHostError(f"no PCI device tree at {capture}/{DEVICES}")
    return root


def netlink_for(root: SysfsRoot) -> NetlinkSource:
    """Live iproute2 for the running kernel's /sys; the sidecar for a snapshot; else unavailable."""
    if root.live:
        from pcie_failover.adapters.iproute import LiveIproute  # the subprocess module only when live

        return LiveIproute()
    try:
        data = root.read_bytes(SIDECAR, SIDECAR_LIMIT)
    except SysfsError as error:
        if error.missing:
            return Unavailable(f"a copied sysfs tree without a netlink snapshot ({SIDECAR})")
        return Unavailable(f"{SIDECAR}: {error.reason}")

    def load_link(ifname: str) -> Sequence[object] | Unreadable:
        rel = f"{LINKS_DIR}/{ifname}.json"
        try:
            parsed = bounded_json.loads(root.read_bytes(rel, SIDECAR_LIMIT))
        except SysfsError as error:
            return Unreadable(rel, error.reason)
        except ValueError as error:
            return Unreadable(rel, f"not valid JSON ({error})")
        return parsed if isinstance(parsed, list) else Unreadable(rel, "not a list of links")

    return parse_sidecar(data, load_link)
