"""`pf-link`: the VF's PF interface is up; a VF does not work while its PF is down."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding, Rule, target, unknown


def check(check_input: CheckInput) -> Finding:
    """Admin-down fails; up without carrier warns."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    pf = check_input.pf
    if pf is None:
        return Finding(Status.SKIP, "not a VF")
    if isinstance(pf, Unreadable):
        return unknown("the PF", pf)
    netdev = check_input.pf_netdev
    if isinstance(netdev, Unreadable):
        return unknown("the PF's interface", netdev)
    if netdev is None:
        driver = pf.driver if isinstance(pf.driver, str) else "none"
        return Finding(Status.UNKNOWN, f"PF {pf.address} has no network interface (driver: {driver})")
    if isinstance(netdev.flags, Unreadable):
        return unknown(f"{netdev.name}'s flags", netdev.flags)
    if not netdev.admin_up:
        return Finding(
            Status.FAIL,
            f"PF {netdev.name} is down: its VFs carry no traffic until it is up",
            f"ip link set dev {netdev.name} up",
        )
    operstate = netdev.operstate if isinstance(netdev.operstate, str) else "unknown"
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
