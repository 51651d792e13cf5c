"""A `CheckInput` built in memory, as the rule tests need it: a ready VF, changed one fact at a time.

`check_input()` is VF 0 (0000:5e:00.2) of the demo host's ConnectX-5 exactly as `HostReader` reads it from
the built tree (tests/sysfs/test_check_input.py holds them equal): on vfio-pci, alone in IOMMU group 23,
VT-d with interrupt remapping, admin MAC 52:54:00:6f:55:cc, FLR, PF interface up, in pciehp slot 4.
Every host rule passes on it but `vf-mac`, which warns (on vfio-pci nothing on the host proves who set the MAC:
`mac=MAC` asserts it), and `standby-uplink`, which skips without --standby-netdev; the verdict is ready.

Change it with keywords: any `CheckInput` field (`device=vf(driver=None)`, `group=group(member(...))`,
`platform=platform(units=())`, ...) and any `CheckOptions` field (`manager=Manager.LIBVIRT`, `mac=...`).
The builders below give each part with its ready values, changed by their own keywords.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from pcie_failover.model.address import DeviceQuery, MacAddress, PciAddress
from pcie_failover.model.check import CheckInput, CheckOptions, Located
from pcie_failover.model.config_space import ConfigSpace, PcieCapability, PortType
from pcie_failover.model.host import (
    GroupMember,
    IommuGroup,
    IommuPlatform,
    LowerDevice,
    NetDevice,
    PciFunction,
    Slot,
    Sriov,
    StandbyBackend,
    Unreadable,
    UpstreamPort,
    VfAdmin,
    VfAdminList,
)
from pcie_failover.model.results import Status
from pcie_failover.model.rule import Rule

VF = PciAddress.parse("0000:5e:00.2")
PF = PciAddress.parse("0000:5e:00.0")
PORT = PciAddress.parse("0000:5d:00.0")
PORT_PATH = "devices/pci0000:5d/0000:5d:00.0"
VF_PATH = f"{PORT_PATH}/0000:5e:00.2"
PF_PATH = f"{PORT_PATH}/0000:5e:00.0"
MELLANOX = 0x15B3
CX5_PF = 0x1017
CX5_VF = 0x1018
ETHERNET = 0x020000
PF_NETDEV = "enp94s0f0np0"
PF_MAC = MacAddress.parse("b8:ce:f6:12:34:56")
MAC = MacAddress.parse("52:54:00:6f:55:cc")  # VF 0's admin MAC
CMDLINE = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt"
IFF_UP = 0x1003  # UP | BROADCAST | MULTICAST
IFF_DOWN = 0x1002
_CHECK_OPTIONS = frozenset(f.name for f in fields(CheckOptions))


def mac(text: str) -> MacAddress:
    """A MAC address from its text."""
    return MacAddress.parse(text)


def address(text: str) -> PciAddress:
    """A PCI address from its text."""
    return PciAddress.parse(text)


def unreadable(path: str = "bus/pci/devices/0000:5e:00.2/x", reason: str = "Permission denied") -> Unreadable:
    """A fact that could not be read."""
    return Unreadable(path, reason)


def config(**pcie: Any) -> ConfigSpace:
    """A whole config space (256 bytes, capability list complete) of a PCIe endpoint with FLR; `pcie` changes it."""
    capability = PcieCapability(
        port_type=PortType.ENDPOINT, flr=True, slot_implemented=False, hotplug_capable=None, physical_slot=None
    )
    return ConfigSpace(
        length=256,
        multifunction=False,
        header_layout=0,
        secondary_bus=None,
        pcie=replace(capability, **pcie),
        caps_complete=True,
    )


def conventional_config(*, complete: bool = True) -> ConfigSpace:
    """A conventional PCI device's config space: no PCIe capability (`complete=False`: only 64 bytes readable)."""
    return ConfigSpace(
        length=256 if complete else 64,
        multifunction=False,
        header_layout=0,
        secondary_bus=None,
        pcie=None,
        caps_complete=complete,
    )


