"""`primary-function`: the primary is function 0 and not multifunction."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, no_primary, verdict
from pcie_failover.lint.model import LintInput
from pcie_failover.model.results import Severity
from pcie_failover.model.rule import Finding, Source

HINT = "use addr=0x0 without multifunction=on (libvirt: function='0x0', no multifunction='on')"


def check(lint_input: LintInput) -> Finding:
    """Function 0, multifunction off."""
    primaries = lint_input.config.primaries
    if not primaries:
        return no_primary()
    problems = [
        f"{p.label}: {'function ' + str(p.function) if p.function else 'multifunction=on'} "
        "(failover: primary device must be in its own PCI slot)"
        for p in primaries
        if p.function or p.multifunction
    ]
    return verdict(problems, "function 0, not multifunction", HINT)


RULE = LintRule(
    "primary-function",
    Severity.FAIL,
    "the primary is function 0 and not multifunction",
    "hw/pci/pci.c: failover: primary device must be in its own PCI slot",
    check,
    sources=(
        Source("qemu", "hw/pci/pci.c", 'pci_qdev_realize(): "failover: primary device must be in its own PCI slot"'),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[function1]",
        "tests/test_lint_corpus.py::test_qemus_failover_warnings_are_quoted[function1]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[multifunction]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[json-multifunction]",
    ),
)
