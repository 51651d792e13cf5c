"""Hand-made hosts for every outcome of every host rule, declared as changes to the demo host."""

from __future__ import annotations

from dataclasses import dataclass, replace

from fixtures_sysfs.builder import Function, Host, Iommu, Netdev, Port, RootComplex, VfAdmin
from fixtures_sysfs.hosts import CX5_VF, DEMO_MAC, MELLANOX, demo_host, demo_pf


@dataclass(frozen=True)
class Scenario:
    """A host, the command-line arguments of `check`, and the rule it is about."""

    name: str
    rule: str
    host: Host
    args: tuple[str, ...]


def _vf(**changes: object) -> Function:
    return replace(Function("", MELLANOX, CX5_VF, driver="vfio-pci", iommu_group=23), **changes)  # type: ignore[arg-type]


def _with_vf0(vf0: Function, admin0: VfAdmin | None = None, **pf_changes: object) -> Host:
    base = demo_pf()
    admin = (admin0 or base.admin[0], *base.admin[1:])
    return demo_host(pf=replace(base, vfs=(vf0, *base.vfs[1:]), admin=admin, **pf_changes))  # type: ignore[arg-type]


def _pf_netdev(**changes: object) -> Host:
    base = demo_pf()
    netdev = replace(base.pf.netdevs[0], **changes)  # type: ignore[arg-type]
    return demo_host(pf=replace(base, pf=replace(base.pf, netdevs=(netdev,))))


def _vf0_group_shared_with_pf() -> Host:
    base = demo_pf()
    return demo_host(pf=replace(base, pf=replace(base.pf, iommu_group=23)))


def _in_use_sibling() -> Host:
    base = demo_pf()
    sibling = replace(
        base.vfs[1],
        iommu_group=23,
        netdevs=(Netdev("enp94s0f0v1", "52:54:00:00:00:01", addresses=("10.0.0.2/24",)),),
    )
    return demo_host(pf=replace(base, vfs=(base.vfs[0], sibling, *base.vfs[2:])))


def _conventional() -> Host:
    return replace(
        demo_host(),
        complexes=(
            RootComplex(
                0, 0, (Function("0000:00:03.0", 0x8086, 0x100E, driver="vfio-pci", pcie=False, iommu_group=3),)
            ),
        ),
    )


def _port_without_slot() -> Host:
    host = demo_host()
    ports = host.complexes[1].children
    port = ports[0]
    assert isinstance(port, Port)
    return replace(
        host, complexes=(host.complexes[0], replace(host.complexes[1], children=(replace(port, slot=None),)))
    )


def _eno1(**changes: object) -> Host:
    host = demo_host()
    (onboard,) = host.complexes[0].children
    assert isinstance(onboard, Function)
    eno1 = replace(onboard.netdevs[0], **changes)  # type: ignore[arg-type]
    complex0 = replace(host.complexes[0], children=(replace(onboard, netdevs=(eno1,)),))
    return replace(host, complexes=(complex0, *host.complexes[1:]), bridges=(), taps=())


def _vfio_unloaded() -> Host:
    base = demo_pf()
    vfs = (
        replace(base.vfs[0], driver=None, driver_override="vfio-pci"),
        *base.vfs[1:3],
        replace(base.vfs[3], driver=None),
    )
    return replace(demo_host(pf=replace(base, vfs=vfs)), loaded_drivers=("pcieport",))


def _pf(**changes: object) -> Host:
    base = demo_pf()
    return demo_host(pf=replace(base, pf=replace(base.pf, **changes)))  # type: ignore[arg-type]


def _hostile_pf_name(up: bool) -> Host:
    """A PF whose interface name holds shell syntax: every hint must quote it."""
    base = demo_pf()
    netdev = replace(base.pf.netdevs[0], name="pf;id>pwn", up=up)
    return demo_host(pf=replace(base, pf=replace(base.pf, netdevs=(netdev,)), admin=(VfAdmin(), *base.admin[1:])))


def _truncated() -> Host:
    return demo_host(pf=replace(demo_pf(), netlink_vfs=0))


