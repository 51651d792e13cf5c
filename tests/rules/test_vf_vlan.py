"""`vf-vlan`: a VLAN the PF tags the VF's traffic with must be reachable by the standby too (a warning)."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.vf_vlan import RULE
from tests.support.factory import admin, admin_list, check_input, outcome

CASES = [
    pytest.param(check_input(), Status.PASS, "no VF VLAN", None, id="no-vlan"),
    pytest.param(
        check_input(vf_admin=admin_list(admin(0, vlan=100, qos=3))),
        Status.WARN,
        "VF VLAN 100 (qos 3) is set on the PF: the standby must reach VLAN 100 too",
        "put the standby's backend on VLAN 100, or clear it: ip link set dev enp94s0f0np0 vf 0 vlan 0",
        id="vlan",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_vf_vlan(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)


def test_a_vlan_never_makes_the_vf_not_ready() -> None:
    assert RULE.severity is Severity.WARN
