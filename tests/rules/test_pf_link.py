"""`pf-link`: the PF's interface is up where its driver stops VF traffic while it is down; carrier is advised."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Status
from pcie_failover.rules.pf_link import RULE
from tests.support.factory import IFF_DOWN, check_input, outcome, pf, pf_netdev, plain_device, unreadable

UP = "ip link set dev enp94s0f0np0 up"


def _down(driver: object = "mlx5_core", name: str = "enp94s0f0np0") -> CheckInput:
    return check_input(pf=pf(driver=driver), pf_netdev=pf_netdev(flags=IFF_DOWN, operstate="down", name=name))


CASES = [
    pytest.param(check_input(), Status.PASS, "PF enp94s0f0np0 is up (operstate up)", None, id="pf-up"),
    pytest.param(
        check_input(pf_netdev=pf_netdev(operstate="unknown")),
        Status.PASS,
        "PF enp94s0f0np0 is up (operstate unknown)",
        None,
        id="operstate-unknown",
    ),
    pytest.param(
        check_input(pf_netdev=pf_netdev(operstate=unreadable("class/net/enp94s0f0np0/operstate"))),
        Status.PASS,
        "PF enp94s0f0np0 is up (its operstate could not be read: class/net/enp94s0f0np0/operstate: Permission denied)",
        None,
        id="operstate-unreadable",
    ),
    pytest.param(
        check_input(pf_netdev=pf_netdev(operstate="down")),
        Status.WARN,
        "PF enp94s0f0np0 is up but its link is down",
        "connect the port: until then the VF reaches only other functions of this PF",
        id="pf-no-carrier",
    ),
    pytest.param(
        _down(),
        Status.FAIL,
        "PF enp94s0f0np0 is down: mlx5_core takes the physical port down with it, so its VFs reach only the other "
        "functions of the port, not the wire",
        UP,
        id="pf-down",
    ),
    pytest.param(
        _down("igb"), Status.FAIL, "PF enp94s0f0np0 is down: igb carries no VF traffic until it is up", UP, id="igb"
    ),
    pytest.param(
        _down("ixgbe"),
        Status.FAIL,
        "PF enp94s0f0np0 is down: ixgbe carries no VF traffic until it is up",
        UP,
        id="ixgbe",
    ),
    pytest.param(
        _down("ice"),
        Status.WARN,
        "PF enp94s0f0np0 is down: ice keeps its VFs running while it is down unless its link-down-on-close "
        "private flag is on (`ethtool --show-priv-flags enp94s0f0np0`)",
        UP,
        id="ice",
    ),
    pytest.param(
        _down("i40e", name="pf;id>pwn"),
        Status.WARN,
        "PF pf;id>pwn is down: i40e keeps its VFs running while it is down unless its link-down-on-close "
        "private flag is on (`ethtool --show-priv-flags 'pf;id>pwn'`)",
        "ip link set dev 'pf;id>pwn' up",
        id="i40e-quoted",
    ),
    pytest.param(
        _down("bnxt_en"),
        Status.WARN,
        "PF enp94s0f0np0 is down: whether bnxt_en stops its VFs while it is down is not known here",
        UP,
        id="other-driver",
    ),
    pytest.param(
        _down(unreadable("x/driver")),
        Status.WARN,
        "PF enp94s0f0np0 is down: whether its driver (unknown) stops its VFs while it is down is not known here",
        UP,
        id="driver-unreadable",
    ),
    pytest.param(
        check_input(pf_netdev=pf_netdev(flags=unreadable("class/net/enp94s0f0np0/flags"))),
        Status.UNKNOWN,
        "enp94s0f0np0's flags could not be read (class/net/enp94s0f0np0/flags: Permission denied)",
        None,
        id="flags-unreadable",
    ),
    # no PF interface to judge
    pytest.param(plain_device(), Status.SKIP, "not a VF", None, id="not-a-vf"),
    pytest.param(
        check_input(pf=unreadable("bus/pci/devices/0000:5e:00.0")),
        Status.UNKNOWN,
        "the PF could not be read (bus/pci/devices/0000:5e:00.0: Permission denied)",
        None,
        id="pf-unreadable",
    ),
    pytest.param(
        check_input(pf_netdev=unreadable("x/net")),
        Status.UNKNOWN,
        "the PF's interface could not be read (x/net: Permission denied)",
        None,
        id="pf-interface-unreadable",
    ),
    pytest.param(
        check_input(pf=pf(driver="vfio-pci", netdevs=()), pf_netdev=None),
        Status.UNKNOWN,
        "PF 0000:5e:00.0 has no network interface (driver: vfio-pci)",
        None,
        id="pf-without-interface",
    ),
    pytest.param(
        check_input(pf=pf(driver=None, netdevs=()), pf_netdev=None),
        Status.UNKNOWN,
        "PF 0000:5e:00.0 has no network interface (driver: none)",
        None,
        id="pf-unbound",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_pf_link(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
