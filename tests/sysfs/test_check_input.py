"""`HostReader` / `read_check_input`: one device and its surroundings, read from small built trees."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fixtures_sysfs.builder import Host, Netdev
from fixtures_sysfs.hosts import demo_host, demo_pf
from pcie_failover.model.address import DeviceQuery, PciAddress
from pcie_failover.model.check import CheckOptions, Located
from pcie_failover.model.host import NetDevice, PciFunction, StandbyBackend, Unreadable, VfAdminList
from pcie_failover.sysfs.check_input import HostReader, locate, read_check_input
from pcie_failover.sysfs.host import netlink_for, open_root
from pcie_failover.sysfs.root import SysfsRoot
from tests.support.factory import PF, VF, check_input, lower, standby
from tests.support.trees import FakeNetlink

PORT = PciAddress.parse("0000:5d:00.0")


def _demo(host_root: Callable[[Host], Path], host: Host | None = None) -> SysfsRoot:
    return open_root(str(host_root(host or demo_host())))


def test_the_factory_s_ready_vf_is_what_the_reader_reads_from_the_demo_host(
    host_root: Callable[[Host], Path],
) -> None:
    """The rule tests' in-memory input is the real reader's output, so the per-rule tests start from a true host."""
    root = _demo(host_root)
    assert read_check_input(root, DeviceQuery.parse(str(VF)), CheckOptions(), netlink_for(root)) == check_input()


def test_a_query_by_interface_is_located_through_its_device_link(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    assert locate(root, DeviceQuery.parse("enp94s0f1np1")) == Located(
        PciAddress.parse("0000:5e:00.1"), "enp94s0f1np1", None, ()
    )
    assert locate(root, DeviceQuery.parse("br0")) == Located(
        None, "br0", "br0 is a virtual interface, not backed by a PCI device", ()
    )
    assert locate(root, DeviceQuery.parse("nosuch0")) == Located(
        None, "nosuch0", "no network interface 'nosuch0' on this host", ()
    )


def test_an_absent_address_offers_the_closest_present_devices(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    located = locate(root, DeviceQuery.parse("5e:00.7"))
    assert isinstance(located, Located)
    assert (located.address, located.problem) == (None, "no PCI device 0000:5e:00.7 on this host")
    assert located.candidates[:3] == tuple(
        PciAddress.parse(a) for a in ("0000:5e:00.5", "0000:5e:00.4", "0000:5e:00.3")
    )
    found = read_check_input(root, DeviceQuery.parse("5e:00.7"), CheckOptions(), FakeNetlink())
    assert (found.device, found.pf, found.group, found.ports, found.slot) == (None, None, None, (), None)


def test_a_pf_is_read_without_vf_facts(host_root: Callable[[Host], Path]) -> None:
    root = _demo(host_root)
    netlink = FakeNetlink()
    found = read_check_input(root, DeviceQuery.parse(str(PF)), CheckOptions(), netlink)
    assert isinstance(found.device, PciFunction)
    assert found.device.sriov is not None
    assert (found.pf, found.pf_netdev, found.vf_index, found.vf_admin) == (None, None, None, None)
    assert isinstance(found.netdevs, tuple)
    assert [n.name for n in found.netdevs] == ["enp94s0f0np0"]
    assert ("vf_admin", "enp94s0f0np0") not in netlink.asked
    assert found.slot is not None
    assert not isinstance(found.slot, Unreadable)
    assert found.slot.name == "4"


def test_the_vf_list_is_asked_of_netlink_once_per_pf(host_root: Callable[[Host], Path]) -> None:
    """`list` keeps one reader: the PF, its VF list, its ports and slot are read once for all its VFs."""
    root = _demo(host_root)
    netlink = FakeNetlink()
    reader = HostReader(root, netlink)
    inputs = [reader.check_input(DeviceQuery.parse(f"5e:00.{f}"), CheckOptions()) for f in (2, 3, 4, 5)]
    assert [i.vf_index for i in inputs] == [0, 1, 2, 3]
    assert netlink.asked.count(("vf_admin", "enp94s0f0np0")) == 1
    assert all(i.pf is inputs[0].pf and i.slot is inputs[0].slot and i.ports is inputs[0].ports for i in inputs)
    assert all(i.vf_admin == VfAdminList("enp94s0f0np0", 0, ()) for i in inputs)  # what this netlink says


def test_a_busy_vf_s_interfaces_are_asked_of_netlink_only_when_up(host_root: Callable[[Host], Path]) -> None:
    base = demo_pf()
    up = replace(base.vfs[1], netdevs=(Netdev("enp94s0f0v1", "52:54:00:00:00:01"),))
    root = _demo(host_root, demo_host(pf=replace(base, vfs=(base.vfs[0], up, *base.vfs[2:]))))
    netlink = FakeNetlink(addresses={"enp94s0f0v1": ("10.0.0.2/24",)})
    found = read_check_input(root, DeviceQuery.parse("5e:00.3"), CheckOptions(), netlink)
    assert isinstance(found.netdevs, tuple)
    (netdev,) = found.netdevs
    assert isinstance(netdev, NetDevice)
    assert (netdev.admin_up, netdev.ip_addresses, netdev.routes) == (True, ("10.0.0.2/24",), ())
    down = read_check_input(root, DeviceQuery.parse("5e:00.2"), CheckOptions(), FakeNetlink())
    assert down.netdevs == ()


def test_the_group_is_read_without_the_device_and_its_members_once(host_root: Callable[[Host], Path]) -> None:
    base = demo_pf()
    shared = replace(base, pf=replace(base.pf, iommu_group=23))
    root = _demo(host_root, demo_host(pf=shared))
    reader = HostReader(root, FakeNetlink())
    found = reader.check_input(DeviceQuery.parse(str(VF)), CheckOptions())
    assert found.group is not None
    assert not isinstance(found.group, Unreadable)
    assert isinstance(found.group.members, tuple)
    assert [(m.address, m.driver) for m in found.group.members] == [(PF, "mlx5_core")]
    again = reader.group("23", PF)
    assert isinstance(again.members, tuple)
    assert [m.address for m in again.members] == [VF]


def test_the_standby_backend_is_read_only_when_named(host_root: Callable[[Host], Path]) -> None:
    host = replace(demo_host(), bridges=(("br1", ("enp94s0f0np0", "vnet1")),), taps=(("vnet1", "br1"),))
    root = _demo(host_root, host)
    plain = read_check_input(root, DeviceQuery.parse(str(VF)), CheckOptions(), FakeNetlink())
    assert plain.standby is None
    named = read_check_input(root, DeviceQuery.parse(str(VF)), CheckOptions(standby_netdev="vnet1"), FakeNetlink())
    assert named.standby == standby("vnet1", "tap", ("br1", "enp94s0f0np0"), (lower("enp94s0f0np0", str(PF)),))
    absent = read_check_input(root, DeviceQuery.parse(str(VF)), CheckOptions(standby_netdev="vnet9"), FakeNetlink())
    assert absent.standby == StandbyBackend("vnet9", "absent", (), ())


def test_a_device_that_vanished_is_unreadable_everywhere(tmp_path: Path) -> None:
    """A `bus/pci/devices` link that dangles: every fact of the device is that one Unreadable."""
    tree = tmp_path / "t"
    (tree / "bus/pci/devices").mkdir(parents=True)
    (tree / "bus/pci/devices/0000:5e:00.2").symlink_to("../../../devices/pci0000:5d/gone")
    root = SysfsRoot(str(tree))
    seen = read_check_input(root, DeviceQuery.parse(str(VF)), CheckOptions(), FakeNetlink())
    assert seen.located == Located(VF, None, None, ())  # the link is there: the address is present
    assert seen.device == Unreadable("bus/pci/devices/0000:5e:00.2", "ENOENT (No such file or directory)")
    facts = (seen.netdevs, seen.pf, seen.pf_netdev, seen.vf_index, seen.vf_admin, seen.group, seen.ports, seen.slot)
    assert all(fact == seen.device for fact in facts)
    assert seen.vfio_driver_loaded is False


def test_an_unreadable_physfn_is_the_pf_and_index_too(host_root: Callable[[Host], Path]) -> None:
    path = host_root(demo_host())
    vf_dir = path / "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2"
    (vf_dir / "physfn").unlink()
    (vf_dir / "physfn").symlink_to("../not-an-address")
    found = read_check_input(open_root(str(path)), DeviceQuery.parse(str(VF)), CheckOptions(), FakeNetlink())
    assert isinstance(found.pf, Unreadable)
    assert found.pf == found.pf_netdev == found.vf_index
    assert found.vf_admin is None
    assert found.slot is not None
    assert not isinstance(found.slot, Unreadable)
    assert found.ports
    assert not isinstance(found.ports, Unreadable)
    assert found.ports[0].address == PORT
