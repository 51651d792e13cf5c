"""Whether a device `prepare` would change is in use: check's predicate (rules/usage.py) and what it does not see.

Pure. For a network function on a host driver:
- enslaved, or with routes or addresses that reach beyond the link, up or down (an IPv6 link-local address,
  fe80::/10, is on every interface that is up, and alone it is no sign of use);
- an upper device (VLAN, macvlan, ipvlan, bridge port, bond: an `upper_*` link);
- a secondary unicast address in its unicast filter, up or down: a macvlan or macvtap whose MAC differs from its
  lower's adds its MAC there when opened (macvlan_open() -> dev_uc_add(), drivers/net/macvlan.c) and keeps it
  while it is up, in whatever network namespace it was moved to (a container's), where it survives the lower
  being set down (LOWERLAYERDOWN) but is deleted with the lower when its driver is unbound. The kernel dumps
  that filter for a device with no fdb of its own (ndo_dflt_fdb_dump(), net/core/rtnetlink.c: `bridge fdb show
  dev IF`, "self permanent"); multicast entries (33:33:.., 01:00:5e:..) are not counted. An ipvlan adds no
  unicast entry and leaves no trace here: one in another namespace cannot be seen;
- administratively up at all: the kernel makes `upper_*` links only within one network namespace (a macvlan or
  ipvlan moved to another one leaves none), and AF_PACKET, AF_XDP, tc and XDP users leave no trace in sysfs,
  so an interface that is up may be in use by something this host cannot show;
- a network driver bound with no interface visible here is in use elsewhere or unknown: sysfs shows a
  device's `net/` entries of this network namespace only, so an interface moved to another one vanishes;
- a userspace I/O driver (igb_uio, uio_pci_generic): DPDK or another program may drive it, unseen.
For a device on vfio-pci: a process holding its VFIO files (`/dev/vfio/<group>`, `/dev/vfio/devices/vfioN`)
open, a VFIO device file fdinfo says is its, or its `enable` count above 0 (vfio-pci enables a device only
while it is open: sysfs/occupancy.py); with `enable` unreadable, any VFIO device file fdinfo does not name
makes it unknown.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from pcie_failover.model.host import NetDevice, Unreadable
from pcie_failover.model.occupancy import Holders, VfioDevice
from pcie_failover.rules.usage import Usage

Uppers = Mapping[str, "tuple[str, ...] | Unreadable"]
# By interface: the secondary unicast addresses in its unicast filter (adapters/iproute.py secondary_unicast()).
Unicast = Mapping[str, "tuple[str, ...] | Unreadable"]
_NONE: Unicast = {}
_LINK_LOCAL = ipaddress.IPv6Network("fe80::/10")
UIO_DRIVERS = frozenset({"igb_uio", "uio_pci_generic"})


def beyond_the_link(address: str) -> bool:
    """False for an IPv6 link-local address (`fe80::1/64`); True for every other, and for what does not parse."""
    try:
        interface = ipaddress.ip_interface(address)
    except ValueError:
        return True
    return not (isinstance(interface, ipaddress.IPv6Interface) and interface.ip in _LINK_LOCAL)


# include/uapi/linux/if.h: set in dev->flags while the promiscuity count is above 0 (__dev_set_promiscuity(),
# net/core/dev.c), which macvlan's passthru mode takes on its lower device (macvlan_open(), drivers/net/macvlan.c)
IFF_PROMISC = 0x100


def unseen(name: str, what: str) -> str:
    """The advice every network-use refusal ends with: what to do first, and what that does not make safe."""
    return (
        f"if nothing uses it, {what} first (a macvlan or ipvlan in a container survives `ip link set down` but "
        "is deleted with the interface, and an ipvlan in another network namespace cannot be seen from here; "
        f"NetworkManager or systemd-networkd bring {name} up again unless told to leave it unmanaged)"
    )


def up_why(name: str) -> str:
    return (
        f"{name} is up: something this host cannot show may use it (an ipvlan in another network namespace, "
        f"AF_PACKET, XDP): {unseen(name, f'`ip link set dev {name} down`')}"
    )


def _flush(name: str) -> str:
    return f"`ip address flush dev {name}` and `ip link set dev {name} down`"


def _interface_use(netdev: NetDevice, uppers: Uppers, unicast: Unicast) -> Usage:
    """One interface, up or down: enslaved, addresses beyond the link, routes, upper devices, secondary unicast
    addresses, then up at all."""
    name = netdev.name
    if isinstance(netdev.master, str):
        return Usage(
            True,
            f"{name} is enslaved to {netdev.master}: {unseen(name, f'`ip link set dev {name} nomaster` and down')}",
        )
    if isinstance(netdev.master, Unreadable):
        return Usage(None, f"{name}: {netdev.master}")
    up = netdev.admin_up
    if up is None:
        return Usage(None, f"{name}: {netdev.flags}")
    state = "is up with" if up else "is down but has"
    if isinstance(netdev.ip_addresses, Unreadable):
        return Usage(None, f"{name}'s addresses are unknown ({netdev.ip_addresses.reason})")
    significant = [a for a in netdev.ip_addresses if beyond_the_link(a)]
    if significant:
        return Usage(True, f"{name} {state} {', '.join(significant[:3])}: {unseen(name, _flush(name))}")
    if isinstance(netdev.routes, Unreadable):
        return Usage(None, f"{name}'s routes are unknown ({netdev.routes.reason})")
    if netdev.routes:
        return Usage(True, f"{name} carries routes to {', '.join(netdev.routes[:3])}: {unseen(name, _flush(name))}")
    stacked = uppers.get(name, ())
    if isinstance(stacked, Unreadable):
        return Usage(None, f"{name}'s upper devices could not be listed ({stacked.reason})")
    stacked = tuple(u for u in stacked if u != netdev.master)
    if stacked:
        return Usage(
            True,
            f"{name} has the upper device{'s' if len(stacked) > 1 else ''} {', '.join(stacked[:3])} "
            f"(a VLAN, macvlan, ipvlan, bridge or bond on top of it): {unseen(name, 'delete them')}",
        )
    secondary = unicast.get(name, ())
    if isinstance(secondary, Unreadable):
        return Usage(None, f"{name}'s unicast filter could not be read ({secondary}): a macvlan on it may be in use")
    if secondary:
        return Usage(
            True,
            f"{name}'s unicast filter holds {', '.join(secondary[:3])} besides its own MAC: a macvlan or macvtap on "
            "it, here or in another network namespace (a container's), which survives `ip link set down` but is "
            f"deleted with {name} when its driver is unbound: delete it first (`ip link delete` in its namespace)",
        )
    if up:
        return Usage(True, up_why(name))
    if isinstance(netdev.flags, int) and netdev.flags & IFF_PROMISC:
        return Usage(
            True,
            f"{name} is down but promiscuous: a passthru macvlan or macvtap on it, here or in another network "
            "namespace (it takes the interface's own MAC, so no unicast entry shows it), or a packet capture; "
            f"unbinding its driver deletes such a macvlan: {unseen(name, 'delete it or stop the capture')}",
        )
    return Usage(False, f"{name} is down and unused")


def network_use(
    netdevs: tuple[NetDevice, ...] | Unreadable, driver: str, uppers: Uppers, unicast: Unicast = _NONE
) -> Usage:
    """A function on host driver `driver`: in use, unused, or unknown (None), with why."""
    if driver in UIO_DRIVERS:
        return Usage(
            None,
            f"{driver} is a userspace I/O driver: DPDK or another program may drive the device, and this host "
            f"cannot show which: stop it, then unbind {driver} by hand",
        )
    if isinstance(netdevs, Unreadable):
        return Usage(None, f"its interfaces could not be listed ({netdevs})")
    if not netdevs:
        return Usage(
            None,
            f"{driver} is bound but no network interface of it is visible in this network namespace "
            "(moved to another namespace, where it may be in use): move it back, or unbind it by hand",
        )
    for netdev in netdevs:
        usage = _interface_use(netdev, uppers, unicast)
        if usage.in_use is not False:
            return usage
    return Usage(False, "not in use")


def _named(files: list[str]) -> str:
    return ", ".join(files[:3]) + (f" (and {len(files) - 3} more)" if len(files) > 3 else "")


def vfio_use(device: VfioDevice, holders: Holders) -> Usage:
    """A device on vfio-pci: in use when a process holds its VFIO files or the kernel shows it open (see module)."""
    seen = [f"{f.path} is open in pid {f.pid} ({f.comm})" for f in holders.files if f.path in device.files]
    seen += [
        f"a VFIO device file of it is open in pid {d.pid} ({d.comm})"
        for d in holders.device_files
        if d.syspath is not None and d.syspath == device.syspath
    ]
    unnamed = [f"pid {d.pid} ({d.comm})" for d in holders.device_files if d.syspath is None]
    enabled = device.enabled
    if isinstance(enabled, int) and enabled > 0:
        why = f"the kernel shows it enabled (enable {enabled}), as vfio-pci does only while a VFIO user has it open"
        if unnamed:
            why += f" (VFIO device files are open in {_named(unnamed)})"
        seen.append(why)
    if seen:
        return Usage(True, "; ".join(seen))
    if holders.error is not None:
        return Usage(None, holders.error)
    if holders.unreadable:
        return Usage(None, f"the open files of {holders.unreadable} process(es) could not be read (run as root)")
    if isinstance(enabled, Unreadable) and unnamed:
        return Usage(
            None,
            f"a VFIO device file is open in {_named(unnamed)}, and prepare cannot tell which device it is "
            f"({enabled}): stop it first",
        )
    return Usage(False, "no process holds its VFIO files open")


def use_refusal(address: str, usage: Usage, now: str = "") -> str | None:
    """The refusal a device's use gives (`now`: " now", for a device read again mid-run); None when unused."""
    if usage.in_use:
        return f"{address} is in use on this host{now}: {usage.why}"
    if usage.in_use is None:
        return f"cannot tell whether {address} is in use{now}: {usage.why}"
    return None
