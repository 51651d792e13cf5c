"""Immutable records of what was read from a host: devices, ports, slots, groups, netdevs.

Convention: a field typed `T | None | Unreadable` is None when the attribute is absent
(the kernel does not create it for this device) and Unreadable when it exists, or
should, but could not be read; the rules turn Unreadable into an `unknown` result.
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple, TypeGuard

from pcie_failover.model.address import MacAddress, PciAddress
from pcie_failover.model.config_space import ConfigSpace
from pcie_failover.model.record import record


@record
class Unreadable:
    """A value that could not be read: the path (relative to the sysfs root) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


NETWORK_CLASS = 0x02  # the PCI base class "network controller": the high byte of `class` (0x020000 Ethernet)


def is_network(pci_class: int | Unreadable) -> TypeGuard[int]:
    """Whether a function's `class` says network controller (an unreadable class does not)."""
    return isinstance(pci_class, int) and pci_class >> 16 == NETWORK_CLASS


@record
class Sriov:
    """A PF's SR-IOV attributes (sriov_totalvfs, sriov_numvfs, sriov_offset, sriov_stride)."""

    total_vfs: int | Unreadable
    num_vfs: int | Unreadable
    offset: int | None | Unreadable
    stride: int | None | Unreadable


@record
class NetDevice:
    """A network interface (`class/net/<name>`) as far as the rules need it."""

    name: str
    flags: int | Unreadable  # `flags`: IFF_UP is bit 0
    operstate: str | Unreadable
    address: MacAddress | None | Unreadable
    master: str | None | Unreadable  # `master` link: bridge or bond it is enslaved to
    ip_addresses: tuple[str, ...] | Unreadable  # from netlink (live) or the snapshot
    routes: tuple[str, ...] | Unreadable  # destinations routed through it

    @property
    def admin_up(self) -> bool | None:
        """IFF_UP, or None when unknown."""
        return None if isinstance(self.flags, Unreadable) else bool(self.flags & 1)


class DeviceNames(NamedTuple):
    """A vendor and device id's names in the PCI ID database (pci.ids); None where it has none or none is known.

    A NamedTuple, not a dataclass: it is built on the check path, where a frozen dataclass costs 0.4 ms of start-up.
    """

    vendor: str | None = None
    device: str | None = None


@record
class PciFunction:
    """One PCI function (`bus/pci/devices/<bdf>`); identity comes from the sysfs files."""

    address: PciAddress
    path: str  # resolved, relative to the sysfs root: devices/pci0000:00/.../<bdf>
    vendor: int | Unreadable
    device: int | Unreadable
    pci_class: int | Unreadable
    driver: str | None | Unreadable
    driver_override: str | None | Unreadable  # None when the kernel shows "(null)"
    vfio_dev: bool | Unreadable  # vfio-pci or a variant owns it: a `vfio-dev/` child (6.1+), else see sysfs/pci.py
    physfn: PciAddress | None | Unreadable  # set on a VF
    sriov: Sriov | None  # set on a PF (sriov_totalvfs exists)
    iommu_group: str | None | Unreadable
    numa_node: int | None | Unreadable
    reset_methods: tuple[str, ...] | None | Unreadable  # None: `reset_method` absent
    has_reset: bool  # the `reset` attribute exists (some reset method is available)
    has_link_speed: bool  # `current_link_speed`: exactly the devices with a PCIe capability
    config: ConfigSpace | None | Unreadable  # None: fewer than 64 bytes readable
    netdevs: tuple[str, ...] | Unreadable  # names under `net/`

    @property
    def is_vfio(self) -> bool:
        """Owned by vfio-pci or a vfio variant driver."""
        return self.driver == "vfio-pci" or self.vfio_dev is True


@record
class Slot:
    """A hotplug or physical slot (`bus/pci/slots/<name>`)."""

    name: str
    address: str  # DDDD:BB or DDDD:BB:DD
    hotplug_driver: str | None | Unreadable  # `module` link: pciehp, acpiphp, shpchp
    power: str | None | Unreadable  # "0"/"1" where the hotplug driver provides it


@record
class UpstreamPort:
    """A bridge or port above the device, nearest first."""

    address: PciAddress
    driver: str | None | Unreadable
    config: ConfigSpace | None | Unreadable
    pciehp: bool | None | Unreadable  # the port's pcie004/pcie204 service bound to pciehp


@record
class GroupMember:
    """Another member of the device's IOMMU group."""

    address: PciAddress
    driver: str | None | Unreadable
    vfio_dev: bool | Unreadable
    pci_class: int | Unreadable
    netdevs: tuple[NetDevice, ...] | Unreadable


@record
class IommuGroup:
    """`kernel/iommu_groups/<number>`."""

    number: str
    name: str | None | Unreadable  # "vfio-noiommu" in unsafe no-IOMMU mode
    members: tuple[GroupMember, ...] | Unreadable  # excluding the device itself


@record
class IommuPlatform:
    """Host-wide IOMMU facts."""

    units: tuple[str, ...] | Unreadable  # `class/iommu` entries: dmar0, ivhd0, smmu3.0x...
    firmware_tables: tuple[str, ...] | Unreadable  # of DMAR, IVRS, IORT present in firmware/acpi/tables
    devicetree: bool  # firmware/devicetree exists: an Arm (or other DT) host, whose SMMU may not be in ACPI
    interrupt_remapping: bool | None | Unreadable  # enabled (an IR-/ITS irq chip); None: not an x86 or Arm IOMMU
    remapping_evidence: str  # what `interrupt_remapping` was decided from, for messages
    unsafe_interrupts: bool | None | Unreadable  # vfio_iommu_type1 allow_unsafe_interrupts; None: not loaded
    iommufd_unsafe_interrupts: bool | None | Unreadable  # iommufd allow_unsafe_interrupts; None: not loaded
    kernel_cmdline: str | None  # live /proc/cmdline or the snapshot's; None when not known


@record
class VfAdmin:
    """One VF's admin settings as rtnetlink reports them on the PF (IFLA_VF_*)."""

    index: int
    mac: MacAddress | None
    vlan: int
    qos: int
    spoofchk: bool | None  # None: the driver does not report it
    trust: bool | None
    link_state: str | None  # "auto", "enable", "disable"


@record
class VfAdminList:
    """IFLA_VFINFO_LIST of a PF: the VFs listed (a short list means unknown, not absent)."""

    pf_netdev: str
    num_vfs: int | None  # IFLA_NUM_VF
    vfs: tuple[VfAdmin, ...]

    @cached_property
    def _by_index(self) -> dict[int, VfAdmin]:
        return {vf.index: vf for vf in self.vfs}

    def get(self, index: int) -> VfAdmin | None:
        """The entry for VF `index`, or None when the list does not carry it."""
        return self._by_index.get(index)


@record
class LowerDevice:
    """A PCI function behind an interface on the standby's path: `physfn` is its PF when it is a VF."""

    ifname: str
    address: PciAddress
    physfn: PciAddress | None | Unreadable


@record
class StandbyBackend:
    """The standby's host backend named by `--standby-netdev` and its path to the wire."""

    name: str
    kind: str  # bridge, tap, macvtap, macvlan, vlan, bond, physical, other; "absent": no such interface
    lower: tuple[str, ...]  # every interface it reaches the wire through, nearest first
    lower_devices: tuple[LowerDevice, ...]  # the PCI functions behind itself and those interfaces
