"""Readers of what puts a device to use beyond its own interface's state: upper devices, VFIO files, `enable`.

`class/net/IF/upper_*` links name every device stacked on IF (VLAN, macvlan, ipvlan, bond, team, bridge
port: netdev_upper_dev_link() creates them), in this network namespace only; `devices/.../<bdf>/vfio-dev/vfioN`
names the device's VFIO device file `/dev/vfio/devices/vfioN` (iommufd's cdev, 6.6+; the directory exists
from 6.1), and `iommu_group` its group's `/dev/vfio/<N>`.

`enable` is the device's enable count (drivers/pci/pci-sysfs.c enable_show(): atomic_read(&pdev->enable_cnt)).
vfio-pci does not enable a device it binds; it enables it when a VFIO user opens the device
(vfio_pci_core_enable() calls pci_enable_device(), drivers/vfio/pci/vfio_pci_core.c) and disables it at the
last close (vfio_pci_core_disable(): pci_disable_device()). So on vfio-pci (or a vfio-pci-core variant),
`enable` above 0 means the device is open: through a group, a cdev or a device file passed on, whatever its
path (a node made with mknod elsewhere included). Seen in the lab guest (Linux 6.1, igb VFs): 0 when bound and
idle, and when only the group file is open; 1 while a process holds the device file alone (group and
container closed) or all three as QEMU does; 0 again after it exits.
"""

from __future__ import annotations

from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import Unreadable
from pcie_failover.model.occupancy import VfioDevice
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


def vfio_device(root: SysfsRoot, address: PciAddress) -> VfioDevice:
    """The device's VFIO files (`/dev/vfio/<group>`, `noiommu-<group>`, its cdevs) and its `enable` count."""
    path = resolve_device(root, address)
    if isinstance(path, Unreadable):
        return VfioDevice(str(address), frozenset(), None, path)
    files: set[str] = set()
    group = attr.link_name(root, f"{path}/iommu_group")
    if isinstance(group, str) and group.isdigit():
        files |= {f"/dev/vfio/{group}", f"/dev/vfio/noiommu-{group}"}
    cdevs = vfio_device_files(root, address)
    files |= set(cdevs) if isinstance(cdevs, tuple) else set()
    enabled = attr.required(root, f"{path}/enable", attr.dec_int)
    return VfioDevice(str(address), frozenset(files), f"/sys/{path}", enabled)
