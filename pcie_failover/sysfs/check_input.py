"""Read everything `check` needs about one device, and nothing else."""

from __future__ import annotations

from pcie_failover.model.address import DeviceQuery
from pcie_failover.model.check import CheckInput, CheckOptions, Located
from pcie_failover.model.host import NetDevice, PciFunction, Unreadable, VfAdminList
from pcie_failover.netinfo.source import NetlinkSource
from pcie_failover.sysfs import net, pci
from pcie_failover.sysfs.iommu import read_group, read_platform
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


def _pf_netdev(root: SysfsRoot, pf: PciFunction, netlink: NetlinkSource) -> NetDevice | None | Unreadable:
    if isinstance(pf.netdevs, Unreadable):
        return pf.netdevs
    return net.read_netdev(root, pf.netdevs[0], netlink) if pf.netdevs else None


def read_check_input(root: SysfsRoot, query: DeviceQuery, options: CheckOptions, netlink: NetlinkSource) -> CheckInput:
    """One device, its PF, its IOMMU group, its upstream ports and slot, and the VF's admin settings."""
    located = locate(root, query)
    platform = read_platform(root, netlink.kernel_cmdline)
    standby = None if options.standby_netdev is None else net.standby_backend(root, options.standby_netdev)
    vfio_loaded = root.exists(VFIO_DRIVER)
    address = located.address if isinstance(located, Located) else None
    if address is None:
        return CheckInput(
            query, options, located, None, (), None, None, None, None, None, platform, (), None, vfio_loaded, standby
        )
    device = pci.read_function(root, address)
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
        pf = pci.read_function(root, device.physfn)
        if isinstance(pf, Unreadable):
            pf_netdev = vf_index = pf
        else:
            pf_netdev = _pf_netdev(root, pf, netlink)
            vf_index = pci.vf_index(root, address, pf)
            if isinstance(pf_netdev, NetDevice):
                vf_admin = netlink.vf_admin(pf_netdev.name)
    group = device.iommu_group
    group_info = group if not isinstance(group, str) else read_group(root, group, address, netlink)
    ports = pci.read_ports(root, device.path)
    slot_child = pf.address if isinstance(pf, PciFunction) else address
    slot = pci.find_slot(root, slot_child, ports[0] if ports else None)
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
        group=group_info,
        platform=platform,
        ports=ports,
        slot=slot,
        vfio_driver_loaded=vfio_loaded,
        standby=standby,
    )
