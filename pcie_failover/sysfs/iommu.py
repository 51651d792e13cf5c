"""Reader of IOMMU groups (`kernel/iommu_groups`) and host IOMMU facts (`class/iommu`, firmware)."""

from __future__ import annotations

from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import GroupMember, IommuPlatform, NetDevice, Unreadable
from pcie_failover.netinfo.source import NetlinkSource
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.net import read_netdev
from pcie_failover.sysfs.pci import resolve_device
from pcie_failover.sysfs.root import SysfsRoot

GROUPS = "kernel/iommu_groups"
IOMMU_CLASS = "class/iommu"
ACPI_TABLES = "firmware/acpi/tables"
IOMMU_TABLES = ("DMAR", "IVRS", "IORT")
_ECAP_INTERRUPT_REMAPPING = 1 << 3


def read_member(root: SysfsRoot, address: PciAddress, netlink: NetlinkSource) -> GroupMember:
    """What decides whether a group member keeps the group viable: its driver, and whether it is in use."""
    path = resolve_device(root, address)
    if isinstance(path, Unreadable):
        return GroupMember(address, path, path, path, path)
    names = attr.listing(root, f"{path}/net")
    netdevs: tuple[NetDevice, ...] | Unreadable = (
        names if isinstance(names, Unreadable) else tuple(read_netdev(root, n, netlink) for n in names or ())
    )
    return GroupMember(
        address=address,
        driver=attr.link_name(root, f"{path}/driver"),
        vfio_dev=root.exists(f"{path}/vfio-dev"),
        pci_class=attr.required(root, f"{path}/class", attr.hex_int),
        netdevs=netdevs,
    )


def read_group(root: SysfsRoot, number: str) -> tuple[str | None | Unreadable, tuple[PciAddress, ...] | Unreadable]:
    """A group's `name` and the addresses of its members."""
    base = f"{GROUPS}/{number}"
    names = attr.listing(root, f"{base}/devices")
    addresses: tuple[PciAddress, ...] | Unreadable
    if names is None:
        addresses = Unreadable(f"{base}/devices", "no such group")
    elif isinstance(names, Unreadable):
        addresses = names
    else:
        addresses = tuple(a for a in (PciAddress.try_parse(n) for n in names) if a is not None)
    return attr.optional(root, f"{base}/name", str), addresses


def _interrupt_remapping(root: SysfsRoot, units: tuple[str, ...]) -> bool | None:
    intel = [u for u in units if u.startswith("dmar")]
    if not intel:
        return None
    for unit in intel:
        ecap = attr.required(root, f"{IOMMU_CLASS}/{unit}/intel-iommu/ecap", attr.flags_int)
        if isinstance(ecap, Unreadable):
            return None
        if not ecap & _ECAP_INTERRUPT_REMAPPING:
            return False
    return True


def read_platform(root: SysfsRoot, kernel_cmdline: str | None) -> IommuPlatform:
    """Active IOMMU units, IOMMU tables in firmware, interrupt remapping, vfio's unsafe switch."""
    units = attr.listing(root, IOMMU_CLASS)
    units = () if units is None else units
    tables = attr.listing(root, ACPI_TABLES)
    unsafe = attr.optional(root, "module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", str)
    return IommuPlatform(
        units=units,
        firmware_tables=tables
        if isinstance(tables, Unreadable)
        else tuple(t for t in tables or () if t in IOMMU_TABLES),
        devicetree=root.exists("firmware/devicetree"),
        interrupt_remapping=_interrupt_remapping(root, units) if isinstance(units, tuple) else None,
        unsafe_interrupts=unsafe in ("Y", "1") if isinstance(unsafe, str) else None,
        kernel_cmdline=kernel_cmdline,
    )
