"""`standby-mac-unique`: no two failover standbys share a MAC (the guest finds a pair's master by MAC)."""

from __future__ import annotations

from collections.abc import Iterable

from pcie_failover.lint.guest_rules.base import LintRule, verdict
from pcie_failover.lint.model import Device, LintInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = "give each failover standby (and its VF) a MAC of its own"


def shared(standbys: Iterable[Device]) -> list[tuple[Device, ...]]:
    """The groups of two or more standbys with one MAC (compared as MACs), in the configuration's order.

    A standby without a usable MAC is `standby-mac`'s finding, not this rule's.
    """
    by_mac: dict[str, list[Device]] = {}
    for standby in standbys:
        mac = standby.parsed_mac
        if mac is not None:
            by_mac.setdefault(str(mac), []).append(standby)
    return [tuple(group) for group in by_mac.values() if len(group) > 1]


def check(lint_input: LintInput) -> Finding:
    """Each standby's MAC is its own."""
    standbys = lint_input.config.standbys
    if not standbys:
        return Finding(Status.SKIP, "no standby (no virtio-net-pci with failover=on)")
    problems = [
        f"{', '.join(s.label for s in group[:-1])} and {group[-1].label} share MAC {group[0].parsed_mac}: the guest "
        "pairs a primary with the first failover master of its MAC (failover_get_bymac()), so these pairs are "
        "not told apart"
        for group in shared(standbys)
    ]
    return verdict(problems, "each standby's MAC is its own", HINT)


RULE = LintRule(
    "standby-mac-unique",
    Severity.FAIL,
    "no two failover standbys share a MAC",
    "net/core/failover.c failover_get_bymac() returns the first failover master whose perm_addr is the "
    "primary's MAC: with two standbys of one MAC, every primary of that MAC goes to the first master",
    check,
    sources=(
        Source("linux", "net/core/failover.c", "failover_get_bymac(), failover_slave_register()"),
        Source("linux", "drivers/net/net_failover.c", "net_failover_slave_pre_register(): one primary per master"),
    ),
    proofs=(
        "tests/lab/test_inspect.py::test_two_standbys_of_one_mac_are_not_active",
        "tests/test_lint_standby_mac_unique.py::test_two_standbys_of_one_mac_fail",
        "tests/test_inspect.py::test_a_standby_sharing_its_mac_with_another_pair_is_not_active",
    ),
)
