"""`list`: every network-class PCI function, with its relation and readiness as a primary."""

from __future__ import annotations

from pcie_failover.model.address import DeviceQuery, MacAddress, PciAddress
from pcie_failover.model.check import CheckInput, CheckOptions
from pcie_failover.model.host import PciFunction
from pcie_failover.model.report import ListedDevice, ListReport, summarize
from pcie_failover.model.results import Status, verdict_of
from pcie_failover.rules import run_host_rules
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.check_input import HostReader
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.pci import DEVICES
from pcie_failover.sysfs.root import SysfsRoot

NETWORK_CLASS = 0x02


def _mac(check_input: CheckInput) -> str | None:
    """The device's own interface address, else (a VF on vfio-pci) its admin MAC."""
    netdevs = check_input.netdevs
    for netdev in netdevs if isinstance(netdevs, tuple) else ():
        if isinstance(netdev.address, MacAddress):
            return str(netdev.address)
    admin = check_input.admin_mac
    return None if admin is None else str(admin)


def _role(function: PciFunction) -> str:
    if isinstance(function.physfn, PciAddress):
        return "vf"
    return "pf" if function.sriov is not None else "device"


def network_functions(root: SysfsRoot) -> list[PciAddress]:
    """Addresses of the functions whose class is a network controller (0x02xxxx)."""
    names = attr.listing(root, DEVICES)
    found: list[PciAddress] = []
    for name in names if isinstance(names, tuple) else ():
        address = PciAddress.try_parse(name)
        if address is None:
            continue
        pci_class = attr.required(root, f"{DEVICES}/{name}/class", attr.hex_int)
        if isinstance(pci_class, int) and pci_class >> 16 == NETWORK_CLASS:
            found.append(address)
    return found


def run_list(root: SysfsRoot, options: CheckOptions) -> ListReport:
    """Check every network function (a device that vanishes meanwhile is left out)."""
    reader = HostReader(root, netlink_for(root))
    devices: list[ListedDevice] = []
    for address in network_functions(root):
        check_input = reader.check_input(DeviceQuery(str(address), address, None), options, found=address)
        function = check_input.device
        if not isinstance(function, PciFunction):
            continue
        results = run_host_rules(check_input)
        devices.append(
            ListedDevice(
                summary=summarize(function, check_input.vf_index, check_input.slot),
                role=_role(function),
                mac=_mac(check_input),
                verdict=verdict_of(results),
                failing=tuple(r.rule_id for r in results if r.status is Status.FAIL),
            )
        )
    return ListReport(sysfs_root=root.path, options=options, devices=tuple(devices))
