"""Readers of IOMMU groups and their members (sysfs/iommu.py), on small trees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fixtures_sysfs.builder import Host, Iommu
from fixtures_sysfs.hosts import demo_host, demo_pf
from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import GroupMember, Unreadable
from pcie_failover.sysfs.iommu import read_group, read_member
from pcie_failover.sysfs.root import SysfsRoot
from tests.support.factory import PF, VF, mac, member, netdev
from tests.support.trees import FakeNetlink, SmallTree


def _root(host_root: Callable[[Host], Path], host: Host | None = None) -> SysfsRoot:
    return SysfsRoot(str(host_root(host or demo_host())))


def test_read_group_lists_its_members_and_name(host_root: Callable[[Host], Path]) -> None:
    base = demo_pf()
    root = _root(host_root, demo_host(pf=replace(base, pf=replace(base.pf, iommu_group=23))))
    assert read_group(root, "23") == (None, (PF, VF))
    assert read_group(root, "99") == (None, Unreadable("kernel/iommu_groups/99/devices", "no such group"))


def test_a_noiommu_group_is_named(host_root: Callable[[Host], Path]) -> None:
    root = _root(host_root, replace(demo_host(), iommu=Iommu(enabled=False, noiommu_groups=True)))
    assert read_group(root, "23") == ("vfio-noiommu", (VF,))


def test_read_group_skips_entries_that_are_not_addresses(tmp_path: Path) -> None:
    tree = (
        SmallTree(tmp_path / "t")
        .dir("kernel/iommu_groups/5/devices/0000:01:00.0")
        .dir("kernel/iommu_groups/5/devices/junk")
    )
    assert read_group(tree.root, "5") == (None, (PciAddress.parse("0000:01:00.0"),))
    tree.file("kernel/iommu_groups/6/devices", "a file")
    name, members = read_group(tree.root, "6")
    assert name is None
    assert isinstance(members, Unreadable)


def test_read_member_reads_driver_class_and_interfaces(host_root: Callable[[Host], Path]) -> None:
    root = _root(host_root)
    netlink = FakeNetlink()
    assert read_member(root, VF, netlink) == member(str(VF), driver="vfio-pci", vfio_dev=True)
    busy = read_member(root, PciAddress.parse("0000:5e:00.3"), netlink)
    assert busy == member(
        "0000:5e:00.3",
        driver="mlx5_core",
        netdevs=(netdev("enp94s0f0v1", flags=0x1002, operstate="down", address=mac("52:54:00:00:00:01")),),
    )
    assert read_member(root, PciAddress.parse("0000:5e:00.4"), netlink) == member("0000:5e:00.4")


def test_a_member_that_vanished_is_unreadable_in_every_fact(host_root: Callable[[Host], Path]) -> None:
    gone = PciAddress.parse("0000:5e:00.7")
    found = read_member(_root(host_root), gone, FakeNetlink())
    assert isinstance(found.driver, Unreadable)
    assert found == GroupMember(gone, found.driver, found.driver, found.driver, found.driver)
