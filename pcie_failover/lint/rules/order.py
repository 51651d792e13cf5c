"""`order`: the standby is created before its primary."""

from __future__ import annotations

from pcie_failover.lint.model import ConfigKind, LintInput
from pcie_failover.lint.rules.base import LintRule, no_primary, pairs, verdict
from pcie_failover.model.results import Severity
from pcie_failover.rules.base import Finding

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
)
