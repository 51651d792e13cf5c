"""`vf-mac`: the VF admin MAC is set, unicast, and the one the standby will carry."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput, Manager
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding, Rule
from pcie_failover.rules.vf_common import VfEntry, vf_entry

_LIBVIRT_SETS = "libvirt sets it from the hostdev interface's <mac> when the VM starts"


def _flags(entry: VfEntry) -> str:
    def word(value: bool | None, name: str) -> str:
        return f"{name} {'not reported' if value is None else ('on' if value else 'off')}"

    return f"{word(entry.admin.spoofchk, 'spoofchk')}, {word(entry.admin.trust, 'trust')}"


def check(check_input: CheckInput) -> Finding:
    """net_failover pairs by permanent MAC: the VF's admin MAC must equal the standby's."""
    entry = vf_entry(check_input)
    if isinstance(entry, Finding):
        return entry
    mac = entry.admin.mac
    wanted = check_input.options.mac
    libvirt = check_input.options.manager is Manager.LIBVIRT
    command = f"ip link set dev {entry.pf_netdev} vf {entry.index} mac {wanted or '<standby MAC>'}"
    if mac is None:
        return Finding(Status.UNKNOWN, f"VF {entry.index}'s admin MAC is not reported by {entry.pf_netdev}")
    problem: str | None = None
    if mac.is_zero:
        problem = (
            "admin MAC is 00:00:00:00:00:00: the guest's VF driver picks a random MAC and net_failover never pairs"
        )
    elif mac.is_multicast:
        problem = f"admin MAC {mac} is a multicast address"
    elif wanted is not None and mac != wanted:
        problem = f"admin MAC {mac} differs from --mac {wanted}: the guest pairs primary and standby by MAC"
    if problem is None:
        return Finding(Status.PASS, f"admin MAC {mac} ({_flags(entry)})")
    if libvirt:
        return Finding(Status.PASS, f"admin MAC now {mac}; {_LIBVIRT_SETS}")
    return Finding(Status.FAIL, problem, f"{command}\n(set the same MAC on the destination host's VF before migrating)")


RULE = Rule(
    "vf-mac",
    Severity.FAIL,
    "the VF admin MAC is set, unicast and equal to the standby's",
    "Linux net/core/failover.c pairs on perm_addr (the VF admin MAC at probe); rtnetlink IFLA_VF_MAC",
    check,
)
