"""`vf-mac`: the VF's admin MAC is set, unicast, the one --mac names, and known (or asserted) to be an admin's."""

from __future__ import annotations

from typing import Any

import pytest

from pcie_failover.model.address import MacAddress
from pcie_failover.model.check import CheckInput, Manager
from pcie_failover.model.results import Status
from pcie_failover.rules.vf_mac import RULE
from tests.support.factory import MAC, admin, admin_list, check_input, mac, netdev, outcome, pf_netdev, vf

LIBVIRT = Manager.LIBVIRT
LIBVIRT_SETS = "libvirt sets it from the hostdev interface's <mac> when the VM starts"
DROPPED = (
    "the PF reports a MAC a VF driver picked for itself like an administrator's, and drops it at the VF's next "
    "reset (vfio resets the VF when QEMU opens it)"
)
SET = "ip link set dev enp94s0f0np0 vf 0 mac 52:54:00:6f:55:cc"
KEEP = f"{SET}\n(the PF then keeps it across resets; set the same MAC on the destination's VF)"
DESTINATION = "(set the same MAC on the destination host's VF before migrating)"
UNPROVEN = (
    f"MAC 52:54:00:6f:55:cc is not proof of an administrator's MAC: a VF driver bound to VF 0 before may have "
    f"picked it; {DROPPED}"
)
ZERO = "admin MAC is 00:00:00:00:00:00: the guest's VF driver picks a random MAC and net_failover never pairs"
OTHER = mac("e6:07:34:1a:10:20")
ON_HOST_DRIVER = vf(driver="mlx5_core", vfio_dev=False, netdevs=("enp94s0f0v0",))


def _entry(**changes: Any) -> CheckInput:
    """VF 0's netlink entry changed, everything else ready."""
    return check_input(vf_admin=admin_list(admin(0, **changes)))


def _driver_uses(address: MacAddress | None, **changes: Any) -> CheckInput:
    """VF 0 on mlx5_core, its interface using `address`."""
    return check_input(device=ON_HOST_DRIVER, netdevs=(netdev("enp94s0f0v0", address=address),), **changes)


CASES = [
    pytest.param(
        check_input(),
        Status.WARN,
        UNPROVEN,
        f"{KEEP}\n(or pass --mac 52:54:00:6f:55:cc if an administrator set it)",
        id="mac-set",
    ),
    pytest.param(
        check_input(mac=MAC),
        Status.PASS,
        "admin MAC 52:54:00:6f:55:cc (spoofchk on, trust off); --mac asserts it is the administrator's "
        "(netlink cannot tell)",
        None,
        id="mac-matches",
    ),
    pytest.param(
        check_input(vf_admin=admin_list(admin(0, spoofchk=None, trust=True)), mac=MAC),
        Status.PASS,
        "admin MAC 52:54:00:6f:55:cc (spoofchk not reported, trust on); --mac asserts it is the administrator's "
        "(netlink cannot tell)",
        None,
        id="flags-not-reported",
    ),
    pytest.param(
        check_input(mac=MAC, mac_asserted=False),
        Status.WARN,
        UNPROVEN,
        KEEP,
        id="lint-compares-without-asserting",
    ),
    pytest.param(
        check_input(manager=LIBVIRT),
        Status.PASS,
        f"MAC now 52:54:00:6f:55:cc, not proof of an administrator's; {LIBVIRT_SETS}",
        None,
        id="unproven-libvirt",
    ),
    pytest.param(
        _driver_uses(OTHER),
        Status.PASS,
        "admin MAC 52:54:00:6f:55:cc (spoofchk on, trust off): set through the PF, since the VF's own enp94s0f0v0 "
        "uses e6:07:34:1a:10:20",
        None,
        id="mac-set-behind-driver",
    ),
    pytest.param(
        _driver_uses(MAC),
        Status.FAIL,
        f"MAC 52:54:00:6f:55:cc is the one VF 0's host driver mlx5_core runs enp94s0f0v0 with: it may have picked "
        f"it itself; {DROPPED}",
        KEEP,
        id="mac-of-vf-driver",
    ),
    pytest.param(
        _driver_uses(MAC, mac=MAC),
        Status.FAIL,
        f"MAC 52:54:00:6f:55:cc is the one VF 0's host driver mlx5_core runs enp94s0f0v0 with: it may have picked "
        f"it itself; {DROPPED}",
        KEEP,
        id="mac-of-vf-driver-asserted",
    ),
    pytest.param(
        check_input(
            device=vf(driver=None, vfio_dev=False, netdevs=("enp94s0f0v0",)),
            netdevs=(netdev("enp94s0f0v0", address=MAC),),
        ),
        Status.FAIL,
        f"MAC 52:54:00:6f:55:cc is the one VF 0's host driver driver runs enp94s0f0v0 with: it may have picked "
        f"it itself; {DROPPED}",
        KEEP,
        id="mac-of-interface-without-driver",
    ),
    pytest.param(
        _driver_uses(MAC, manager=LIBVIRT),
        Status.PASS,
        f"MAC now 52:54:00:6f:55:cc, not proof of an administrator's; {LIBVIRT_SETS}",
        None,
        id="mac-of-vf-driver-libvirt",
    ),
    # a MAC that cannot be the standby's
    pytest.param(
        _entry(mac=None),
        Status.UNKNOWN,
        "VF 0's admin MAC is not reported by enp94s0f0np0",
        None,
        id="mac-not-reported",
    ),
    pytest.param(
        _entry(mac=mac("00:00:00:00:00:00")),
        Status.FAIL,
        ZERO,
        f"ip link set dev enp94s0f0np0 vf 0 mac STANDBY_MAC\n{DESTINATION}",
        id="mac-zero",
    ),
    pytest.param(
        check_input(vf_admin=admin_list(admin(0, mac=mac("00:00:00:00:00:00"))), mac=MAC),
        Status.FAIL,
        ZERO,
        f"{SET}\n{DESTINATION}",
        id="mac-zero-with-mac",
    ),
    pytest.param(
        check_input(vf_admin=admin_list(admin(0, mac=mac("00:00:00:00:00:00"))), manager=LIBVIRT),
        Status.PASS,
        f"admin MAC now 00:00:00:00:00:00; {LIBVIRT_SETS}",
        None,
        id="mac-zero-libvirt",
    ),
    pytest.param(
        _entry(mac=mac("01:00:5e:00:00:01")),
        Status.FAIL,
        "admin MAC 01:00:5e:00:00:01 is a multicast address",
        f"ip link set dev enp94s0f0np0 vf 0 mac STANDBY_MAC\n{DESTINATION}",
        id="mac-multicast",
    ),
    pytest.param(
        check_input(mac=mac("52:54:00:6f:55:cd")),
        Status.FAIL,
        "admin MAC 52:54:00:6f:55:cc differs from --mac 52:54:00:6f:55:cd: the guest pairs primary and standby by MAC",
        f"ip link set dev enp94s0f0np0 vf 0 mac 52:54:00:6f:55:cd\n{DESTINATION}",
        id="mac-differs",
    ),
    pytest.param(
        check_input(
            pf_netdev=pf_netdev(name="pf;id>pwn"),
            vf_admin=admin_list(admin(0, mac=mac("00:00:00:00:00:00")), pf_netdev_name="pf;id>pwn"),
        ),
        Status.FAIL,
        ZERO,
        f"ip link set dev 'pf;id>pwn' vf 0 mac STANDBY_MAC\n{DESTINATION}",
        id="mac-zero-quoted",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_vf_mac(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