def vf(**changes: Any) -> PciFunction:
    """VF 0 of the PF, on vfio-pci; `changes` are `PciFunction` fields."""
    function = PciFunction(
        address=VF,
        path=VF_PATH,
        vendor=MELLANOX,
        device=CX5_VF,
        pci_class=ETHERNET,
        driver="vfio-pci",
        driver_override=None,
        vfio_dev=True,
        physfn=PF,
        sriov=None,
        iommu_group="23",
        numa_node=0,
        reset_methods=("flr",),
        has_reset=True,
        has_link_speed=True,
        config=config(),
        netdevs=(),
    )
    return replace(function, **changes)


def sriov(**changes: Any) -> Sriov:
    """The PF's SR-IOV attributes: 4 of 8 VFs enabled, offset 2, stride 1."""
    return replace(Sriov(total_vfs=8, num_vfs=4, offset=2, stride=1), **changes)


def pf(**changes: Any) -> PciFunction:
    """The VF's PF (0000:5e:00.0) on mlx5_core, with its interface; `changes` are `PciFunction` fields."""
    function = replace(
        vf(),
        address=PF,
        path=PF_PATH,
        device=CX5_PF,
        driver="mlx5_core",
        vfio_dev=False,
        physfn=None,
        sriov=sriov(),
        iommu_group="21",
        config=replace(config(), multifunction=True),
        netdevs=(PF_NETDEV,),
    )
    return replace(function, **changes)


def netdev(name: str = "eth0", **changes: Any) -> NetDevice:
    """An interface that is up with carrier, not enslaved, without addresses or routes."""
    interface = NetDevice(
        name=name,
        flags=IFF_UP,
        operstate="up",
        address=mac("52:54:00:00:00:01"),
        master=None,
        ip_addresses=(),
        routes=(),
    )
    return replace(interface, **changes)


def pf_netdev(**changes: Any) -> NetDevice:
    """The PF's interface, up with carrier."""
    return netdev(**{"name": PF_NETDEV, "address": PF_MAC, **changes})


def admin(index: int = 0, **changes: Any) -> VfAdmin:
    """One VF's IFLA_VF_* entry: VF 0's admin MAC, no VLAN, spoofchk on, trust off, link state auto."""
    entry = VfAdmin(index=index, mac=MAC, vlan=0, qos=0, spoofchk=True, trust=False, link_state="auto")
    return replace(entry, **changes)


def admin_list(*entries: VfAdmin, num_vfs: int | None = None, pf_netdev_name: str = PF_NETDEV) -> VfAdminList:
    """The PF's VF list; without `entries`, the demo PF's four VFs (VF 0 first)."""
    listed = entries or (
        admin(0),
        admin(1, mac=mac("52:54:00:00:00:01")),
        admin(2, mac=mac("00:00:00:00:00:00")),
        admin(3, mac=mac("52:54:00:00:00:03"), vlan=100),
    )
    return VfAdminList(pf_netdev=pf_netdev_name, num_vfs=num_vfs, vfs=listed)


def member(text: str, **changes: Any) -> GroupMember:
    """Another member of the device's IOMMU group: unbound, an Ethernet function, no interfaces."""
    found = GroupMember(address=address(text), driver=None, vfio_dev=False, pci_class=ETHERNET, netdevs=())
    return replace(found, **changes)


def group(*members: GroupMember, number: str = "23", name: str | None | Unreadable = None) -> IommuGroup:
    """The device's IOMMU group, holding `members` besides the device."""
    return IommuGroup(number=number, name=name, members=members)


def platform(**changes: Any) -> IommuPlatform:
    """Intel VT-d (dmar0, DMAR table) with interrupt remapping, unsafe interrupts off, iommufd not loaded."""
    facts = IommuPlatform(
        units=("dmar0",),
        firmware_tables=("DMAR",),
        devicetree=False,
        interrupt_remapping=True,
        remapping_evidence="IR- interrupt chips in /sys/kernel/irq",
        unsafe_interrupts=False,
        iommufd_unsafe_interrupts=None,
        kernel_cmdline=CMDLINE,
    )
    return replace(facts, **changes)


