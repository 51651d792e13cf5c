"""Read everything `check` needs about one device, and nothing else."""

from __future__ import annotations

import posixpath

from pcie_failover.model.address import DeviceQuery, PciAddress
from pcie_failover.model.check import CheckInput, CheckOptions, Located
from pcie_failover.model.host import (
    GroupMember,
    IommuGroup,
    IommuPlatform,
    NetDevice,
    PciFunction,
    Slot,
    Unreadable,
    UpstreamPort,
    VfAdminList,
)
from pcie_failover.netinfo.source import NetlinkSource
from pcie_failover.sysfs import net, pci
from pcie_failover.sysfs.iommu import read_group, read_member, read_platform
from pcie_failover.sysfs.root import SysfsRoot

VFIO_DRIVER = "bus/pci/drivers/vfio-pci"


def locate(root: SysfsRoot, query: DeviceQuery) -> Located | Unreadable:
    """Resolve the user's query to a present PCI function, or say why not."""
    if query.address is not None:
        if root.exists(pci.device_link(query.address)):
            return Located(query.address, None, None, ())
        return Located(None, None, f"no PCI device {query.address} on this host", pci.candidates(root, query.address))
    name = query.ifname or ""
    if not root.exists(f"{net.NET}/{name}"):
        return Located(None, name, f"no network interface {name!r} on this host", ())
    address = net.interface_device(root, name)
    if isinstance(address, Unreadable):
        return address
    if address is None:
        return Located(None, name, f"{name} is a virtual interface, not backed by a PCI device", ())
    return Located(address, name, None, ())


