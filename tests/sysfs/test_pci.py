"""Readers of PCI functions, VF indexes, upstream ports and slots (sysfs/pci.py), on small trees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import DOWNSTREAM_PORT, Function, Host, Port, RootComplex, Slot
from fixtures_sysfs.hosts import demo_host, demo_pf
from pcie_failover.model.address import PciAddress
from pcie_failover.model.config_space import PortType
from pcie_failover.model.host import PciFunction, Unreadable
from pcie_failover.sysfs.pci import find_slot, read_function, read_ports, vf_index
from pcie_failover.sysfs.root import SysfsRoot
from tests.support.factory import PF, PF_PATH, VF, VF_PATH, conventional_config, pf, port, slot, sriov, vf
from tests.support.trees import SmallTree

ONBOARD = PciAddress.parse("0000:00:1f.6")


def _root(host_root: Callable[[Host], Path], host: Host | None = None) -> SysfsRoot:
    return SysfsRoot(str(host_root(host or demo_host())))


def _function(root: SysfsRoot, address: PciAddress) -> PciFunction:
    found = read_function(root, address)
    assert isinstance(found, PciFunction), found
    return found


def test_read_function_reads_a_vf_and_its_pf(host_root: Callable[[Host], Path]) -> None:
    root = _root(host_root)
    assert _function(root, VF) == vf()
    assert _function(root, PF) == pf()


def test_read_function_opens_only_what_the_listing_shows(host_root: Callable[[Host], Path]) -> None:
    """An unbound VF without reset attributes: no driver, no reset methods, no `reset`."""
    base = demo_pf()
    bare = replace(base.vfs[2], reset_method=None)
    root = _root(host_root, demo_host(pf=replace(base, vfs=(*base.vfs[:2], bare, base.vfs[3]))))
    found = _function(root, PciAddress.parse("0000:5e:00.4"))
    assert (found.driver, found.vfio_dev, found.reset_methods, found.has_reset) == (None, False, None, False)
    assert found.driver_override is None  # the kernel shows "(null)"


def test_read_function_of_a_conventional_device_unprivileged(host_root: Callable[[Host], Path]) -> None:
    device = Function("0000:00:03.0", 0x8086, 0x100E, driver="e1000", pcie=False, config_len=64, iommu_group=3)
    root = _root(host_root, replace(demo_host(), complexes=(RootComplex(0, 0, (device,)),)))
    found = _function(root, PciAddress.parse("0000:00:03.0"))
    assert (found.has_link_speed, found.physfn, found.sriov) == (False, None, None)
    assert found.config == conventional_config(complete=False)  # 64 bytes: the capability list is not readable
    assert (found.driver, found.vfio_dev, found.iommu_group) == ("e1000", False, "3")


def test_read_function_finds_a_virtio_nic_s_interface_under_its_virtio_child(tmp_path: Path) -> None:
    device = "devices/pci0000:00/0000:00:03.0"
    tree = (
        SmallTree(tmp_path / "t")
        .link("bus/pci/devices/0000:00:03.0", device)
        .file(f"{device}/vendor", "0x1af4\n")
        .file(f"{device}/device", "0x1041\n")
        .file(f"{device}/class", "0x020000\n")
        .link(f"{device}/driver", "bus/pci/drivers/virtio-pci")
        .dir("bus/pci/drivers/virtio-pci")
        .dir(f"{device}/virtio0/net/eth0")
    )
    found = _function(tree.root, PciAddress.parse("0000:00:03.0"))
    assert (found.driver, found.netdevs, found.config) == (
        "virtio-pci",
        ("eth0",),
        Unreadable(f"{device}/config", "ENOENT (No such file or directory)"),
    )


def test_a_driver_link_that_dangles_names_no_driver(tmp_path: Path) -> None:
    device = "devices/pci0000:00/0000:00:03.0"
    tree = (
        SmallTree(tmp_path / "t")
        .link("bus/pci/devices/0000:00:03.0", device)
        .file(f"{device}/vendor", "0x8086\n")
        .file(f"{device}/device", "0x10ca\n")
        .file(f"{device}/class", "0x020000\n")
        .raw_link(f"{device}/driver", "../../../bus/pci/drivers/gone")
    )
    found = _function(tree.root, PciAddress.parse("0000:00:03.0"))
    assert found.driver == Unreadable(
        f"{device}/driver", "the link to gone leads to no driver directory (it dangles or loops)"
    )
    assert found.vfio_dev == found.driver


def test_read_function_of_an_absent_device(host_root: Callable[[Host], Path]) -> None:
    found = read_function(_root(host_root), PciAddress.parse("0000:5e:00.7"))
    assert isinstance(found, Unreadable)
    assert found.path == "bus/pci/devices/0000:5e:00.7"


def test_a_variant_driver_before_6_1_is_told_by_vfio_pci_core_holders(host_root: Callable[[Host], Path]) -> None:
    base = demo_pf()
    variant = replace(base.vfs[1], driver="mlx5_vfio_pci", vfio_dev=False, netdevs=())
    host = replace(
        demo_host(pf=replace(base, vfs=(base.vfs[0], variant, *base.vfs[2:]))), vfio_core_holders=("mlx5_vfio_pci",)
    )
    root = _root(host_root, host)
    assert _function(root, PciAddress.parse("0000:5e:00.3")).vfio_dev is True
    assert _function(root, PciAddress.parse("0000:00:1f.6")).vfio_dev is False  # e1000e holds nothing


@pytest.mark.parametrize(
    ("vf_address", "pf_function", "expected"),
    [
        pytest.param(VF, pf(), 0, id="vf-0"),
        pytest.param(PciAddress.parse("0000:5e:00.5"), pf(), 3, id="vf-3"),
        pytest.param(
            VF,
            pf(sriov=sriov(offset=None)),
            Unreadable(f"{PF_PATH}/sriov_offset", "the PF does not report its VF offset and stride"),
            id="no-offset",
        ),
        pytest.param(
            VF,
            pf(sriov=None),
            Unreadable(f"{PF_PATH}/sriov_offset", "the PF does not report its VF offset and stride"),
            id="not-a-pf",
        ),
        pytest.param(
            PciAddress.parse("0000:5e:00.1"),
            pf(),
            Unreadable(f"{PF_PATH}/virtfn*", "0000:5e:00.1 is not at a VF routing id of 0000:5e:00.0"),
            id="before-the-first-vf",
        ),
        pytest.param(
            PciAddress.parse("0000:5e:00.3"),
            pf(sriov=sriov(stride=2)),
            Unreadable(f"{PF_PATH}/virtfn*", "0000:5e:00.3 is not at a VF routing id of 0000:5e:00.0"),
            id="between-strides",
        ),
        pytest.param(
            PciAddress.parse("0000:5e:00.4"),
            pf(sriov=sriov(stride=0)),
            Unreadable(f"{PF_PATH}/virtfn*", "0000:5e:00.4 is not at a VF routing id of 0000:5e:00.0"),
            id="zero-stride",
        ),
        pytest.param(
            PciAddress.parse("0000:5e:00.6"),
            pf(),
            Unreadable(f"{PF_PATH}/virtfn4", "no such VF link"),
            id="no-such-link",
        ),
        pytest.param(
            PciAddress.parse("0000:5e:00.4"),
            pf(sriov=sriov(offset=1)),
            Unreadable(f"{PF_PATH}/virtfn3", "points to 0000:5e:00.5, not 0000:5e:00.4"),
            id="link-elsewhere",
        ),
    ],
)
def test_vf_index(
    host_root: Callable[[Host], Path], vf_address: PciAddress, pf_function: PciFunction, expected: object
) -> None:
    assert vf_index(_root(host_root), vf_address, pf_function) == expected


def test_read_ports_walks_up_from_the_device(host_root: Callable[[Host], Path]) -> None:
    root = _root(host_root)
    assert read_ports(root, VF_PATH) == (port(),)
    assert read_ports(root, "devices/pci0000:00/0000:00:1f.6") == ()


def test_read_ports_through_a_switch(host_root: Callable[[Host], Path]) -> None:
    nic = Function("0000:03:00.0", driver="igb", iommu_group=5)
    downstream = Port("0000:02:00.0", 3, children=(nic,), port_type=DOWNSTREAM_PORT, pciehp_service=True)
    upstream = Port("0000:01:00.0", 2, children=(downstream,), port_type=0x5)  # an upstream port: no hotplug service
    top = Port("0000:00:1c.0", 1, children=(upstream,))
    root = _root(host_root, replace(demo_host(), complexes=(RootComplex(0, 0, (top,)),)))
    ports = read_ports(root, "devices/pci0000:00/0000:00:1c.0/0000:01:00.0/0000:02:00.0/0000:03:00.0")
    assert [(str(p.address), p.driver, p.pciehp) for p in ports] == [
        ("0000:02:00.0", "pcieport", True),
        ("0000:01:00.0", "pcieport", None),
        ("0000:00:1c.0", "pcieport", False),
    ]
    first = ports[0].config
    assert first is not None
    assert not isinstance(first, Unreadable)
    assert first.pcie is not None
    assert first.pcie.port_type == PortType.DOWNSTREAM_PORT


def test_find_slot_by_the_port_s_physical_slot_number(host_root: Callable[[Host], Path]) -> None:
    root = _root(host_root)
    assert find_slot(root, PF, port()) == slot()
    assert find_slot(root, PF, None) == slot()  # without a port: every slot's address is compared
    assert find_slot(root, ONBOARD, None) is None


def test_find_slot_matches_acpiphp_by_device_number(host_root: Callable[[Host], Path]) -> None:
    nic = Function("0000:01:03.0", driver="igb", iommu_group=5)
    top = Port("0000:00:1c.0", 1, children=(nic,), slot=Slot("7-1", driver="acpiphp", device_number=3))
    root = _root(host_root, replace(demo_host(), complexes=(RootComplex(0, 0, (top,)),)))
    found = find_slot(root, PciAddress.parse("0000:01:03.0"), None)
    assert found is not None
    assert not isinstance(found, Unreadable)
    assert (found.name, found.address, found.hotplug_driver, found.power) == ("7-1", "0000:01:03", "acpiphp", "1")
    assert find_slot(root, PciAddress.parse("0000:01:04.0"), None) is None


def test_find_slot_without_slots_or_with_an_unreadable_one(tmp_path: Path) -> None:
    empty = SmallTree(tmp_path / "empty")
    assert find_slot(empty.root, PF, port()) is None
    tree = SmallTree(tmp_path / "t").file("bus/pci/slots/9/address", "0000:7f\n").dir("bus/pci/slots/4")
    assert find_slot(tree.root, PF, port()) == Unreadable(
        "bus/pci/slots/4/address", "ENOENT (No such file or directory)"
    )
    tree.file("bus/pci/slots/4/address", "0000:5e\n")
    assert find_slot(tree.root, PF, port()) == slot(address="0000:5e", hotplug_driver=None, power=None)
