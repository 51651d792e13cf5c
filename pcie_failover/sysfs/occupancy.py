"""Readers of what puts a device to use beyond its own interface's state: upper devices, VFIO character devices.

`class/net/IF/upper_*` links name every device stacked on IF (VLAN, macvlan, ipvlan, bond, team, bridge
port: netdev_upper_dev_link() creates them); `devices/.../<bdf>/vfio-dev/vfioN` names the VF's VFIO
device file `/dev/vfio/devices/vfioN` (6.1+, iommufd's cdev).
"""

from __future__ import annotations

from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import Unreadable
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.net import NET
from pcie_failover.sysfs.pci import resolve_device
from pcie_failover.sysfs.root import SysfsRoot

UPPER_PREFIX = "upper_"


def upper_devices(root: SysfsRoot, ifname: str) -> tuple[str, ...] | Unreadable:
    """The interfaces stacked on `ifname` (its `upper_*` links), in the kernel's order."""
    names = attr.listing(root, f"{NET}/{ifname}")
    if isinstance(names, Unreadable):
        return names
    return tuple(n.removeprefix(UPPER_PREFIX) for n in names or () if n.startswith(UPPER_PREFIX))


def vfio_device_files(root: SysfsRoot, address: PciAddress) -> tuple[str, ...] | Unreadable:
    """`/dev/vfio/devices/vfioN` for each `vfio-dev/vfioN` of the device (none before 6.1 or off vfio-pci)."""
    path = resolve_device(root, address)
    if isinstance(path, Unreadable):
        return path
    names = attr.listing(root, f"{path}/vfio-dev")
    if isinstance(names, Unreadable):
        return names
    return tuple(f"/dev/vfio/devices/{n}" for n in names or () if n.startswith("vfio") and n[4:].isdigit())
