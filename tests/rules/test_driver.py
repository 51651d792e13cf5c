"""`driver`: on vfio-pci or a variant, or how to get there, never suggesting to unbind a device in use."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput, Manager
from pcie_failover.model.results import Status
from pcie_failover.rules.driver import RULE
from tests.support.factory import IFF_DOWN, check_input, netdev, outcome, unreadable, vf

LIBVIRT_BINDS = "libvirt (<interface type='hostdev' managed='yes'>) binds vfio-pci when the VM starts"
DEV = "/sys/bus/pci/devices/0000:5e:00.2"
BIND = (
    f"echo vfio-pci > {DEV}/driver_override\n"
    "echo 0000:5e:00.2 > /sys/bus/pci/drivers_probe\n"
    "(to keep it across reboots: driverctl set-override 0000:5e:00.2 vfio-pci)"
)
UNBIND_AND_BIND = (  # the override first: nothing can bind the host driver again between unbind and probe
    f"echo vfio-pci > {DEV}/driver_override\n"
    f"echo 0000:5e:00.2 > {DEV}/driver/unbind\n"
    "echo 0000:5e:00.2 > /sys/bus/pci/drivers_probe\n"
    "(to keep it across reboots: driverctl set-override 0000:5e:00.2 vfio-pci)"
)
PROBE = "echo 0000:5e:00.2 > /sys/bus/pci/drivers_probe"
FREE_IT = (
    "free it first (move its addresses and routes, take it out of its bridge or bond); "
    "this tool does not suggest unbinding a device in use"
)
UNBOUND = vf(driver=None, vfio_dev=False)
OVERRIDE = vf(driver=None, vfio_dev=False, driver_override="vfio-pci")
HOST = vf(driver="mlx5_core", vfio_dev=False, netdevs=("eth0",))


def _host_driver(*netdevs: object, **changes: object) -> CheckInput:
    return check_input(device=HOST, netdevs=netdevs, **changes)


CASES = [
    pytest.param(check_input(), Status.PASS, "bound to vfio-pci", None, id="vfio"),
    pytest.param(
        check_input(device=vf(driver="mlx5_vfio_pci", vfio_dev=True)),
        Status.PASS,
        "bound to mlx5_vfio_pci (a vfio variant driver)",
        None,
        id="variant",
    ),
    pytest.param(
        check_input(device=vf(driver=unreadable("x/driver", "the link to y leads to no driver directory"))),
        Status.UNKNOWN,
        "the driver link could not be read (x/driver: the link to y leads to no driver directory)",
        None,
        id="driver-unreadable",
    ),
    pytest.param(
        check_input(device=vf(driver="ice", vfio_dev=unreadable("bus/pci/drivers/ice/module", "built in"))),
        Status.UNKNOWN,
        "whether ice is a vfio variant driver could not be read (bus/pci/drivers/ice/module: built in)",
        None,
        id="variant-unknown",
    ),
    # unbound
    pytest.param(
        check_input(device=UNBOUND),
        Status.FAIL,
        "no driver bound; QEMU's vfio-pci device needs the vfio-pci driver",
        BIND,
        id="unbound",
    ),
    pytest.param(
        check_input(device=UNBOUND, vfio_driver_loaded=False),
        Status.FAIL,
        "no driver bound; QEMU's vfio-pci device needs the vfio-pci driver",
        f"modprobe vfio-pci\n{BIND}",
        id="unbound-vfio-not-loaded",
    ),
    pytest.param(
        check_input(device=UNBOUND, manager=Manager.LIBVIRT),
        Status.PASS,
        f"no driver bound; {LIBVIRT_BINDS}",
        None,
        id="unbound-libvirt",
    ),
    pytest.param(
        check_input(device=vf(driver=None, vfio_dev=False, driver_override="vfio-pci", iommu_group=None)),
        Status.FAIL,
        "driver_override is vfio-pci but nothing is bound: vfio-pci's probe failed",
        "vfio-pci cannot bind without an IOMMU group (its probe returns -EINVAL): see the iommu check",
        id="probe-failed-no-group",
    ),
    pytest.param(
        check_input(device=OVERRIDE, vfio_driver_loaded=False),
        Status.FAIL,
        "driver_override is vfio-pci but nothing is bound: vfio-pci is not loaded",
        f"modprobe vfio-pci && {PROBE}",
        id="probe-failed-not-loaded",
    ),
    pytest.param(
        check_input(device=OVERRIDE, vfio_driver_loaded=unreadable("bus/pci/drivers/vfio-pci")),
        Status.FAIL,
        "driver_override is vfio-pci but nothing is bound: vfio-pci is not loaded",
        f"modprobe vfio-pci && {PROBE}",
        id="probe-failed-loaded-unknown",
    ),
    pytest.param(
        check_input(device=OVERRIDE, manager=Manager.LIBVIRT),
        Status.FAIL,
        "driver_override is vfio-pci but nothing is bound (it was unbound, or vfio-pci's probe failed)",
        f"{PROBE}\n(if that fails, `dmesg | grep -i vfio` says why)",
        id="override-unbound",
    ),
    # bound to a host driver
    pytest.param(
        _host_driver(netdev(flags=IFF_DOWN)),
        Status.FAIL,
        "bound to host driver mlx5_core, not vfio-pci",
        UNBIND_AND_BIND,
        id="host-driver-down",
    ),
    pytest.param(
        _host_driver(),
        Status.FAIL,
        "bound to host driver mlx5_core, not vfio-pci",
        UNBIND_AND_BIND,
        id="host-driver-no-interface",
    ),
    pytest.param(
        _host_driver(netdev(), vfio_driver_loaded=False),
        Status.FAIL,
        "bound to host driver mlx5_core, not vfio-pci",
        f"modprobe vfio-pci\n{UNBIND_AND_BIND}",
        id="host-driver-up-unused-vfio-not-loaded",
    ),
    pytest.param(
        _host_driver(netdev(), manager=Manager.LIBVIRT),
        Status.PASS,
        f"bound to host driver mlx5_core, not in use; {LIBVIRT_BINDS}",
        None,
        id="host-driver-libvirt",
    ),
    pytest.param(
        _host_driver(netdev(master="br0")),
        Status.FAIL,
        "bound to mlx5_core and in use on this host: eth0 is enslaved to br0",
        FREE_IT,
        id="in-use-enslaved",
    ),
    pytest.param(
        _host_driver(netdev(flags=IFF_DOWN, master="bond0"), manager=Manager.LIBVIRT),
        Status.FAIL,
        "bound to mlx5_core and in use on this host: eth0 is enslaved to bond0",
        FREE_IT,
        id="in-use-enslaved-while-down-libvirt",
    ),
    pytest.param(
        _host_driver(netdev(ip_addresses=("10.0.0.2/24", "10.0.0.3/24", "fe80::1/64", "10.0.0.4/24"))),
        Status.FAIL,
        "bound to mlx5_core and in use on this host: eth0 is up with 10.0.0.2/24, 10.0.0.3/24, fe80::1/64",
        FREE_IT,
        id="in-use-addresses",
    ),
    pytest.param(
        _host_driver(netdev("eth1", flags=IFF_DOWN), netdev(routes=("default", "10.1.0.0/16"))),
        Status.FAIL,
        "bound to mlx5_core and in use on this host: eth0 carries routes to default, 10.1.0.0/16",
        FREE_IT,
        id="in-use-routes-second-interface",
    ),
    pytest.param(
        check_input(device=HOST, netdevs=unreadable("x/net", "Permission denied")),
        Status.FAIL,
        "bound to host driver mlx5_core, not vfio-pci",
        "could not tell whether it is in use (its interfaces could not be listed (x/net: Permission denied)); "
        f"only if it is unused:\n{UNBIND_AND_BIND}",
        id="interfaces-unreadable",
    ),
    pytest.param(
        _host_driver(netdev(master=unreadable("class/net/eth0/master", "Permission denied"))),
        Status.FAIL,
        "bound to host driver mlx5_core, not vfio-pci",
        "could not tell whether it is in use (eth0: class/net/eth0/master: Permission denied); "
        f"only if it is unused:\n{UNBIND_AND_BIND}",
        id="master-unreadable",
    ),
    pytest.param(
        _host_driver(netdev(flags=unreadable("class/net/eth0/flags", "Permission denied")), manager=Manager.LIBVIRT),
        Status.FAIL,
        "bound to host driver mlx5_core, not vfio-pci",
        "could not tell whether it is in use (eth0: class/net/eth0/flags: Permission denied); "
        f"only if it is unused:\n{UNBIND_AND_BIND}",
        id="flags-unreadable-libvirt",
    ),
    pytest.param(
        _host_driver(netdev(ip_addresses=unreadable("netlink eth0", "no netlink snapshot"))),
        Status.FAIL,
        "bound to host driver mlx5_core, not vfio-pci",
        "could not tell whether it is in use (eth0 is up and its addresses are unknown (no netlink snapshot)); "
        f"only if it is unused:\n{UNBIND_AND_BIND}",
        id="addresses-unknown",
    ),
    pytest.param(
        _host_driver(netdev(routes=unreadable("netlink eth0", "no netlink snapshot"))),
        Status.FAIL,
        "bound to host driver mlx5_core, not vfio-pci",
        "could not tell whether it is in use (eth0 is up and its routes are unknown (no netlink snapshot)); "
        f"only if it is unused:\n{UNBIND_AND_BIND}",
        id="routes-unknown",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_driver(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
