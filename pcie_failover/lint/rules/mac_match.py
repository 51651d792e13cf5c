"""`mac-match`: the standby's MAC equals its primary's (compared case-insensitively)."""

from __future__ import annotations

from pcie_failover.lint.model import Device, LintInput
from pcie_failover.lint.rules.base import LintRule, no_primary, pairs
from pcie_failover.model.address import MacAddress
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding

HINT = "use one MAC for both: the standby's mac= and the VF's admin MAC (ip link set dev PF vf N mac MAC)"


def _primary_mac(lint_input: LintInput, primary: Device) -> tuple[MacAddress | None, str]:
    """The primary's MAC and where it comes from: its own mac= / <mac>, else the host's VF admin MAC."""
    if primary.mac is not None:
        return primary.parsed_mac, "its MAC"
    if primary.host is not None:
        return lint_input.host.admin_macs.get(primary.host), f"VF {primary.host}'s admin MAC"
    return None, "its MAC"


def check(lint_input: LintInput) -> Finding:
    """Compare per pair; unknown when the primary's MAC is not known (no host check)."""
    found = pairs(lint_input.config)
    if not found:
        return no_primary()
    problems: list[str] = []
    unknown: list[str] = []
    matched: list[str] = []
    for primary, standby in found:
        mac, source = _primary_mac(lint_input, primary)
        wanted = standby.parsed_mac
        if wanted is None:
            unknown.append(f"{standby.label} has no usable MAC (see standby-mac)")
        elif mac is None:
            unknown.append(f"{primary.label}: {source} is not known (no host check)")
        elif mac != wanted:
            problems.append(f"{primary.label}: {source} {mac} differs from {standby.name}'s {wanted}")
        else:
            matched.append(f"{primary.name} {mac}")
    if problems:
        return Finding(Status.FAIL, "; ".join(problems) + ": the guest pairs them by MAC", HINT)
    if unknown:
        return Finding(Status.UNKNOWN, "; ".join(unknown), "run lint on the VF's host (or with --sysfs-root)")
    return Finding(Status.PASS, "same MAC: " + ", ".join(matched))


RULE = LintRule(
    "mac-match",
    Severity.FAIL,
    "the standby's MAC equals the primary's",
    "net/core/failover.c pairs on perm_addr: the VF's admin MAC at probe must be the standby's MAC",
    check,
)
