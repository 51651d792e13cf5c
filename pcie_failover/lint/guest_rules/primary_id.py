"""`primary-id`: the primary has an `id` (QEMU refuses it otherwise)."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, no_primary, verdict
from pcie_failover.lint.model import LintInput
from pcie_failover.model.results import Severity
from pcie_failover.model.rule import Finding, Source


def check(lint_input: LintInput) -> Finding:
    """Every device with failover_pair_id has an id."""
    primaries = lint_input.config.primaries
    if not primaries:
        return no_primary()
    missing = [f"{p.label}: Device with failover_pair_id needs to have id" for p in primaries if not p.id]
    return verdict(missing, "every primary has an id", "add id=hostdev0 (any unique id) to the primary")


RULE = LintRule(
    "primary-id",
    Severity.FAIL,
    "the primary has an id",
    "hw/net/virtio-net.c (6.2+): Device with failover_pair_id needs to have id",
    check,
    sources=(
        Source(
            "qemu",
            "hw/net/virtio-net.c",
            'failover_hide_primary_device(): "Device with failover_pair_id needs to have id"',
        ),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[missing-id]",
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[missing-id]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
