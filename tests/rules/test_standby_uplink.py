"""`standby-uplink`: the standby's backend exists and does not leave the host through the primary's PF."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Status
from pcie_failover.rules.standby_uplink import RULE
from tests.support.factory import MAC, PF, check_input, lower, outcome, pf_netdev, standby, unreadable

SWITCH = "the PF's embedded switch may keep steering the VM's MAC to the unplugged VF"
PF_PORT = lower("enp94s0f0np0", "0000:5e:00.0")
SIBLING = lower("enp94s0f0v1", "0000:5e:00.3", physfn=PF)
OTHER_NIC = lower("eno1", "0000:00:1f.6")
BRIDGED = standby("vnet1", "tap", lower=("br1", "enp94s0f0np0"), lower_devices=(PF_PORT,))


def _fdb(
    fdb_dev: str, mac: str = "<VM MAC>", tap: str = "vnet1", pf_word: str = "enp94s0f0np0", index: str = "0"
) -> str:
    return (
        "use an uplink on another PF, or once the primary is unplugged (kernel net_failover.rst):\n"
        f"ip link set dev {pf_word} vf {index} mac 00:00:00:00:00:00\n"
        f"bridge fdb add {mac} dev {fdb_dev}\n"
        f"bridge fdb add {mac} dev {tap} master"
    )


CASES = [
    pytest.param(check_input(), Status.SKIP, "no --standby-netdev given", None, id="not-given"),
    pytest.param(
        check_input(standby_netdev="vnet0", standby=standby("vnet0", "tap", ("br0", "eno1"), (OTHER_NIC,))),
        Status.PASS,
        "vnet0 (tap) reaches the wire through br0, eno1",
        None,
        id="other-uplink",
    ),
    pytest.param(
        check_input(standby_netdev="br9", standby=standby("br9", "bridge")),
        Status.PASS,
        "br9 (bridge) has no uplink",
        None,
        id="no-uplink",
    ),
    pytest.param(
        check_input(standby_netdev="vnet9", standby=standby("vnet9", "absent")),
        Status.FAIL,
        "the standby backend vnet9 does not exist on this host",
        "create it (the bridge or tap the standby's -netdev uses) or name the right one"
        " (check --standby-netdev, pair --netdev)",
        id="no-such-backend",
    ),
    pytest.param(
        check_input(standby_netdev="vnet1", standby=unreadable("class/net/br1/brif")),
        Status.UNKNOWN,
        "the standby backend vnet1 could not be read (class/net/br1/brif: Permission denied)",
        None,
        id="backend-unreadable",
    ),
    pytest.param(
        check_input(standby_netdev="vnet1", standby=BRIDGED, mac=MAC),
        Status.WARN,
        f"vnet1 (tap) leaves the host through the primary's own PF 0000:5e:00.0 (enp94s0f0np0): {SWITCH}",
        _fdb("enp94s0f0np0", mac="52:54:00:6f:55:cc"),
        id="uplink-is-pf",
    ),
    pytest.param(
        check_input(
            standby_netdev="enp94s0f0np0", standby=standby("enp94s0f0np0", "physical", (), (PF_PORT,)), vf_index=None
        ),
        Status.WARN,
        f"enp94s0f0np0 (physical) is the primary's own PF 0000:5e:00.0 (enp94s0f0np0): {SWITCH}",
        _fdb("enp94s0f0np0", tap="<tap>", index="<N>"),
        id="backend-is-pf",
    ),
    pytest.param(
        check_input(
            standby_netdev="vnet1",
            standby=standby("vnet1", "tap", ("br1", "enp94s0f0v1"), (SIBLING,)),
            pf_netdev=pf_netdev(name="pf;id>pwn"),
        ),
        Status.WARN,
        f"vnet1 (tap) leaves the host through enp94s0f0v1 (0000:5e:00.3), another VF of the primary's PF "
        f"0000:5e:00.0: {SWITCH}",
        _fdb("enp94s0f0v1", pf_word="'pf;id>pwn'"),
        id="uplink-is-sibling-vf",
    ),
    pytest.param(
        check_input(standby_netdev="vnet1", standby=BRIDGED, pf_netdev=unreadable()),
        Status.WARN,
        f"vnet1 (tap) leaves the host through the primary's own PF 0000:5e:00.0 (enp94s0f0np0): {SWITCH}",
        _fdb("enp94s0f0np0", pf_word="<PF>"),
        id="pf-interface-unknown",
    ),
    pytest.param(
        check_input(standby_netdev="vnet1", standby=BRIDGED, pf=None),
        Status.PASS,
        "vnet1 (tap) reaches the wire through br1, enp94s0f0np0",
        None,
        id="primary-not-a-vf",
    ),
    pytest.param(
        check_input(
            standby_netdev="vnet1",
            standby=standby("vnet1", "macvtap", ("eth9",), (lower("eth9", "0000:81:00.2", physfn=unreadable()),)),
        ),
        Status.PASS,
        "vnet1 (macvtap) reaches the wire through eth9",
        None,
        id="lower-physfn-unreadable",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_standby_uplink(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
