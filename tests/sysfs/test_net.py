"""Readers of network interfaces (sysfs/net.py): state, the device behind one, the standby's path to the wire."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import demo_host
from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import StandbyBackend, Unreadable
from pcie_failover.sysfs.net import interface_device, read_netdev, standby_backend
from pcie_failover.sysfs.root import SysfsRoot
from tests.support.factory import IFF_DOWN, PF, lower, mac, netdev, pf_netdev, standby
from tests.support.trees import FakeNetlink, SmallTree

ONBOARD = "0000:00:1f.6"


def _root(host_root: Callable[[Host], Path], host: Host | None = None) -> SysfsRoot:
    return SysfsRoot(str(host_root(host or demo_host())))


def test_read_netdev_asks_netlink_only_for_an_interface_that_is_up(host_root: Callable[[Host], Path]) -> None:
    root = _root(host_root)
    netlink = FakeNetlink(addresses={"eno1": ("192.168.1.10/24",)}, routes={"eno1": ("default",)})
    assert read_netdev(root, "enp94s0f0np0", netlink) == pf_netdev()
    assert read_netdev(root, "eno1", netlink) == netdev(
        "eno1", address=mac("3c:ec:ef:00:00:01"), master="br0", ip_addresses=("192.168.1.10/24",), routes=("default",)
    )
    assert read_netdev(root, "enp94s0f0v1", netlink) == netdev(
        "enp94s0f0v1", flags=IFF_DOWN, operstate="down", address=mac("52:54:00:00:00:01")
    )
    assert ("addresses", "enp94s0f0v1") not in netlink.asked


def test_read_netdev_keeps_what_netlink_could_not_tell(host_root: Callable[[Host], Path]) -> None:
    unknown = Unreadable("netlink eno1", "no netlink snapshot")
    found = read_netdev(_root(host_root), "eno1", FakeNetlink(addresses={"eno1": unknown}, routes={"eno1": unknown}))
    assert (found.ip_addresses, found.routes) == (unknown, unknown)


def test_read_netdev_of_odd_attributes(tmp_path: Path) -> None:
    tree = (
        SmallTree(tmp_path / "t")
        .file("class/net/x0/flags", "zz\n")
        .file("class/net/x0/operstate", "up\n")
        .raw_link("class/net/x0/master", "../../nowhere/br\n-x")
    )
    found = read_netdev(tree.root, "x0", FakeNetlink())
    assert found.flags == Unreadable("class/net/x0/flags", "unexpected value 'zz'")
    assert found.admin_up is None
    assert found.address is None  # no `address` file
    assert isinstance(found.master, Unreadable)
    assert (found.ip_addresses, found.routes) == ((), ())  # not known to be up: netlink is not asked


def test_interface_device_walks_up_to_the_pci_function(host_root: Callable[[Host], Path], tmp_path: Path) -> None:
    root = _root(host_root)
    assert interface_device(root, "enp94s0f0np0") == PF
    assert interface_device(root, "br0") is None  # virtual
    assert interface_device(root, "nosuch0") is None
    tree = (
        SmallTree(tmp_path / "t")
        .dir("devices/pci0000:00/0000:00:03.0/virtio0/net/eth0")
        .link("class/net/eth0", "devices/pci0000:00/0000:00:03.0/virtio0/net/eth0")
        .link("devices/pci0000:00/0000:00:03.0/virtio0/net/eth0/device", "devices/pci0000:00/0000:00:03.0/virtio0")
    )
    assert interface_device(tree.root, "eth0") == PciAddress.parse("0000:00:03.0")
    loop = SmallTree(tmp_path / "loop").raw_link("class/net/l0/device", "device").dir("class/net/l0")
    assert isinstance(interface_device(loop.root, "l0"), Unreadable)


def test_standby_backend_follows_tap_bridge_and_ports(host_root: Callable[[Host], Path]) -> None:
    root = _root(host_root)
    assert standby_backend(root, "vnet0") == standby("vnet0", "tap", ("br0", "eno1"), (lower("eno1", ONBOARD),))
    assert standby_backend(root, "br0") == standby("br0", "bridge", ("eno1", "vnet0"), (lower("eno1", ONBOARD),))
    assert standby_backend(root, "eno1") == standby("eno1", "physical", (), (lower("eno1", ONBOARD),))
    assert standby_backend(root, "vnet9") == StandbyBackend("vnet9", "absent", (), ())


def test_standby_backend_names_a_sibling_vf_by_its_pf(host_root: Callable[[Host], Path]) -> None:
    host = replace(demo_host(), bridges=(("br1", ("enp94s0f0v1", "vnet1")),), taps=(("vnet1", "br1"),))
    assert standby_backend(_root(host_root, host), "vnet1") == standby(
        "vnet1", "tap", ("br1", "enp94s0f0v1"), (lower("enp94s0f0v1", "0000:5e:00.3", physfn=PF),)
    )


def test_standby_backend_of_a_macvtap_and_an_unreadable_bridge(tmp_path: Path) -> None:
    tree = (
        SmallTree(tmp_path / "t")
        .file("devices/virtual/net/macvtap0/uevent", "DEVTYPE=macvtap\nINTERFACE=macvtap0\n")
        .link("devices/virtual/net/macvtap0/lower_eth9", "devices/virtual/net/eth9")
        .file("devices/virtual/net/eth9/uevent", "INTERFACE=eth9\n")
        .link("class/net/macvtap0", "devices/virtual/net/macvtap0")
        .link("class/net/eth9", "devices/virtual/net/eth9")
        .file("devices/virtual/net/br7/uevent", "DEVTYPE=bridge\n")
        .raw_link("devices/virtual/net/br7/brif", "brif")  # a link to itself: ELOOP
        .link("class/net/br7", "devices/virtual/net/br7")
    )
    assert standby_backend(tree.root, "macvtap0") == standby("macvtap0", "macvtap", ("eth9",), ())
    assert isinstance(standby_backend(tree.root, "br7"), Unreadable)
