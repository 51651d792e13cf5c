"""Large generated hosts for benchmarks and scaling tests, declared with the builder.

`large_host(pfs, vfs_per_pf)` is a two-socket-style server: a few ordinary devices on
the first root bus (host bridge, xHCI, AHCI, an onboard e1000e, NVMe and a BMC VGA behind
root ports), then `pfs` single-port E810-like NICs, each behind its own hotplug root port
with its own pciehp slot. Every function has its own IOMMU group (ACS everywhere). The
SR-IOV offset is 0x80 and the stride 1, so VFs 0-127 sit on the PF's bus and VFs 128-255
spill onto the next bus, which the port's bus range covers, as on real NICs. Every fourth
VF (index % 4 == 3) is bound to iavf with an interface; the rest are on vfio-pci, and every
VF has its admin MAC set, so a vfio-pci VF is a ready primary.

`python -m fixtures_sysfs.generator --pfs 16 --vfs 256 OUT` writes one to OUT.
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import count
from pathlib import Path

from fixtures_sysfs.builder import Function, Host, Netdev, Port, RootComplex, Slot, SriovPf, VfAdmin, build

INTEL = 0x8086
E810_PF = 0x1592  # E810-C for QSFP
E810_VF = 0x1889  # Ethernet Adaptive Virtual Function
VF_OFFSET = 0x80
VF_STRIDE = 1
MAX_VFS = 256
PFS_PER_COMPLEX = 4
MAX_PFS = PFS_PER_COMPLEX * 7  # root buses 0x20..0xe0


def _pf_bus(pf: int) -> int:
    complex_bus = 0x20 * (pf // PFS_PER_COMPLEX + 1)
    return complex_bus + 1 + 2 * (pf % PFS_PER_COMPLEX)


def _node(pf: int) -> int:
    """Root complexes alternate between the two sockets."""
    return pf // PFS_PER_COMPLEX % 2


def pf_address(pf: int) -> str:
    """Address of PF number `pf` (0-based)."""
    return f"0000:{_pf_bus(pf):02x}:00.0"


def vf_address(pf: int, vf: int) -> str:
    """Address of VF `vf` of PF `pf` (offset 0x80, stride 1: VF 128 and up are on the next bus)."""
    routing_id = (_pf_bus(pf) << 8) + VF_OFFSET + vf * VF_STRIDE
    return f"0000:{routing_id >> 8:02x}:{(routing_id >> 3) & 0x1F:02x}.{routing_id & 7:x}"


def pf_netdev(pf: int) -> str:
    """Interface name of PF `pf` (systemd's path naming)."""
    return f"enp{_pf_bus(pf)}s0f0np0"


def vf_is_vfio(vf: int) -> bool:
    """Whether VF `vf` is on vfio-pci (a ready primary) rather than iavf."""
    return vf % 4 != 3


def vf_mac(pf: int, vf: int) -> str:
    """The admin MAC of VF `vf` of PF `pf`."""
    return f"52:54:00:{pf:02x}:{vf >> 8:02x}:{vf & 0xFF:02x}"


def _ordinary(groups: count[int]) -> RootComplex:
    """The first root bus: host bridge, xHCI, AHCI, onboard NIC, NVMe and BMC VGA behind root ports."""
    onboard = Netdev("eno1", "3c:ec:ef:00:00:01", master="br0", addresses=("192.168.1.10/24",), routes=("default",))
    nvme = Function("0000:01:00.0", 0x144D, 0xA808, 0x010802, driver="nvme", iommu_group=next(groups))
    vga = Function("0000:02:00.0", 0x1A03, 0x2000, 0x030000, driver="ast", iommu_group=next(groups), pcie=False)
    return RootComplex(
        0,
        0,
        (
            Function("0000:00:00.0", INTEL, 0x2020, 0x060000, iommu_group=next(groups), pcie=False, reset_method=None),
            Function("0000:00:14.0", INTEL, 0xA1AF, 0x0C0330, driver="xhci_hcd", iommu_group=next(groups)),
            Function("0000:00:17.0", INTEL, 0xA182, 0x010601, driver="ahci", iommu_group=next(groups)),
            Function("0000:00:1f.6", INTEL, 0x15BB, driver="e1000e", iommu_group=next(groups), netdevs=(onboard,)),
            Port("0000:00:1c.0", 0x01, children=(nvme,), iommu_group=next(groups)),
            Port("0000:00:1c.4", 0x02, children=(vga,), iommu_group=next(groups)),
        ),
    )


def _nic(pf: int, vfs: int, groups: count[int]) -> Port:
    """Root port `pf` of its complex, its pciehp slot, and the PF with its VFs behind it."""
    bus = _pf_bus(pf)
    name = pf_netdev(pf)
    port_group = next(groups)
    sriov = SriovPf(
        pf=Function(
            pf_address(pf),
            INTEL,
            E810_PF,
            driver="ice",
            iommu_group=next(groups),
            numa_node=_node(pf),
            netdevs=(Netdev(name, f"b4:96:91:{pf:02x}:00:00"),),
        ),
        vfs=tuple(
            Function(
                "",
                INTEL,
                E810_VF,
                driver="vfio-pci" if vf_is_vfio(index) else "iavf",
                iommu_group=next(groups),
                numa_node=_node(pf),
                netdevs=() if vf_is_vfio(index) else (Netdev(f"{name[:-3]}v{index}", vf_mac(pf, index)),),
            )
            for index in range(vfs)
        ),
        admin=tuple(VfAdmin(mac=vf_mac(pf, index)) for index in range(vfs)),
        total_vfs=MAX_VFS,
        offset=VF_OFFSET,
        stride=VF_STRIDE,
        vf_device=E810_VF,
    )
    last_bus = int(vf_address(pf, vfs - 1)[5:7], 16) if vfs else bus
    return Port(
        f"0000:{bus & ~0x1F:02x}:{pf % PFS_PER_COMPLEX:02x}.0",
        bus,
        children=(sriov,),
        slot=Slot(str(pf + 1)),
        pciehp_service=True,
        iommu_group=port_group,
        numa_node=_node(pf),
        subordinate_bus=last_bus,
    )


def large_host(pfs: int, vfs_per_pf: int) -> Host:
    """A host with `pfs` E810-like PFs of `vfs_per_pf` VFs each, plus ordinary devices."""
    if not 1 <= pfs <= MAX_PFS or not 0 <= vfs_per_pf <= MAX_VFS:
        raise ValueError(f"pfs must be 1-{MAX_PFS} and vfs_per_pf 0-{MAX_VFS}, not {pfs} and {vfs_per_pf}")
    groups = count(1)
    complexes = [_ordinary(groups)]
    for first in range(0, pfs, PFS_PER_COMPLEX):
        ports = tuple(_nic(pf, vfs_per_pf, groups) for pf in range(first, min(first + PFS_PER_COMPLEX, pfs)))
        complexes.append(RootComplex(0, _pf_bus(first) & ~0x1F, ports))
    return Host(
        complexes=tuple(complexes),
        bridges=(("br0", ("eno1", "vnet0")),),
        taps=(("vnet0", "br0"),),
        loaded_drivers=("vfio-pci", "pcieport", "ice", "iavf"),
    )


def main(argv: list[str]) -> int:
    """Build one large host into an empty or new directory."""
    parser = argparse.ArgumentParser(prog="python -m fixtures_sysfs.generator", description=main.__doc__)
    parser.add_argument("--pfs", type=int, default=16, help=f"PFs, 1-{MAX_PFS} (default 16)")
    parser.add_argument("--vfs", type=int, default=MAX_VFS, help=f"VFs per PF, 0-{MAX_VFS} (default {MAX_VFS})")
    parser.add_argument("out", type=Path, help="where to write the tree (must not exist, or be empty)")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty")
    try:
        host = large_host(args.pfs, args.vfs)
    except ValueError as error:
        parser.error(str(error))
    started = time.perf_counter()
    build(host, args.out)
    print(f"built {args.pfs} x {args.vfs} VFs in {args.out} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
