"""A single check reads the device, its PF, its group and its ports: never more on a bigger host."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fixtures_sysfs.builder import Function, Host, Netdev, Port, RootComplex, Slot, SriovPf
from fixtures_sysfs.hosts import CX5_VF, MELLANOX, demo_host, demo_pf
from pcie_failover.check.command import run_check
from pcie_failover.listing.command import run_list
from pcie_failover.model.address import DeviceQuery
from pcie_failover.model.check import CheckOptions
from pcie_failover.sysfs.host import open_root


def _many_vfs(pf: SriovPf, count: int, first_group: int) -> SriovPf:
    extra = tuple(Function("", MELLANOX, CX5_VF, driver="vfio-pci", iommu_group=first_group + i) for i in range(count))
    return replace(pf, vfs=pf.vfs + extra, total_vfs=len(pf.vfs) + count)


def _big_host(extra_pfs: int = 8) -> Host:
    """The demo host plus 124 more VFs on the same PF and 8 more PFs with 32 VFs each on other ports."""
    host = demo_host(pf=_many_vfs(demo_pf(), 124, 1000))
    ports = []
    for n in range(extra_pfs):
        bus = 0x80 + n * 2
        netdev = Netdev(f"enp{bus}s0", f"b8:ce:f6:00:00:{n:02x}")
        vfs = tuple(
            Function("", MELLANOX, CX5_VF, driver="mlx5_core", iommu_group=3000 + n * 64 + i) for i in range(32)
        )
        pf = SriovPf(
            pf=Function(
                f"0000:{bus:02x}:00.0", MELLANOX, 0x1017, driver="mlx5_core", iommu_group=2000 + n, netdevs=(netdev,)
            ),
            vfs=vfs,
            total_vfs=64,
        )
        ports.append(Port(f"0000:7f:{n:02x}.0", bus, children=(pf,), slot=Slot(str(10 + n)), pciehp_service=True))
    return replace(host, complexes=(*host.complexes, RootComplex(0, 0x7F, tuple(ports))))


def _reads(root: Path, device: str) -> int:
    sysfs = open_root(str(root))
    before = sysfs.reads
    report = run_check(sysfs, DeviceQuery.parse(device), CheckOptions(), strict=False)
    assert report.verdict.value == "ready"
    return sysfs.reads - before


def test_check_reads_do_not_grow_with_the_host(host_root: Callable[[Host], Path]) -> None:
    small = _reads(host_root(demo_host()), "5e:00.2")
    big = _reads(host_root(_big_host()), "5e:00.2")
    assert small == big
    assert small < 80


def _list_reads(root: Path, pf: str) -> tuple[int, int]:
    sysfs = open_root(str(root))
    report = run_list(sysfs, CheckOptions(), DeviceQuery.parse(pf))
    return len(report.devices), sysfs.reads


def test_list_of_one_pf_reads_only_that_pf_and_its_vfs(host_root: Callable[[Host], Path]) -> None:
    """`list --pf` costs the same however many other PFs and VFs the host has (no walk of every device)."""
    one = _list_reads(host_root(_big_host(extra_pfs=1)), "enp128s0")
    many = _list_reads(host_root(_big_host()), "enp128s0")
    assert one == many
    assert one[0] == 33
