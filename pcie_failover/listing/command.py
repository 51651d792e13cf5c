"""`list`: every network-class PCI function (or one PF and its VFs), with its relation and readiness as a primary."""

from __future__ import annotations

from pcie_failover.assessment import assess
from pcie_failover.model.address import DeviceQuery, MacAddress, PciAddress
from pcie_failover.model.check import CheckInput, CheckOptions, Located
from pcie_failover.model.host import NETWORK_CLASS, DeviceNames, PciFunction, is_network
from pcie_failover.model.report import ListedDevice, ListReport, summarize
from pcie_failover.model.results import Status
from pcie_failover.sysfs.check_input import HostReader, locate
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.names import Ids, ids_of, names_for
from pcie_failover.sysfs.pci import each_function_of_class, functions_of_class, read_function, virtfns
from pcie_failover.sysfs.root import SysfsRoot


class NoSuchPfError(Exception):
    """`--pf` names no SR-IOV network PF of this host (a usage error, exit code 2); the message is one line."""


def _interface_mac(check_input: CheckInput) -> str | None:
    """The current address of the device's first interface that has one."""
    netdevs = check_input.netdevs
    for netdev in netdevs if isinstance(netdevs, tuple) else ():
        if isinstance(netdev.address, MacAddress):
            return str(netdev.address)
    return None


def _role(function: PciFunction) -> str:
    if isinstance(function.physfn, PciAddress):
        return "vf"
    return "pf" if function.sriov is not None else "device"


def pf_and_vfs(root: SysfsRoot, query: DeviceQuery) -> list[tuple[PciAddress, int]]:
    """The network PF that `query` names (an address or its interface) and its VFs; NoSuchPfError otherwise."""
    located = locate(root, query)
    if not isinstance(located, Located):
        raise NoSuchPfError(f"--pf {query.text}: {located}")
    if located.address is None:
        raise NoSuchPfError(f"--pf {query.text}: {located.problem}")
    pf = read_function(root, located.address)
    if not isinstance(pf, PciFunction) or pf.sriov is None or not is_network(pf.pci_class):
        of = f" (a VF of {pf.physfn})" if isinstance(pf, PciFunction) and isinstance(pf.physfn, PciAddress) else ""
        raise NoSuchPfError(f"--pf {query.text}: {located.address} is not an SR-IOV network PF{of}")
    return functions_of_class(root, NETWORK_CLASS, sorted(str(a) for a in {pf.address, *virtfns(root, pf.path)}))


def run_list(root: SysfsRoot, options: CheckOptions, pf: DeviceQuery | None = None, vfs: bool = False) -> ListReport:
    """Check every network function, or `pf` and its VFs; `vfs`: VFs only (a device that vanishes is left out)."""
    candidates = each_function_of_class(root, NETWORK_CLASS) if pf is None else pf_and_vfs(root, pf)
    reader = HostReader(root, netlink_for(root))
    source = names_for(root)
    known: dict[Ids, DeviceNames | None] = {}  # looked up once per distinct id: a big host has a handful
    devices: list[ListedDevice] = []
    for address, pci_class in candidates:
        function = read_function(root, address, pci_class)  # the class is not read twice
        if not isinstance(function, PciFunction) or (vfs and function.physfn is None):
            continue
        check_input = reader.check_input(DeviceQuery(str(address), address, None), options, found=function)
        ids = ids_of(function)
        if ids is not None and ids not in known:
            known[ids] = source.lookup([function]).get(ids)
        names = None if ids is None else known[ids]
        report = assess(check_input, root.origin, names=names)  # its summary is the listed one: made once
        interface_mac = _interface_mac(check_input)
        admin = None if check_input.admin_mac is None else str(check_input.admin_mac)
        sriov = function.sriov
        devices.append(
            ListedDevice(
                summary=report.device or summarize(function, check_input.vf_index, check_input.slot, names),
                role=_role(function),
                mac=interface_mac or admin,
                verdict=report.verdict,
                failing=tuple(r.rule_id for r in report.results if r.status is Status.FAIL),
                interface_mac=interface_mac,
                admin_mac=admin,
                driver_override=function.driver_override if isinstance(function.driver_override, str) else None,
                sriov_numvfs=sriov.num_vfs if sriov is not None and isinstance(sriov.num_vfs, int) else None,
                sriov_totalvfs=sriov.total_vfs if sriov is not None and isinstance(sriov.total_vfs, int) else None,
            )
        )
    return ListReport(
        sysfs_root=root.origin, options=options, devices=tuple(devices), pf=None if pf is None else pf.text, vfs=vfs
    )
