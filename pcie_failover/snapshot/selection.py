"""Which parts of sysfs a snapshot of some devices holds: exactly what the checks read of them."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import PciFunction, Unreadable
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.check_input import VFIO_DRIVER
from pcie_failover.sysfs.iommu import (
    ACPI_TABLES,
    GROUPS,
    IOMMU_CLASS,
    IOMMU_TABLES,
    IRQS,
    UNSAFE_INTERRUPTS,
    read_group,
)
from pcie_failover.sysfs.names import names_document, names_for
from pcie_failover.sysfs.net import NET
from pcie_failover.sysfs.pci import (
    DEVICES,
    SLOTS,
    VFIO_DEV_CLASS,
    VFIO_PCI_CORE,
    ancestor_addresses,
    read_function,
    virtfns,
)
from pcie_failover.sysfs.root import SysfsError, SysfsRoot

VIRTUAL_NET = "devices/virtual/net"


@dataclass(frozen=True)
class Selection:
    """Paths relative to the root, each kind copied its own way."""

    devices: tuple[str, ...]  # device directories: files, links and non-device subdirectories
    ports: tuple[str, ...]  # bridge directories: files, links and port-service subdirectories
    trees: tuple[str, ...]  # directories copied whole
    links: tuple[str, ...]  # single symbolic links
    presence: tuple[str, ...]  # files recorded empty: only that they exist matters (firmware tables)
    netdevs: tuple[str, ...]  # interfaces of the selected devices (their addresses and routes are recorded)
    pf_netdevs: tuple[str, ...]  # interfaces whose VF list is recorded
    names: bytes | None  # the names file: vendor and device names of the devices' ids (None: none known)


def _names(root: SysfsRoot, rel: str) -> tuple[str, ...]:
    found = attr.listing(root, rel)
    return found if isinstance(found, tuple) else ()


def _related(root: SysfsRoot, function: PciFunction) -> set[PciAddress]:
    """The function, its PF and sibling VFs (or its own VFs), and its IOMMU group."""
    found = {function.address}
    pf = function.physfn if isinstance(function.physfn, PciAddress) else None
    owner = pf or (function.address if function.sriov is not None else None)
    if owner is not None:
        found.add(owner)
        owner_path = (
            function.path if owner == function.address else posixpath.join(posixpath.dirname(function.path), str(owner))
        )
        found.update(virtfns(root, owner_path))
    if isinstance(function.iommu_group, str):
        _, members = read_group(root, function.iommu_group)
        if isinstance(members, tuple):
            found.update(members)
    return found


def select(root: SysfsRoot, wanted: list[PciAddress]) -> Selection:
    """The devices named, their PFs, sibling VFs, group members and upstream ports, and the host facts."""
    functions: dict[PciAddress, PciFunction] = {}

    def add(address: PciAddress) -> PciFunction | None:
        if address not in functions:
            function = read_function(root, address)
            if isinstance(function, Unreadable):
                return None
            functions[address] = function
        return functions[address]

    for address in wanted:
        function = add(address)
        for related in _related(root, function) if function is not None else ():
            add(related)
    ports: dict[PciAddress, str] = {}
    for function in functions.values():
        directory = posixpath.dirname(function.path)
        for port in ancestor_addresses(function.path):
            while directory and posixpath.basename(directory) != str(port):
                directory = posixpath.dirname(directory)
            ports.setdefault(port, directory)
    groups = sorted({f.iommu_group for f in functions.values() if isinstance(f.iommu_group, str)})
    drivers = sorted({f.driver for f in functions.values() if isinstance(f.driver, str)})
    netdevs = sorted({n for f in functions.values() if isinstance(f.netdevs, tuple) for n in f.netdevs})
    pf_netdevs = sorted(
        {f.netdevs[0] for f in functions.values() if f.sriov is not None and isinstance(f.netdevs, tuple) and f.netdevs}
    )
    units = _names(root, IOMMU_CLASS)
    return Selection(
        devices=tuple(sorted(f.path for f in functions.values())),
        ports=tuple(sorted(set(ports.values()) - {f.path for f in functions.values()})),
        trees=(
            SLOTS,
            "bus/pci_express/drivers",
            *UNSAFE_INTERRUPTS,
            VFIO_DRIVER,
            VFIO_DEV_CLASS,
            f"{VFIO_PCI_CORE}/holders",
            *(f"{IRQS}/{n}/chip_name" for n in _names(root, IRQS)),
            *(f"{GROUPS}/{g}" for g in groups),
            *(f"bus/pci/drivers/{d}" for d in drivers),
            *_resolved(root, [f"{IOMMU_CLASS}/{u}" for u in units]),
            *(f"{VIRTUAL_NET}/{n}" for n in _names(root, VIRTUAL_NET)),
        ),
        links=(
            *(f"{DEVICES}/{a}" for a in sorted(functions) + sorted(ports)),
            *(f"{IOMMU_CLASS}/{u}" for u in units),
            *(f"{NET}/{n}" for n in _names(root, NET)),
            *_service_links(root, ports),
        ),
        presence=tuple(f"{ACPI_TABLES}/{t}" for t in _names(root, ACPI_TABLES) if t in IOMMU_TABLES),
        netdevs=tuple(netdevs),
        pf_netdevs=tuple(pf_netdevs),
        names=names_document(names_for(root).lookup(functions.values())),
    )


def _resolved(root: SysfsRoot, links: list[str]) -> list[str]:
    found = []
    for link in links:
        try:
            found.append(root.resolve(link))
        except SysfsError:
            continue
    return found


def _service_links(root: SysfsRoot, ports: dict[PciAddress, str]) -> list[str]:
    services = "bus/pci_express/devices"
    wanted = {str(p) for p in ports}
    return [f"{services}/{n}" for n in _names(root, services) if n.split(":pcie")[0] in wanted]
