"""Named hand-made hosts: the demo host of the README and the base of rule tests."""

from __future__ import annotations

from dataclasses import replace

from fixtures_sysfs.builder import Function, Host, Netdev, PciName, Port, RootComplex, Slot, SriovPf, VfAdmin

DEMO_VF = "0000:5e:00.2"
DEMO_PF = "0000:5e:00.0"
DEMO_MAC = "52:54:00:6f:55:cc"

MELLANOX = 0x15B3
CX5_PF = 0x1017
CX5_VF = 0x1018
INTEL = 0x8086
I219_LM = 0x15BB
# as pci.ids 2023.04.10 names them (what `capture` records on a host)
DEMO_NAMES = (
    PciName(INTEL, I219_LM, "Intel Corporation", "Ethernet Connection (7) I219-LM"),
    PciName(MELLANOX, CX5_PF, "Mellanox Technologies", "MT27800 Family [ConnectX-5]"),
    PciName(MELLANOX, CX5_VF, "Mellanox Technologies", "MT27800 Family [ConnectX-5 Virtual Function]"),
)


def _vf(driver: str | None, group: int, netdev: str | None = None, mac: str = "00:00:00:00:00:00") -> Function:
    netdevs = (Netdev(netdev, mac, up=False),) if netdev else ()
    return Function("", MELLANOX, CX5_VF, driver=driver, iommu_group=group, netdevs=netdevs)


def demo_pf(
    vfs: tuple[Function, ...] | None = None, admin: tuple[VfAdmin, ...] | None = None, pf_up: bool = True
) -> SriovPf:
    """A ConnectX-5 port with four VFs; VF 0 (5e:00.2) is a ready primary."""
    return SriovPf(
        pf=Function(
            DEMO_PF,
            MELLANOX,
            CX5_PF,
            driver="mlx5_core",
            iommu_group=21,
            multifunction=True,
            netdevs=(Netdev("enp94s0f0np0", "b8:ce:f6:12:34:56", up=pf_up),),
        ),
        vfs=vfs
        if vfs is not None
        else (
            _vf("vfio-pci", 23),
            _vf("mlx5_core", 24, "enp94s0f0v1", "52:54:00:00:00:01"),
            _vf(None, 25),
            _vf("vfio-pci", 26),
        ),
        admin=admin
        if admin is not None
        else (
            VfAdmin(mac=DEMO_MAC),
            VfAdmin(mac="52:54:00:00:00:01"),
            VfAdmin(),
            VfAdmin(mac="52:54:00:00:00:03", vlan=100),
        ),
        total_vfs=8,
        offset=2,
        stride=1,
        vf_device=CX5_VF,
    )


def demo_host(pf: SriovPf | None = None, **changes: object) -> Host:
    """A two-socket-style host: a ConnectX-5 behind root port 5d:00.0 (pciehp slot 4), an onboard NIC on a bridge."""
    second_port = Function(
        "0000:5e:00.1",
        MELLANOX,
        CX5_PF,
        driver="mlx5_core",
        iommu_group=22,
        netdevs=(Netdev("enp94s0f1np1", "b8:ce:f6:12:34:57"),),
    )
    host = Host(
        complexes=(
            RootComplex(
                0,
                0,
                (
                    Function(
                        "0000:00:1f.6",
                        INTEL,
                        I219_LM,
                        driver="e1000e",
                        iommu_group=10,
                        netdevs=(
                            Netdev(
                                "eno1",
                                "3c:ec:ef:00:00:01",
                                master="br0",
                                addresses=("192.168.1.10/24",),
                                routes=("default",),
                            ),
                        ),
                    ),
                ),
            ),
            RootComplex(
                0,
                0x5D,
                (
                    Port(
                        "0000:5d:00.0",
                        0x5E,
                        children=(pf or demo_pf(), second_port),
                        slot=Slot("4"),
                        pciehp_service=True,
                        iommu_group=20,
                    ),
                ),
            ),
        ),
        bridges=(("br0", ("eno1", "vnet0")),),
        taps=(("vnet0", "br0"),),
        pci_names=DEMO_NAMES,
    )
    return replace(host, **changes)  # type: ignore[arg-type]
