"""Reader of network interfaces (`class/net`): state, enslavement and the path to the wire."""

from __future__ import annotations

import posixpath

from pcie_failover.model.address import MacAddress, PciAddress
from pcie_failover.model.host import LowerDevice, NetDevice, StandbyBackend, Unreadable
from pcie_failover.netinfo.source import NetlinkSource
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.root import SysfsError, SysfsRoot

NET = "class/net"
_MAX_DEPTH = 4


def read_netdev(root: SysfsRoot, name: str, netlink: NetlinkSource) -> NetDevice:
    """An interface's state; addresses and routes are asked of netlink only when it is up."""
    base = f"{NET}/{name}"
    flags = attr.required(root, f"{base}/flags", attr.flags_int)
    up = isinstance(flags, int) and bool(flags & 1)
    return NetDevice(
        name=name,
        flags=flags,
        operstate=attr.required(root, f"{base}/operstate", str),
        address=attr.optional(root, f"{base}/address", attr.mac),
        master=attr.link_name(root, f"{base}/master"),
        ip_addresses=netlink.addresses(name) if up else (),
        routes=netlink.routes(name) if up else (),
    )


def interface_device(root: SysfsRoot, name: str) -> PciAddress | None | Unreadable:
    """The PCI function behind an interface (walking up from e.g. `virtio0`); None if virtual."""
    link = f"{NET}/{name}/device"
    try:
        path = root.resolve(link)
    except SysfsError as error:
        return None if error.missing else Unreadable(link, error.reason)
    while path:
        address = PciAddress.try_parse(posixpath.basename(path))
        if address is not None:
            return address
        path = posixpath.dirname(path)
    return None


def interface_with_mac(root: SysfsRoot, mac: MacAddress) -> PciAddress | None:
    """The PCI function of the first interface whose current address is `mac`; None when there is none."""
    names = attr.listing(root, NET)
    for name in names if isinstance(names, tuple) else ():
        if attr.optional(root, f"{NET}/{name}/address", str) == str(mac):
            found = interface_device(root, name)
            if isinstance(found, PciAddress):
                return found
    return None


def _kind(root: SysfsRoot, base: str) -> str:
    uevent = attr.optional_lines(root, f"{base}/uevent")
    if isinstance(uevent, tuple):
        for line in uevent:
            if line.startswith("DEVTYPE="):
                return line.removeprefix("DEVTYPE=")
    if root.exists(f"{base}/tun_flags"):
        return "tap"
    if root.exists(f"{base}/device"):
        return "physical"
    return "other"


def _lower(root: SysfsRoot, base: str, kind: str) -> tuple[str, ...] | Unreadable:
    """Interfaces one step nearer the wire: bridge ports, `lower_*` links, a tap's bridge."""
    if kind == "bridge":
        ports = attr.listing(root, f"{base}/brif")
        return ports if isinstance(ports, Unreadable) else tuple(ports or ())
    if kind == "tap":
        master = attr.link_name(root, f"{base}/master")
        return master if isinstance(master, Unreadable) else tuple([master] if master else [])
    names = attr.listing(root, base)
    if not isinstance(names, tuple):
        return names or ()
    return tuple(n.removeprefix("lower_") for n in names if n.startswith("lower_"))


def _lower_device(root: SysfsRoot, name: str) -> LowerDevice | None:
    """The PCI function behind interface `name` and, for a VF, its PF; None when virtual or unreadable."""
    address = interface_device(root, name)
    if not isinstance(address, PciAddress):
        return None
    link = f"{NET}/{name}/device/physfn"
    target = attr.link_name(root, link)
    physfn: PciAddress | None | Unreadable
    if isinstance(target, str):
        physfn = PciAddress.try_parse(target) or Unreadable(link, f"unexpected target {target!r}")
    else:
        physfn = target
    return LowerDevice(name, address, physfn)


def standby_backend(root: SysfsRoot, name: str) -> StandbyBackend | Unreadable:
    """Follow the standby's backend down to the physical interfaces it leaves the host through."""
    base = f"{NET}/{name}"
    if not root.exists(base):
        return StandbyBackend(name=name, kind="absent", lower=(), lower_devices=())
    kind = _kind(root, base)
    seen: list[str] = []
    frontier = [(name, kind)]
    for _ in range(_MAX_DEPTH):
        following: list[tuple[str, str]] = []
        for current, current_kind in frontier:
            lower = _lower(root, f"{NET}/{current}", current_kind)
            if isinstance(lower, Unreadable):
                return lower
            for item in lower:
                if item not in seen and item != name:
                    seen.append(item)
                    following.append((item, _kind(root, f"{NET}/{item}")))
        frontier = following
    devices = (_lower_device(root, n) for n in (name, *seen))
    return StandbyBackend(
        name=name,
        kind=kind,
        lower=tuple(seen),
        lower_devices=tuple(d for d in devices if d is not None),
    )
