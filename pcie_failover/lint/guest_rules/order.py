"""`order`: the standby is created before its primary."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, no_primary, pairs, verdict
from pcie_failover.lint.model import ConfigKind, LintInput
from pcie_failover.model.results import Severity
from pcie_failover.model.rule import Finding, Source

HINT = "put the standby's -device before the primary's"


def check(lint_input: LintInput) -> Finding:
    """Each standby's position comes before its primary's."""
    config = lint_input.config
    found = pairs(config)
    if not found:
        return no_primary()
    problems = [
        f"{primary.label} comes before its standby {standby.label}: QEMU does not hide it, and after a "
        "migration the destination never plugs it back"
        for primary, standby in found
        if primary.order < standby.order
    ]
    passed = "libvirt creates the standby first" if config.kind is ConfigKind.LIBVIRT else "standby before primary"
    return verdict(problems, passed, HINT)


RULE = LintRule(
    "order",
    Severity.FAIL,
    "the standby is created before its primary",
    "qdev-monitor.c: a primary is hidden only if its standby exists already (QEMU 10: not re-plugged after migration)",
    check,
    sources=(
        Source("qemu", "hw/net/virtio-net.c", "virtio_net_device_realize(): device_listener_register()"),
        Source("qemu", "hw/core/qdev.c", "qdev_should_hide_device()"),
        Source("qemu", "system/qdev-monitor.c", "qdev_device_add_from_qdict()"),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[primary-first]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