def port(**changes: Any) -> UpstreamPort:
    """The root port above the PF (0000:5d:00.0) on pcieport, with slot 4 and pciehp bound."""
    found = UpstreamPort(
        address=PORT,
        driver="pcieport",
        config=ConfigSpace(
            length=256,
            multifunction=False,
            header_layout=1,
            secondary_bus=0x5E,
            pcie=PcieCapability(
                port_type=PortType.ROOT_PORT, flr=True, slot_implemented=True, hotplug_capable=True, physical_slot=4
            ),
            caps_complete=True,
        ),
        pciehp=True,
    )
    return replace(found, **changes)


def slot(**changes: Any) -> Slot:
    """Slot 4 below the root port, pciehp, power on."""
    return replace(Slot(name="4", address="0000:5e:00", hotplug_driver="pciehp", power="1"), **changes)


def lower(ifname: str, text: str, physfn: PciAddress | None | Unreadable = None) -> LowerDevice:
    """A PCI function on the standby's path (a VF when `physfn` is set)."""
    return LowerDevice(ifname=ifname, address=address(text), physfn=physfn)


def standby(
    name: str = "vnet0", kind: str = "tap", lower: tuple[str, ...] = (), lower_devices: tuple[LowerDevice, ...] = ()
) -> StandbyBackend:
    """The standby's backend named by --standby-netdev."""
    return StandbyBackend(name=name, kind=kind, lower=lower, lower_devices=lower_devices)


def options(**changes: Any) -> CheckOptions:
    """The default options of `check` (for QEMU, no --mac), changed by `CheckOptions` fields."""
    return replace(CheckOptions(), **changes)


def check_input(**changes: Any) -> CheckInput:
    """The ready VF's input; keywords are `CheckInput` fields, or `CheckOptions` fields merged into `options`."""
    option_changes = {k: changes.pop(k) for k in list(changes) if k in _CHECK_OPTIONS}
    ready = CheckInput(
        query=DeviceQuery.parse(str(VF)),
        options=options(),
        located=Located(VF, None, None, ()),
        device=vf(),
        netdevs=(),
        pf=pf(),
        pf_netdev=pf_netdev(),
        vf_index=0,
        vf_admin=admin_list(),
        group=group(),
        platform=platform(),
        ports=(port(),),
        slot=slot(),
        vfio_driver_loaded=True,
        standby=None,
    )
    built = replace(ready, **changes)
    return replace(built, options=replace(built.options, **option_changes)) if option_changes else built


def not_found(
    query: str, problem: str, candidates: tuple[PciAddress, ...] = (), ifname: str | None = None
) -> CheckInput:
    """The input when the query names no device: nothing was read about one."""
    return check_input(
        query=DeviceQuery.parse(query),
        located=Located(None, ifname, problem, candidates),
        device=None,
        netdevs=(),
        pf=None,
        pf_netdev=None,
        vf_index=None,
        vf_admin=None,
        group=None,
        ports=(),
        slot=None,
    )


def plain_device(**changes: Any) -> CheckInput:
    """A function that is not a VF (an onboard NIC at 0000:00:1f.6 on e1000e): no PF, no VF index, no VF list."""
    device = vf(
        address=address("0000:00:1f.6"),
        path="devices/pci0000:00/0000:00:1f.6",
        driver="e1000e",
        vfio_dev=False,
        physfn=None,
        iommu_group="10",
        netdevs=("eno1",),
    )
    return check_input(
        query=DeviceQuery.parse("0000:00:1f.6"),
        located=Located(device.address, None, None, ()),
        device=device,
        netdevs=(netdev("eno1"),),
        pf=None,
        pf_netdev=None,
        vf_index=None,
        vf_admin=None,
        group=group(number="10"),
        ports=(),
        slot=None,
        **changes,
    )


def outcome(rule: Rule[CheckInput], given: CheckInput) -> tuple[Status, str, str | None]:
    """What `rule` reports on `given`: status (a warn rule's fail capped at warn), message and hint."""
    result = rule.run(given)
    return result.status, result.message, result.hint
