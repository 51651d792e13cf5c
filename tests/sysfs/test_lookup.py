"""The readers that find a function again (audit's resolve, list's scan), on small built trees."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import CX5_VF, MELLANOX, demo_host
from pcie_failover.model.address import MacAddress, PciAddress
from pcie_failover.sysfs.iommu import group_of
from pcie_failover.sysfs.net import interface_with_mac
from pcie_failover.sysfs.pci import Identity, functions_of_class, identity_at, slot_function, slot_numbers, virtfn
from pcie_failover.sysfs.root import SysfsRoot

PF = PciAddress.parse("0000:5e:00.0")
VF0 = PciAddress.parse("0000:5e:00.2")


def _demo(host_root: Callable[[Host], Path]) -> SysfsRoot:
    return SysfsRoot(str(host_root(demo_host())))


def test_identity_at_reads_ids_and_pf(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    assert identity_at(root, VF0) == Identity(MELLANOX, CX5_VF, "0000:5e:00.0")
    assert identity_at(root, PciAddress.parse("0000:5e:01.7")) is None


def test_virtfn_follows_the_link_of_that_index(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    assert virtfn(root, PF, 0) == VF0
    assert virtfn(root, PF, 3) == PciAddress.parse("0000:5e:00.5")
    assert virtfn(root, PF, 4) is None


def test_interface_with_mac_finds_the_pf(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    assert interface_with_mac(root, MacAddress.parse("b8:ce:f6:12:34:56")) == PF
    assert interface_with_mac(root, MacAddress.parse("b8:ce:f6:00:00:00")) is None


def test_slot_function_takes_device_zero_of_a_pciehp_slot(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    assert slot_function(root, "4", 1) == PciAddress.parse("0000:5e:00.1")
    assert slot_function(root, "99", 0) is None


def test_slot_numbers_accepts_only_the_two_kernel_forms() -> None:
    assert slot_numbers("0000:5e") == [0, 0x5E]
    assert slot_numbers("0000:5e:03") == [0, 0x5E, 3]
    assert slot_numbers("0000") is None
    assert slot_numbers("0000:5e:zz") is None


def test_group_of_lists_the_members_of_the_function_s_group(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    assert group_of(root, VF0) == (VF0,)
    assert group_of(root, PciAddress.parse("0000:5e:07.0")) == ()


def test_functions_of_class_keeps_network_controllers_with_their_class(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    found = functions_of_class(root, 0x02)
    assert (VF0, 0x020000) in found
    assert all(pci_class >> 16 == 0x02 for _, pci_class in found)
    assert PciAddress.parse("0000:5d:00.0") not in [address for address, _ in found]  # the root port
    assert functions_of_class(root, 0x02, ["0000:5e:00.2", "not-an-address", "0000:5d:00.0"]) == [(VF0, 0x020000)]