class HostReader:
    """Reads what checks need; what several devices share (PFs, groups, ports, slots) is read once.

    A single `check` makes one; `list` keeps one for all devices, so a PF with 256 VFs
    is read, and asked of netlink, once rather than 256 times.
    """

    def __init__(self, root: SysfsRoot, netlink: NetlinkSource) -> None:
        self.root = root
        self.netlink = netlink
        self._platform: IommuPlatform | None = None
        self._vfio_loaded: bool | None = None
        self._pfs: dict[PciAddress, tuple[PciFunction | Unreadable, NetDevice | None | Unreadable]] = {}
        self._vf_admin: dict[str, VfAdminList | Unreadable] = {}
        self._groups: dict[str, tuple[str | None | Unreadable, tuple[PciAddress, ...] | Unreadable]] = {}
        self._members: dict[PciAddress, GroupMember] = {}
        self._ports: dict[str, tuple[UpstreamPort, ...]] = {}
        self._slots: dict[tuple[PciAddress, PciAddress | None], Slot | None | Unreadable] = {}

    def platform(self) -> IommuPlatform:
        """Host-wide IOMMU facts."""
        if self._platform is None:
            self._platform = read_platform(self.root, self.netlink.kernel_cmdline)
        return self._platform

    def vfio_loaded(self) -> bool:
        """Whether the vfio-pci driver is registered."""
        if self._vfio_loaded is None:
            self._vfio_loaded = self.root.exists(VFIO_DRIVER)
        return self._vfio_loaded

    def pf(self, address: PciAddress) -> tuple[PciFunction | Unreadable, NetDevice | None | Unreadable]:
        """A PF and its first interface."""
        if address not in self._pfs:
            pf = pci.read_function(self.root, address)
            netdev: NetDevice | None | Unreadable
            if isinstance(pf, Unreadable):
                netdev = pf
            elif isinstance(pf.netdevs, Unreadable):
                netdev = pf.netdevs
            else:
                netdev = net.read_netdev(self.root, pf.netdevs[0], self.netlink) if pf.netdevs else None
            self._pfs[address] = (pf, netdev)
        return self._pfs[address]

    def vf_admin(self, pf_netdev: str) -> VfAdminList | Unreadable:
        """The PF's VF list: one netlink request per PF."""
        if pf_netdev not in self._vf_admin:
            self._vf_admin[pf_netdev] = self.netlink.vf_admin(pf_netdev)
        return self._vf_admin[pf_netdev]

    def group(self, number: str, exclude: PciAddress) -> IommuGroup:
        """The group, with every member but `exclude` (each member is read once, and only when needed)."""
        if number not in self._groups:
            self._groups[number] = read_group(self.root, number)
        name, addresses = self._groups[number]
        if isinstance(addresses, Unreadable):
            return IommuGroup(number, name, addresses)
        for address in addresses:
            if address != exclude and address not in self._members:
                self._members[address] = read_member(self.root, address, self.netlink)
        return IommuGroup(number, name, tuple(self._members[a] for a in addresses if a != exclude))

    def ports(self, path: str) -> tuple[UpstreamPort, ...]:
        """The ports above the device at `path` (siblings share them)."""
        parent = posixpath.dirname(path)
        if parent not in self._ports:
            self._ports[parent] = pci.read_ports(self.root, path)
        return self._ports[parent]

    def slot(self, child: PciAddress, port: UpstreamPort | None) -> Slot | None | Unreadable:
        """The slot holding `child` below `port`."""
        key = (child, None if port is None else port.address)
        if key not in self._slots:
            self._slots[key] = pci.find_slot(self.root, child, port)
        return self._slots[key]

    def check_input(
        self, query: DeviceQuery, options: CheckOptions, found: PciAddress | PciFunction | None = None
    ) -> CheckInput:
        """One device, its PF, its IOMMU group, its upstream ports and slot, and the VF's admin settings.

        `found`: the caller has just seen the device (in the bus listing, or at a pair's address),
        so it is not looked up again; or has just read it (`list`), so it is not read again.
        """
        root, netlink = self.root, self.netlink
        seen = found.address if isinstance(found, PciFunction) else found
        located = locate(root, query) if seen is None else Located(seen, None, None, ())
        platform = self.platform()
        standby = None if options.standby_netdev is None else net.standby_backend(root, options.standby_netdev)
        vfio_loaded = self.vfio_loaded()
        address = located.address if isinstance(located, Located) else None
        if address is None:
            return CheckInput(
                query, options, located, None, (), None, None, None, None, None, platform, (), None, vfio_loaded,
                standby,
            )  # fmt: skip
        device = found if isinstance(found, PciFunction) else pci.read_function(root, address)
        if isinstance(device, Unreadable):
            return CheckInput(
                query, options, located, device, device, device, device, device, device, device, platform,
                device, device, vfio_loaded, standby,
            )  # fmt: skip
        netdevs = (
            device.netdevs
            if isinstance(device.netdevs, Unreadable)
            else tuple(net.read_netdev(root, n, netlink) for n in device.netdevs)
        )
        pf: PciFunction | None | Unreadable = None
        pf_netdev: NetDevice | None | Unreadable = None
        vf_index: int | None | Unreadable = None
        vf_admin: VfAdminList | Unreadable | None = None
        if isinstance(device.physfn, Unreadable):
            pf = pf_netdev = vf_index = device.physfn
        elif device.physfn is not None:
            pf, pf_netdev = self.pf(device.physfn)
            if isinstance(pf, PciFunction):
                vf_index = pci.vf_index(root, address, pf)
                if isinstance(pf_netdev, NetDevice):
                    vf_admin = self.vf_admin(pf_netdev.name)
            else:
                vf_index = pf
        group = device.iommu_group
        ports = self.ports(device.path)
        slot_child = pf.address if isinstance(pf, PciFunction) else address
        return CheckInput(
            query=query,
            options=options,
            located=located,
            device=device,
            netdevs=netdevs,
            pf=pf,
            pf_netdev=pf_netdev,
            vf_index=vf_index,
            vf_admin=vf_admin,
            group=group if not isinstance(group, str) else self.group(group, address),
            platform=platform,
            ports=ports,
            slot=self.slot(slot_child, ports[0] if ports else None),
            vfio_driver_loaded=vfio_loaded,
            standby=standby,
        )


def read_check_input(root: SysfsRoot, query: DeviceQuery, options: CheckOptions, netlink: NetlinkSource) -> CheckInput:
    """Everything one `check` needs."""
    return HostReader(root, netlink).check_input(query, options)
