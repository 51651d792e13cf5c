"""The input of the host rules: everything `check` read about one proposed primary."""

from __future__ import annotations

import enum

from pcie_failover.model.address import DeviceQuery, MacAddress, PciAddress
from pcie_failover.model.host import (
    IommuGroup,
    IommuPlatform,
    NetDevice,
    PciFunction,
    Slot,
    StandbyBackend,
    Unreadable,
    UpstreamPort,
    VfAdminList,
)
from pcie_failover.model.record import record


class Manager(enum.Enum):
    """Who binds the VF to vfio-pci and sets its MAC: the user (plain QEMU) or libvirt."""

    QEMU = "qemu"
    LIBVIRT = "libvirt"


@record
class CheckOptions:
    """What the user asked for, beyond the device."""

    manager: Manager = Manager.QEMU
    mac: MacAddress | None = None
    mac_asserted: bool = True  # `mac` is the administrator's word (--mac); lint's standby MAC is only compared
    allow_pf: bool = False
    standby_netdev: str | None = None
    vf_token: bool | None = None  # whether the primary is given a VF token (lint knows; check does not)


@record
class Located:
    """How the query was resolved to a device, or why it was not."""

    address: PciAddress | None
    ifname: str | None  # the interface the user named, when a name was given
    problem: str | None  # why nothing was found; None when `address` is set
    candidates: tuple[PciAddress, ...]


@record
class CheckInput:
    """One device and its surroundings, read once; the rules are pure functions of this."""

    query: DeviceQuery
    options: CheckOptions
    located: Located | Unreadable
    device: PciFunction | None | Unreadable  # None: nothing found
    netdevs: tuple[NetDevice, ...] | Unreadable  # the device's own interfaces (host driver bound)
    pf: PciFunction | None | Unreadable  # None: the device is not a VF
    pf_netdev: NetDevice | None | Unreadable  # None: the PF has no interface
    vf_index: int | None | Unreadable
    vf_admin: VfAdminList | Unreadable | None  # None: not applicable (no VF, no PF netdev)
    group: IommuGroup | None | Unreadable  # None: no `iommu_group` link
    platform: IommuPlatform
    ports: tuple[UpstreamPort, ...] | Unreadable  # nearest first
    slot: Slot | None | Unreadable  # the slot of the nearest port; None when there is none
    vfio_driver_loaded: bool | Unreadable  # `bus/pci/drivers/vfio-pci` exists
    standby: StandbyBackend | None | Unreadable  # None: no --standby-netdev

    @property
    def admin_mac(self) -> MacAddress | None:
        """The VF's admin MAC as its PF reports it; None when not a VF or not known."""
        listing = self.vf_admin
        if not isinstance(listing, VfAdminList) or not isinstance(self.vf_index, int):
            return None
        entry = listing.get(self.vf_index)
        return None if entry is None else entry.mac

    @property
    def pf_mac(self) -> MacAddress | None:
        """The address of the PF's interface; None when not known."""
        netdev = self.pf_netdev
        return netdev.address if isinstance(netdev, NetDevice) and isinstance(netdev.address, MacAddress) else None
