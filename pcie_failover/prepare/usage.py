"""Whether a device `prepare` would change is in use: check's predicate (rules/usage.py) and what it does not see.

Pure. On top of check's "enslaved, or up with addresses or routes":
- only addresses that reach beyond the link count: an IPv6 link-local address (fe80::/10) is on every
  interface that is up, and alone it is no sign of use;
- an interface with an upper device (VLAN, macvlan, ipvlan, bridge port, bond: an `upper_*` link) is in use;
- a network driver bound with no interface visible here is in use elsewhere or unknown: sysfs shows a
  device's `net/` entries of this network namespace only, so an interface moved to another one vanishes;
- a device whose VFIO files (`/dev/vfio/<group>`, `/dev/vfio/devices/vfioN`) a process holds open is in
  use by that process (QEMU, DPDK).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import replace

from pcie_failover.adapters.proc import Holders
from pcie_failover.model.host import NetDevice, Unreadable
from pcie_failover.rules.usage import Usage, interface_usage

Uppers = Mapping[str, "tuple[str, ...] | Unreadable"]
_LINK_LOCAL = ipaddress.IPv6Network("fe80::/10")


def beyond_the_link(address: str) -> bool:
    """False for an IPv6 link-local address (`fe80::1/64`); True for every other, and for what does not parse."""
    try:
        interface = ipaddress.ip_interface(address)
    except ValueError:
        return True
    return not (isinstance(interface, ipaddress.IPv6Interface) and interface.ip in _LINK_LOCAL)


def _significant(netdev: NetDevice) -> NetDevice:
    addresses = netdev.ip_addresses
    if isinstance(addresses, Unreadable):
        return netdev
    return replace(netdev, ip_addresses=tuple(a for a in addresses if beyond_the_link(a)))


def network_use(netdevs: tuple[NetDevice, ...] | Unreadable, driver: str, uppers: Uppers) -> Usage:
    """A network function on host driver `driver`: in use, unused, or unknown (None), with why."""
    if isinstance(netdevs, Unreadable):
        return interface_usage(netdevs)
    if not netdevs:
        return Usage(
            None,
            f"{driver} is bound but no network interface of it is visible in this network namespace "
            "(moved to another namespace, where it may be in use): move it back, or unbind it by hand",
        )
    usage = interface_usage(tuple(_significant(n) for n in netdevs))
    if usage.in_use:
        return usage
    for netdev in netdevs:
        stacked = uppers.get(netdev.name, ())
        if isinstance(stacked, Unreadable):
            return Usage(None, f"{netdev.name}'s upper devices could not be listed ({stacked.reason})")
        stacked = tuple(u for u in stacked if u != netdev.master)
        if stacked:
            return Usage(
                True,
                f"{netdev.name} has the upper device{'s' if len(stacked) > 1 else ''} {', '.join(stacked[:3])} "
                "(a VLAN, macvlan, ipvlan, bridge or bond on top of it)",
            )
    return usage


def process_use(holders: Holders) -> Usage:
    """In use when a process holds a VFIO file of the device open (pid and comm named); unknown when not seen."""
    if holders.files:
        named = "; ".join(f"{f.path} is open in pid {f.pid} ({f.comm})" for f in holders.files[:3])
        return Usage(True, named)
    if holders.error is not None:
        return Usage(None, holders.error)
    if holders.unreadable:
        return Usage(None, f"the open files of {holders.unreadable} process(es) could not be read (run as root)")
    return Usage(False, "no process holds its VFIO files open")
