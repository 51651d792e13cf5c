"""`pf-link`: the VF's PF interface is up; a VF does not work while its PF is down."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding, Rule, unknown
from pcie_failover.rules.vf_common import pf_interface


def check(check_input: CheckInput) -> Finding:
    """Admin-down fails; up without carrier warns."""
    found = pf_interface(check_input)
    if isinstance(found, Finding):
        return found
    _, netdev = found
    if isinstance(netdev.flags, Unreadable):
        return unknown(f"{netdev.name}'s flags", netdev.flags)
    if not netdev.admin_up:
        return Finding(
            Status.FAIL,
            f"PF {netdev.name} is down: its VFs carry no traffic until it is up",
            f"ip link set dev {netdev.name} up",
        )
    if isinstance(netdev.operstate, Unreadable):  # only the no-carrier warning depends on it
        return Finding(Status.PASS, f"PF {netdev.name} is up (its operstate could not be read: {netdev.operstate})")
    operstate = netdev.operstate
    if operstate not in ("up", "unknown"):
        return Finding(
            Status.WARN,
            f"PF {netdev.name} is up but its link is {operstate}",
            "connect the port: until then the VF reaches only other functions of this PF",
        )
    return Finding(Status.PASS, f"PF {netdev.name} is up (operstate {operstate})")


RULE = Rule(
    "pf-link",
    Severity.FAIL,
    "the PF's interface is up",
    "Linux igbvf/iavf: 'PF still in reset state. Is the PF interface up?'",
    check,
)
