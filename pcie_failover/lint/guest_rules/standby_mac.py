"""`standby-mac`: the standby has a unicast MAC set."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, verdict
from pcie_failover.lint.model import LintInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = "set mac=<the VF's MAC> on the standby (libvirt: <mac address='...'/>)"


def check(lint_input: LintInput) -> Finding:
    """Each standby carries an explicit, valid unicast MAC (the guest pairs by MAC)."""
    standbys = lint_input.config.standbys
    if not standbys:
        return Finding(Status.SKIP, "no standby (no virtio-net-pci with failover=on)")
    problems: list[str] = []
    for standby in standbys:
        mac = standby.parsed_mac
        if standby.mac is None:
            problems.append(f"{standby.label}: no MAC (QEMU picks 52:54:00:12:34:5x, which no VF carries)")
        elif mac is None:
            problems.append(f"{standby.label}: mac={standby.mac!r} is not a MAC address")
        elif mac.is_zero or mac.is_multicast:
            problems.append(f"{standby.label}: {mac} is not a unicast MAC")
    return verdict(problems, ", ".join(f"{s.name} {s.parsed_mac}" for s in standbys), HINT)


RULE = LintRule(
    "standby-mac",
    Severity.FAIL,
    "the standby has a unicast MAC",
    "net/core/failover.c pairs the standby and the primary by MAC; QEMU needs none, so it must be set explicitly",
    check,
    sources=(
        Source("qemu", "net/net.c", "qemu_macaddr_default_if_unset(): 52:54:00:12:34:xx"),
        Source("qemu", "hw/net/virtio-net.c", "virtio_net_device_realize(): qemu_macaddr_default_if_unset()"),
        Source("linux", "net/core/failover.c", "failover_get_bymac()"),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[standby-no-mac]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