DEMO = demo_host()
VF = ("check", "5e:00.2")
SCENARIOS = (
    # address
    Scenario("present", "address", DEMO, VF),
    Scenario("by-interface", "address", DEMO, ("check", "eno1")),
    Scenario("absent", "address", DEMO, ("check", "5e:00.7")),
    Scenario("no-such-interface", "address", DEMO, ("check", "nosuch0")),
    Scenario("virtual-interface", "address", DEMO, ("check", "br0")),
    # pcie
    Scenario("endpoint", "pcie", DEMO, VF),
    Scenario("unprivileged", "pcie", _with_vf0(_vf(config_len=64)), VF),
    Scenario("conventional", "pcie", _conventional(), ("check", "00:03.0")),
    # ethernet
    Scenario("ethernet", "ethernet", DEMO, VF),
    Scenario("other-network", "ethernet", _with_vf0(_vf(pci_class=0x028000)), VF),
    Scenario("infiniband", "ethernet", _with_vf0(_vf(pci_class=0x020700)), VF),
    # sriov-vf
    Scenario("vf", "sriov-vf", DEMO, VF),
    Scenario("pf", "sriov-vf", DEMO, ("check", "5e:00.0")),
    Scenario("pf-allowed", "sriov-vf", DEMO, ("check", "5e:00.0", "--allow-pf")),
    Scenario("pf-without-vfs", "sriov-vf", demo_host(pf=replace(demo_pf(), vfs=(), admin=())), ("check", "5e:00.0")),
    Scenario("plain-device", "sriov-vf", DEMO, ("check", "00:1f.6")),
    Scenario("pf-on-vfio", "sriov-vf", _pf(driver="vfio-pci", netdevs=()), VF),
    # driver
    Scenario("vfio", "driver", DEMO, VF),
    Scenario("variant", "driver", _with_vf0(_vf(driver="mlx5_vfio_pci", vfio_dev=True)), VF),
    Scenario("unbound", "driver", DEMO, ("check", "5e:00.4")),
    Scenario("unbound-libvirt", "driver", DEMO, ("check", "5e:00.4", "--for", "libvirt")),
    Scenario("host-driver", "driver", DEMO, ("check", "5e:00.3")),
    Scenario("host-driver-libvirt", "driver", DEMO, ("check", "5e:00.3", "--for", "libvirt")),
    Scenario("in-use-enslaved", "driver", DEMO, ("check", "00:1f.6")),
    Scenario("in-use-addresses", "driver", _eno1(master=None), ("check", "00:1f.6")),
    Scenario("in-use-routes", "driver", _eno1(master=None, addresses=()), ("check", "00:1f.6")),
    Scenario("up-unused", "driver", _eno1(master=None, addresses=(), routes=()), ("check", "00:1f.6")),
    Scenario("in-use-unknown", "driver", replace(_eno1(master=None), netlink_sidecar=False), ("check", "00:1f.6")),
    Scenario(
        "probe-failed-no-group",
        "driver",
        _with_vf0(_vf(driver=None, driver_override="vfio-pci", iommu_group=None)),
        VF,
    ),
    Scenario("probe-failed-not-loaded", "driver", _vfio_unloaded(), VF),
    Scenario("override-unbound", "driver", _with_vf0(_vf(driver=None, driver_override="vfio-pci")), VF),
    # iommu
    Scenario("active", "iommu", DEMO, VF),
    Scenario("no-firmware-table", "iommu", replace(DEMO, iommu=Iommu(table=None, enabled=False)), VF),
    Scenario(
        "disabled-on-cmdline",
        "iommu",
        replace(DEMO, iommu=Iommu(enabled=False), kernel_cmdline="root=/dev/sda1 intel_iommu=off"),
        VF,
    ),
    Scenario("not-enabled", "iommu", replace(DEMO, iommu=Iommu(enabled=False), kernel_cmdline="root=/dev/sda1"), VF),
    Scenario("amd-not-enabled", "iommu", replace(DEMO, iommu=Iommu(table="IVRS", enabled=False)), VF),
    Scenario("virtio-iommu-not-enabled", "iommu", replace(DEMO, iommu=Iommu(table="VIOT", enabled=False)), VF),
    Scenario("devicetree-no-smmu", "iommu", replace(DEMO, iommu=Iommu(table=None, enabled=False, devicetree=True)), VF),
    Scenario("noiommu-group", "iommu", replace(DEMO, iommu=Iommu(enabled=False, noiommu_groups=True)), VF),
    Scenario("no-interrupt-remapping", "iommu", replace(DEMO, iommu=Iommu(interrupt_remapping=False)), VF),
    Scenario(
        "unsafe-interrupts",
        "iommu",
        replace(DEMO, iommu=Iommu(interrupt_remapping=False, unsafe_interrupts=True)),
        VF,
    ),
    Scenario("device-without-group", "iommu", _with_vf0(_vf(iommu_group=None)), VF),
    # iommu-group
    Scenario("alone", "iommu-group", DEMO, VF),
    Scenario("shared-with-pf", "iommu-group", _vf0_group_shared_with_pf(), VF),
    Scenario("shared-with-busy-vf", "iommu-group", _in_use_sibling(), VF),
    Scenario("no-group", "iommu-group", _with_vf0(_vf(iommu_group=None)), VF),
    # reset
    Scenario("flr", "reset", DEMO, VF),
    Scenario("bus-only", "reset", _with_vf0(_vf(reset_method="bus")), VF),
    Scenario("none", "reset", _with_vf0(_vf(reset_method=None)), VF),
    Scenario("empty", "reset", _with_vf0(_vf(reset_method="")), VF),
    # pf-link
    Scenario("pf-up", "pf-link", DEMO, VF),
    Scenario("pf-down", "pf-link", _pf_netdev(up=False), VF),
    Scenario("pf-down-igb", "pf-link", _pf(driver="igb", netdevs=(replace(demo_pf().pf.netdevs[0], up=False),)), VF),
    Scenario("pf-down-ice", "pf-link", _pf(driver="ice", netdevs=(replace(demo_pf().pf.netdevs[0], up=False),)), VF),
    Scenario("pf-down-quoted", "pf-link", _hostile_pf_name(up=False), VF),
    Scenario("pf-no-carrier", "pf-link", _pf_netdev(carrier=False), VF),
    Scenario("not-a-vf", "pf-link", DEMO, ("check", "00:1f.6")),
    # vf-mac
    Scenario("mac-set", "vf-mac", DEMO, VF),
    Scenario("mac-zero", "vf-mac", _with_vf0(_vf(), VfAdmin()), VF),
    Scenario("mac-zero-libvirt", "vf-mac", _with_vf0(_vf(), VfAdmin()), (*VF, "--for", "libvirt")),
    Scenario("mac-differs", "vf-mac", DEMO, (*VF, "--mac", "52:54:00:6F:55:CD")),
    Scenario("mac-matches", "vf-mac", DEMO, (*VF, "--mac", DEMO_MAC.upper())),
    Scenario("mac-of-vf-driver", "vf-mac", DEMO, ("check", "5e:00.3")),
    Scenario("mac-of-vf-driver-asserted", "vf-mac", DEMO, ("check", "5e:00.3", "--mac", "52:54:00:00:00:01")),
    Scenario("mac-of-vf-driver-libvirt", "vf-mac", DEMO, ("check", "5e:00.3", "--for", "libvirt")),
    Scenario(
        "mac-set-behind-driver",
        "vf-mac",
        _with_vf0(_vf(driver="mlx5_core", netdevs=(Netdev("enp94s0f0v0", "e6:07:34:1a:10:20", up=False),))),
        VF,
    ),
    Scenario("mac-zero-quoted", "vf-mac", _hostile_pf_name(up=True), VF),
    Scenario("mac-multicast", "vf-mac", _with_vf0(_vf(), VfAdmin(mac="01:00:5e:00:00:01")), VF),
    Scenario(
        "trust-not-reported",
        "vf-mac",
        _with_vf0(_vf(), VfAdmin(mac=DEMO_MAC, spoofchk=None, trust=None)),
        (*VF, "--mac", DEMO_MAC),
    ),
    Scenario("truncated-list", "vf-mac", _truncated(), VF),
    Scenario("no-netlink-snapshot", "vf-mac", replace(DEMO, netlink_sidecar=False), VF),
    # vf-vlan
    Scenario("no-vlan", "vf-vlan", DEMO, VF),
    Scenario("vlan", "vf-vlan", _with_vf0(_vf(), VfAdmin(mac=DEMO_MAC, vlan=100, qos=3)), VF),
    # vf-link-state
    Scenario("auto", "vf-link-state", DEMO, VF),
    Scenario("enable", "vf-link-state", _with_vf0(_vf(), VfAdmin(mac=DEMO_MAC, link_state="enable")), VF),
    Scenario("disable", "vf-link-state", _with_vf0(_vf(), VfAdmin(mac=DEMO_MAC, link_state="disable")), VF),
    # standby-uplink
    Scenario("not-given", "standby-uplink", DEMO, VF),
    Scenario("other-uplink", "standby-uplink", DEMO, (*VF, "--standby-netdev", "vnet0")),
    Scenario(
        "uplink-is-pf",
        "standby-uplink",
        replace(DEMO, bridges=(("br1", ("enp94s0f0np0", "vnet1")),), taps=(("vnet1", "br1"),)),
        (*VF, "--standby-netdev", "vnet1", "--mac", DEMO_MAC),
    ),
    Scenario("no-such-backend", "standby-uplink", DEMO, (*VF, "--standby-netdev", "vnet9")),
    Scenario(
        "uplink-is-sibling-vf",
        "standby-uplink",
        replace(DEMO, bridges=(("br1", ("enp94s0f0v1", "vnet1")),), taps=(("vnet1", "br1"),)),
        (*VF, "--standby-netdev", "vnet1", "--mac", DEMO_MAC),
    ),
    Scenario("backend-is-pf", "standby-uplink", DEMO, (*VF, "--standby-netdev", "enp94s0f0np0")),
    # host-slot
    Scenario("pciehp-slot", "host-slot", DEMO, VF),
    Scenario("no-slot", "host-slot", _port_without_slot(), VF),
)
