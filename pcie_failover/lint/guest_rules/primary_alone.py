"""`primary-alone`: nothing else sits on the primary's port."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, bus_of, no_primary, verdict
from pcie_failover.lint.model import BusKind, LintInput
from pcie_failover.model.results import Severity
from pcie_failover.model.rule import Finding, Source

HINT = "give the primary a pcie-root-port of its own; move the other devices to theirs"


def check(lint_input: LintInput) -> Finding:
    """A port has one slot: the primary must be its only device."""
    config = lint_input.config
    if not config.primaries:
        return no_primary()
    problems: list[str] = []
    for primary in config.primaries:
        name = bus_of(config, primary)
        bus = config.buses.get(name)
        if bus is None or bus.kind is not BusKind.PCIE_PORT:
            continue  # judged by primary-bus
        others = [d.label for d in config.devices if d is not primary and d.bus == name]
        if others:
            problems.append(f"{primary.label}: port {name} also holds {', '.join(others)}")
    return verdict(problems, "each primary is alone on its port", HINT)


RULE = LintRule(
    "primary-alone",
    Severity.FAIL,
    "the primary is alone on its port",
    "hw/pci/pci.c: a second device at the port's slot 0 is refused ('slot 0 function 0 already occupied'); "
    "one beside it is only warned about and never seen by the guest; and powering the port's slot off "
    "for the unplug (pcie_cap_slot_write_config()) unplugs every device on it",
    check,
    sources=(
        Source("qemu", "hw/pci/pci.c", 'do_pci_register_device(): "PCI: slot %d function 0 already occupied by %s"'),
        Source(
            "qemu", "hw/pci/pcie.c", "pcie_cap_slot_write_config(): slot power-off unplugs every device of the port"
        ),
        Source("qemu", "hw/pci/pci.c", 'pci_qdev_realize(): "parent device only allows plugging into slot 0" warning'),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[port-shared]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[shared-slot]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
