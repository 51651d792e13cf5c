"""`one-primary`: one primary per standby."""

from __future__ import annotations

from collections import defaultdict

from pcie_failover.lint.guest_rules.base import LintRule, no_primary, pairs, verdict
from pcie_failover.lint.model import Device, LintInput
from pcie_failover.model.results import Severity
from pcie_failover.model.rule import Finding, Source


def check(lint_input: LintInput) -> Finding:
    """No standby is named by two primaries."""
    found = pairs(lint_input.config)
    if not found:
        return no_primary()
    by_standby: defaultdict[str, list[Device]] = defaultdict(list)
    for primary, standby in found:
        by_standby[standby.name].append(primary)
    problems = [
        f"Cannot attach more than one primary device to '{standby}': '{ps[0].name}' and '{ps[1].name}'"
        for standby, ps in by_standby.items()
        if len(ps) > 1
    ]
    return verdict(problems, "one primary per standby", "give each primary its own virtio-net-pci,failover=on standby")


RULE = LintRule(
    "one-primary",
    Severity.FAIL,
    "one primary per standby",
    "hw/net/virtio-net.c (6.2+): Cannot attach more than one primary device to '%s': '%s' and '%s'",
    check,
    sources=(
        Source(
            "qemu",
            "hw/net/virtio-net.c",
            'failover_hide_primary_device(): "Cannot attach more than one primary device"',
        ),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[two-primaries]",
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[two-primaries]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[good-two-pairs]",
    ),
)
