"""Declarative builder of sysfs trees for the cases no captured kernel shows.

A host is a tree of specs (root complexes, ports, functions, SR-IOV PFs with VFs);
`build(host, path)` writes it laid out like /sys, with the kernel's relative symlinks,
binary config spaces, IOMMU groups, slots, port services, class/net links, the
netlink sidecar and the names file a snapshot carries. Trees read the same way a captured one does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pcie_failover.netinfo.source import SIDECAR, NetlinkRecord
from pcie_failover.sysfs.names import NAMES_FILE


# PCIe port types (PCI Express capabilities register bits 7:4).
ENDPOINT = 0x0
ROOT_PORT = 0x4
DOWNSTREAM_PORT = 0x6


@dataclass(frozen=True)
class Netdev:
    """A network interface of a function, with what netlink would say of it."""

    name: str
    mac: str
    up: bool = True
    carrier: bool = True
    master: str | None = None
    addresses: tuple[str, ...] = ()  # "10.0.0.2/24"
    routes: tuple[str, ...] = ()  # destinations, e.g. "default"


@dataclass(frozen=True)
class VfAdmin:
    """IFLA_VF_* of one VF as the PF reports them (None: the driver does not report it)."""

    mac: str = "00:00:00:00:00:00"
    vlan: int = 0
    qos: int = 0
    spoofchk: bool | None = True
    trust: bool | None = False
    link_state: str = "auto"


@dataclass(frozen=True)
class Function:
    """A PCI function. `pcie=False` builds a conventional PCI device."""

    bdf: str
    vendor: int = 0x8086
    device: int = 0x10CA
    pci_class: int = 0x020000
    driver: str | None = None
    driver_override: str | None = None
    vfio_dev: bool | None = None  # default: True when the driver is vfio-pci
    iommu_group: int | None = None
    numa_node: int = 0
    reset_method: str | None = "flr"  # None: no reset_method/reset attributes
    pcie: bool = True
    flr: bool = True
    multifunction: bool = False
    config_len: int = 4096
    netdevs: tuple[Netdev, ...] = ()
    read_as_vf: bool = False  # a VF's own config space reads vendor/device ffff


@dataclass(frozen=True)
class SriovPf:
    """An SR-IOV PF and its VFs, which the builder places by offset/stride routing ids."""

    pf: Function
    vfs: tuple[Function, ...] = ()  # bdf of each is ignored: computed from offset/stride
    admin: tuple[VfAdmin, ...] = ()  # per VF index, defaults to VfAdmin()
    total_vfs: int = 64
    offset: int = 2
    stride: int = 1
    vf_device: int = 0x10CA
    netlink_vfs: int | None = None  # how many VFs netlink lists (a truncated reply); None: all


@dataclass(frozen=True)
class Slot:
    """A slot of a port; `driver` is the hotplug driver (None: a physical slot without hotplug)."""

    name: str
    driver: str | None = "pciehp"
    power: str | None = "1"
    device_number: int | None = None  # acpiphp/shpchp slots carry one; pciehp registers 0


@dataclass(frozen=True)
class Port:
    """A root port or switch downstream port; `children` sit on its secondary bus."""

    bdf: str
    secondary_bus: int
    children: tuple[Function | SriovPf | Port, ...] = ()
    port_type: int = ROOT_PORT
    slot: Slot | None = None
    physical_slot: int | None = None  # Slot Capabilities PSN; defaults to the slot name when numeric
    hotplug_capable: bool = True
    pciehp_service: bool = False  # a `<bdf>:pcie004` service bound to pciehp (native hotplug)
    iommu_group: int | None = None
    driver: str | None = "pcieport"
    numa_node: int = 0
    subordinate_bus: int | None = None  # default: the secondary bus (no bus behind it for VFs to spill onto)


@dataclass(frozen=True)
class RootComplex:
    """A host bridge `pciDDDD:BB` and what sits on its root bus."""

    domain: int
    bus: int
    children: tuple[Function | SriovPf | Port, ...]


@dataclass(frozen=True)
class Iommu:
    """Host IOMMU: the firmware table, whether the kernel enabled it, and unit facts."""

    table: str | None = "DMAR"  # DMAR, IVRS, IORT, VIOT (virtio-iommu) or None (no IOMMU in firmware)
    devicetree: bool = False  # an Arm-style host described by a device tree
    enabled: bool = True
    interrupt_remapping: bool = True
    noiommu_groups: bool = False  # vfio.enable_unsafe_noiommu_mode groups
    unsafe_interrupts: bool = False


@dataclass(frozen=True)
class PciName:
    """The names pci.ids gives a vendor and device id, as a capture records them."""

    vendor: int
    device: int
    vendor_name: str | None
    device_name: str | None


@dataclass(frozen=True)
class Host:
    """A whole host."""

    complexes: tuple[RootComplex, ...]
    iommu: Iommu = field(default_factory=Iommu)
    kernel_cmdline: str = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt"
    bridges: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (bridge, ports) on the host
    taps: tuple[tuple[str, str | None], ...] = ()  # (tap, bridge it is enslaved to)
    loaded_drivers: tuple[str, ...] = ("vfio-pci", "pcieport")
    vfio_core_holders: tuple[str, ...] | None = None  # a kernel before 6.1 (no vfio-dev/): modules using vfio_pci_core
    netlink_sidecar: bool = True
    pci_names: tuple[PciName, ...] = ()  # what `capture` records of pci.ids (none: the tree shows ids only)


def _parse_bdf(bdf: str) -> tuple[int, int, int, int]:
    domain, bus, rest = bdf.split(":")
    device, function = rest.split(".")
    return int(domain, 16), int(bus, 16), int(device, 16), int(function, 16)


def _bdf(domain: int, routing_id: int) -> str:
    return f"{domain:04x}:{routing_id >> 8:02x}:{(routing_id >> 3) & 0x1F:02x}.{routing_id & 7:x}"


def vf_addresses(pf: SriovPf) -> list[str]:
    """Where the kernel puts the VFs: PF routing id + offset + index * stride (may spill to the next bus)."""
    domain, bus, device, function = _parse_bdf(pf.pf.bdf)
    base = (bus << 8 | device << 3 | function) + pf.offset
    return [_bdf(domain, base + i * pf.stride) for i in range(len(pf.vfs))]


def config_space(
    vendor: int,
    device: int,
    pci_class: int,
    *,
    header_layout: int = 0,
    multifunction: bool = False,
    pcie_port_type: int | None = ENDPOINT,
    flr: bool = True,
    slot: tuple[bool, int] | None = None,  # (hotplug capable, physical slot number)
    buses: tuple[int, int, int] | None = None,
    ext_caps: tuple[int, ...] = (),
    length: int = 4096,
) -> bytes:
    """A config space image: PM cap at 0x40, PCIe cap at 0x60, extended caps from 0x100; cut to `length`."""
    data = bytearray(4096)
    data[0:2] = vendor.to_bytes(2, "little")
    data[2:4] = device.to_bytes(2, "little")
    data[0x06] = 0x10  # status: capabilities list
    data[0x08] = 0x01  # revision
    data[0x09:0x0C] = pci_class.to_bytes(3, "little")
    data[0x0E] = header_layout | (0x80 if multifunction else 0)
    if buses is not None:
        data[0x18], data[0x19], data[0x1A] = buses
    data[0x34] = 0x40
    data[0x40], data[0x41] = 0x01, 0x60 if pcie_port_type is not None else 0x00  # power management
    if pcie_port_type is not None:
        flags = 0x2 | pcie_port_type << 4 | (0x100 if slot is not None else 0)
        data[0x60] = 0x10
        data[0x62:0x64] = flags.to_bytes(2, "little")
        data[0x64:0x68] = ((1 << 28) if flr else 0).to_bytes(4, "little")
        if slot is not None:
            capable, number = slot
            data[0x74:0x78] = ((0x40 if capable else 0) | number << 19).to_bytes(4, "little")
        offset = 0x100
        for index, cap in enumerate(ext_caps):
            following = 0x100 + (index + 1) * 0x40 if index + 1 < len(ext_caps) else 0
            data[offset : offset + 4] = (cap | 1 << 16 | following << 20).to_bytes(4, "little")
            offset = following
    return bytes(data[:length])


class _Writer:
    """Writes files and relative links under one root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def file(self, rel: str, content: str | bytes, mode: int = 0o444) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(mode)

    def dir(self, rel: str) -> None:
        """A plain directory (git drops it when empty; readers treat missing and empty alike)."""
        (self.root / rel).mkdir(parents=True, exist_ok=True)

    def kobject(self, rel: str) -> None:
        """A kobject directory, with the `uevent` every kobject has (so git keeps it)."""
        self.file(f"{rel}/uevent", "", 0o644)

    def link(self, rel: str, target: str) -> None:
        """A relative link from `rel` to `target` (both relative to the root)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(self.root / target, path.parent), path)


@dataclass
class _State:
    """What the walk collects for the global parts of the tree."""

    groups: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # group -> (bdf, path)
    netdevs: list[tuple[Netdev, str]] = field(default_factory=list)  # (netdev, device path)
    drivers: set[str] = field(default_factory=set)
    sidecar_links: list[dict[str, Any]] = field(default_factory=list)


def _text(value: int, width: int = 4) -> str:
    return f"0x{value:0{width}x}\n"


def _resource(lines: int) -> str:
    """`resource` with no BAR assigned: 13 lines for an endpoint, 17 for a bridge (what lspci needs)."""
    return f"0x{0:016x} 0x{0:016x} 0x{0:016x}\n" * lines


class _Builder:
    def __init__(self, host: Host, root: Path) -> None:
        self.host = host
        self.out = _Writer(root)
        self.state = _State()

    def function(self, spec: Function, parent: str, extra: dict[str, str] | None = None) -> str:
        path = f"{parent}/{spec.bdf}"
        out = self.out
        vendor, device = (0xFFFF, 0xFFFF) if spec.read_as_vf else (spec.vendor, spec.device)
        out.file(f"{path}/vendor", _text(spec.vendor))
        out.file(f"{path}/device", _text(spec.device))
        out.file(f"{path}/class", _text(spec.pci_class, 6))
        out.file(f"{path}/subsystem_vendor", _text(spec.vendor))
        out.file(f"{path}/subsystem_device", _text(0))
        out.file(f"{path}/revision", "0x01\n")
        out.file(f"{path}/numa_node", f"{spec.numa_node}\n")
        out.file(f"{path}/driver_override", f"{spec.driver_override or '(null)'}\n", 0o644)
        out.file(f"{path}/irq", "0\n")
        out.file(f"{path}/resource", _resource(13))
        out.file(
            f"{path}/config",
            config_space(
                vendor,
                device,
                spec.pci_class,
                multifunction=spec.multifunction,
                pcie_port_type=ENDPOINT if spec.pcie else None,
                flr=spec.flr,
                ext_caps=(0x0E,),
                length=spec.config_len,
            ),
            0o644,
        )
        if spec.pcie:
            out.file(f"{path}/current_link_speed", "8.0 GT/s PCIe\n")
            out.file(f"{path}/max_link_speed", "8.0 GT/s PCIe\n")
        if spec.reset_method is not None:
            out.file(f"{path}/reset_method", f"{spec.reset_method}\n", 0o644)
            out.file(f"{path}/reset", "", 0o200)
        if spec.driver is not None:
            out.link(f"{path}/driver", f"bus/pci/drivers/{spec.driver}")
            out.link(f"bus/pci/drivers/{spec.driver}/{spec.bdf}", path)
            self.state.drivers.add(spec.driver)
        if spec.vfio_dev if spec.vfio_dev is not None else spec.driver == "vfio-pci":
            out.kobject(f"{path}/vfio-dev/vfio0")
        if spec.iommu_group is not None:
            self.state.groups.setdefault(spec.iommu_group, []).append((spec.bdf, path))
        for netdev in spec.netdevs:
            self.netdev(netdev, path)
        for name, target in (extra or {}).items():
            out.link(f"{path}/{name}", target)
        out.link(f"bus/pci/devices/{spec.bdf}", path)
        return path

    def netdev(self, netdev: Netdev, device_path: str) -> None:
        base = f"{device_path}/net/{netdev.name}"
        out = self.out
        out.file(f"{base}/address", f"{netdev.mac}\n")
        out.file(f"{base}/flags", f"{0x1003 if netdev.up else 0x1002:#x}\n", 0o644)
        out.file(f"{base}/operstate", "up\n" if netdev.up and netdev.carrier else "down\n")
        out.file(f"{base}/carrier", "1\n" if netdev.carrier else "0\n", 0o644)
        out.file(f"{base}/addr_assign_type", "0\n")
        out.file(f"{base}/uevent", f"INTERFACE={netdev.name}\n", 0o644)
        out.link(f"{base}/device", device_path)
        if netdev.master is not None:
            out.link(f"{base}/master", f"devices/virtual/net/{netdev.master}")
        out.link(f"class/net/{netdev.name}", base)
        self.state.netdevs.append((netdev, device_path))

    def sriov(self, spec: SriovPf, parent: str) -> None:
        addresses = vf_addresses(spec)
        pf_path = f"{parent}/{spec.pf.bdf}"
        links = {f"virtfn{i}": f"{parent}/{bdf}" for i, bdf in enumerate(addresses)}
        self.function(spec.pf, parent, links)
        out = self.out
        out.file(f"{pf_path}/sriov_totalvfs", f"{spec.total_vfs}\n")
        out.file(f"{pf_path}/sriov_numvfs", f"{len(spec.vfs)}\n", 0o644)
        out.file(f"{pf_path}/sriov_offset", f"{spec.offset}\n")
        out.file(f"{pf_path}/sriov_stride", f"{spec.stride}\n")
        out.file(f"{pf_path}/sriov_vf_device", f"{spec.vf_device:x}\n")
        out.file(f"{pf_path}/sriov_drivers_autoprobe", "1\n", 0o644)
        for vf, bdf in zip(spec.vfs, addresses, strict=True):
            self.function(replace(vf, bdf=bdf, read_as_vf=True), parent, {"physfn": pf_path})
        if spec.pf.netdevs:
            self.state.sidecar_links.append(self.vfinfo(spec))

    def vfinfo(self, spec: SriovPf) -> dict[str, Any]:
        """The PF's `ip -json -details link show` object, as iproute2 6.1 prints vfinfo_list."""
        netdev = spec.pf.netdevs[0]
        listed = len(spec.vfs) if spec.netlink_vfs is None else spec.netlink_vfs
        entries: list[dict[str, Any]] = []
        for index in range(listed):
            admin = spec.admin[index] if index < len(spec.admin) else VfAdmin()
            vlan: dict[str, Any] = {} if admin.vlan == 0 else {"vlan": admin.vlan}
            if admin.qos:
                vlan["qos"] = admin.qos
            entry: dict[str, Any] = {
                "vf": index,
                "link_type": "ether",
                "address": admin.mac,
                "broadcast": "ff:ff:ff:ff:ff:ff",
                "vlan_list": [vlan],
                "rate": {"max_tx": 0, "min_tx": 0},
            }
            if admin.spoofchk is not None:
                entry["spoofchk"] = admin.spoofchk
            entry["link_state"] = admin.link_state
            if admin.trust is not None:
                entry["trust"] = admin.trust
            entry["query_rss_en"] = False
            entries.append(entry)
        return {
            "ifname": netdev.name,
            "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"] if netdev.up else ["BROADCAST", "MULTICAST"],
            "operstate": "UP" if netdev.up else "DOWN",
            "link_type": "ether",
            "address": netdev.mac,
            "vfinfo_list": entries,
        }

    def children(self, children: tuple[Function | SriovPf | Port, ...], parent: str) -> None:
        for child in children:
            if isinstance(child, Port):
                self.port(child, parent)
            elif isinstance(child, SriovPf):
                self.sriov(child, parent)
            else:
                self.function(child, parent)

    def port(self, spec: Port, parent: str) -> None:
        domain, bus, _, _ = _parse_bdf(spec.bdf)
        path = f"{parent}/{spec.bdf}"
        psn = spec.physical_slot
        if psn is None and spec.slot is not None and spec.slot.name.isdigit():
            psn = int(spec.slot.name)
        slot_cap = None if psn is None else (spec.hotplug_capable, psn)
        out = self.out
        out.file(f"{path}/vendor", _text(0x8086))
        out.file(f"{path}/device", _text(0x2030))
        out.file(f"{path}/class", _text(0x060400, 6))
        out.file(f"{path}/numa_node", f"{spec.numa_node}\n")
        out.file(
            f"{path}/config",
            config_space(
                0x8086,
                0x2030,
                0x060400,
                header_layout=1,
                pcie_port_type=spec.port_type,
                slot=slot_cap,
                buses=(
                    bus,
                    spec.secondary_bus,
                    spec.secondary_bus if spec.subordinate_bus is None else spec.subordinate_bus,
                ),
                ext_caps=(0x0D,),
            ),
            0o644,
        )
        out.file(f"{path}/current_link_speed", "8.0 GT/s PCIe\n")
        out.file(f"{path}/irq", "0\n")
        out.file(f"{path}/resource", _resource(17))
        if spec.driver is not None:
            out.link(f"{path}/driver", f"bus/pci/drivers/{spec.driver}")
            out.link(f"bus/pci/drivers/{spec.driver}/{spec.bdf}", path)
            self.state.drivers.add(spec.driver)
        if spec.iommu_group is not None:
            self.state.groups.setdefault(spec.iommu_group, []).append((spec.bdf, path))
        if spec.pciehp_service:
            suffix = "pcie004" if spec.port_type == ROOT_PORT else "pcie204"
            service = f"{path}/{spec.bdf}:{suffix}"
            out.link(f"{service}/driver", "bus/pci_express/drivers/pciehp")
            out.kobject("bus/pci_express/drivers/pciehp")
            out.link(f"bus/pci_express/devices/{spec.bdf}:{suffix}", service)
        if spec.slot is not None:
            self.slot(spec.slot, domain, spec.secondary_bus)
        out.link(f"bus/pci/devices/{spec.bdf}", path)
        self.children(spec.children, path)

    def slot(self, slot: Slot, domain: int, bus: int) -> None:
        base = f"bus/pci/slots/{slot.name}"
        number = slot.device_number if slot.device_number is not None else 0
        address = f"{domain:04x}:{bus:02x}:{number:02x}" if slot.driver else f"{domain:04x}:{bus:02x}"
        self.out.file(f"{base}/address", f"{address}\n")
        if slot.driver is not None:
            self.out.link(f"{base}/module", f"module/{slot.driver}")
            self.out.kobject(f"module/{slot.driver}")
            if slot.power is not None:
                self.out.file(f"{base}/power", f"{slot.power}\n", 0o644)

    def globals(self) -> None:
        out, host = self.out, self.host
        out.dir("bus/pci/slots")
        out.dir("kernel/iommu_groups")
        out.dir("class/iommu")
        out.dir("class/net")
        out.dir("firmware/acpi/tables")
        for driver in sorted(self.state.drivers | set(host.loaded_drivers)):
            out.kobject(f"bus/pci/drivers/{driver}")
        iommu = host.iommu
        if iommu.table is not None:
            out.file(f"firmware/acpi/tables/{iommu.table}", b"TABLE", 0o400)
        if iommu.devicetree:
            out.file("firmware/devicetree/base/compatible", b"linux,dummy-virt\0", 0o444)
        groups_visible = iommu.enabled or iommu.noiommu_groups
        if iommu.enabled and iommu.table is not None:
            units = {"DMAR": "dmar0", "IVRS": "ivhd0", "IORT": "smmu3.0x0000000010000000", "VIOT": "virtio0"}
            unit = units[iommu.table]
            out.link(f"class/iommu/{unit}", f"devices/virtual/iommu/{unit}")
            if iommu.table == "DMAR":
                ecap = 0xF0205E if iommu.interrupt_remapping else 0xF02056
                out.file(f"devices/virtual/iommu/{unit}/intel-iommu/ecap", f"{ecap:x}\n")
            remapped = iommu.interrupt_remapping  # x86: IR- chips; Arm: a GICv3 ITS isolates MSIs
            chips: tuple[str, ...]
            if iommu.table == "IORT":
                chips = ("GICv3", "ITS-MSI" if remapped else "GICv2m-PCI-MSI")
            else:
                chips = ("XT-PIC", "IR-IO-APIC", "IR-PCI-MSI") if remapped else ("XT-PIC", "IO-APIC", "PCI-MSI")
            for irq, chip in enumerate(chips):
                out.file(f"kernel/irq/{irq}/chip_name", f"{chip}\n")
        if host.vfio_core_holders is not None:
            out.kobject("module/vfio_pci_core")
            for module in host.vfio_core_holders:
                out.link(f"module/vfio_pci_core/holders/{module}", f"module/{module}")
            for driver in sorted(self.state.drivers):
                out.link(f"bus/pci/drivers/{driver}/module", f"module/{driver}")
        elif "vfio-pci" in self.state.drivers | set(host.loaded_drivers):
            out.kobject("class/vfio-dev")  # 6.1+: vfio_init() creates it
        if iommu.unsafe_interrupts or iommu.enabled:
            value = "Y" if iommu.unsafe_interrupts else "N"
            out.file("module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", f"{value}\n", 0o644)
        for number, members in sorted(self.state.groups.items()):
            if not groups_visible:
                continue
            base = f"kernel/iommu_groups/{number}"
            out.file(f"{base}/type", "DMA\n" if not iommu.noiommu_groups else "identity\n")
            if iommu.noiommu_groups:
                out.file(f"{base}/name", "vfio-noiommu\n")
            out.dir(f"{base}/devices")
            for bdf, path in members:
                out.link(f"{base}/devices/{bdf}", path)
                out.link(f"{path}/iommu_group", base)
        self.virtual_net()
        if host.netlink_sidecar:
            self.sidecar()
        if host.pci_names:
            self.names()

    def virtual_net(self) -> None:
        out = self.out
        for bridge, ports in self.host.bridges:
            base = f"devices/virtual/net/{bridge}"
            out.file(f"{base}/uevent", f"DEVTYPE=bridge\nINTERFACE={bridge}\n", 0o644)
            out.file(f"{base}/flags", "0x1003\n", 0o644)
            out.file(f"{base}/operstate", "up\n")
            out.kobject(f"{base}/bridge")
            out.link(f"class/net/{bridge}", base)
            for port in ports:
                out.link(f"{base}/brif/{port}", f"class/net/{port}/brport")
        for tap, tap_bridge in self.host.taps:
            base = f"devices/virtual/net/{tap}"
            out.file(f"{base}/uevent", f"INTERFACE={tap}\n", 0o644)
            out.file(f"{base}/tun_flags", "0x1002\n")
            out.file(f"{base}/flags", "0x1003\n", 0o644)
            out.file(f"{base}/operstate", "up\n")
            out.link(f"class/net/{tap}", base)
            if tap_bridge is not None:
                out.link(f"{base}/master", f"devices/virtual/net/{tap_bridge}")

    def sidecar(self) -> None:
        addresses: list[dict[str, Any]] = []
        routes: list[dict[str, Any]] = []
        for netdev, _ in self.state.netdevs:
            infos = []
            for cidr in netdev.addresses:
                local, prefix = cidr.split("/")
                infos.append({"family": "inet6" if ":" in local else "inet", "local": local, "prefixlen": int(prefix)})
            addresses.append({"ifname": netdev.name, "address": netdev.mac, "addr_info": infos})
            routes.extend({"dst": dst, "dev": netdev.name, "protocol": "static"} for dst in netdev.routes)
        record = NetlinkRecord(
            kernel_release="6.1.0-builder",
            kernel_cmdline=self.host.kernel_cmdline,
            links=list(self.state.sidecar_links),
            addresses=list(addresses),
            routes=list(routes),
        )  # the product's own sidecar writer (capture's): version 2, each PF's link in its own file
        for rel, content in {SIDECAR: record.document(), **record.link_files()}.items():
            self.out.file(rel, content, 0o644)

    def names(self) -> None:
        entries = {
            f"{n.vendor:04x}:{n.device:04x}": {"vendor": n.vendor_name, "device": n.device_name}
            for n in self.host.pci_names
        }
        document = {"format": "pcie-failover-pci-names", "version": 1, "names": entries}
        self.out.file(NAMES_FILE, json.dumps(document, indent=1) + "\n", 0o644)


def build(host: Host, root: Path) -> Path:
    """Write `host` under `root` (created; must not exist or be empty) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    builder = _Builder(host, root)
    for complex_ in host.complexes:
        top = f"devices/pci{complex_.domain:04x}:{complex_.bus:02x}"
        builder.out.dir(top)
        builder.children(complex_.children, top)
    builder.globals()
    return root


def walk_tree(root: Path) -> Iterator[tuple[str, str]]:
    """(relative path, content or link target) for every entry: for comparing trees."""
    for directory, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(directory) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                yield rel, "-> " + os.readlink(path)
            elif path.is_file():
                yield rel, f"{path.stat().st_mode & 0o777:o} {path.read_bytes().hex()}"
        dirs[:] = [d for d in dirs if not (Path(directory) / d).is_symlink()]
