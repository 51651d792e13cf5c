"""`standby-slot`: the standby and its primary are not in the same slot."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, bus_of, no_primary, pairs, verdict
from pcie_failover.lint.model import BusKind, LintInput
from pcie_failover.model.results import Severity
from pcie_failover.model.rule import Finding, Source

HINT = "put the standby and the primary on two different pcie-root-ports"


def check(lint_input: LintInput) -> Finding:
    """Same port, or same explicit slot of one bus, is the same slot."""
    config = lint_input.config
    found = pairs(config)
    if not found:
        return no_primary()
    problems: list[str] = []
    for primary, standby in found:
        if standby.bus is None and primary.bus is None:
            continue  # QEMU (or libvirt) places each in a free slot
        name = bus_of(config, primary)
        if name != bus_of(config, standby):
            continue
        bus = config.buses.get(name)
        port = bus is not None and bus.kind is BusKind.PCIE_PORT
        if port or (primary.slot is not None and primary.slot == standby.slot):
            problems.append(f"{primary.label} and its standby {standby.label} share slot {primary.slot or 0} of {name}")
    return verdict(problems, "standby and primary in different slots", HINT)


RULE = LintRule(
    "standby-slot",
    Severity.FAIL,
    "standby and primary are not in the same slot",
    "hw/pci/pci.c: the primary must be in its own PCI slot; a taken slot refuses the hidden primary at plug time",
    check,
    sources=(
        Source(
            "qemu",
            "hw/pci/pci.c",
            'do_pci_register_device(): "PCI: slot %d function %d not available for %s, in use by"',
        ),
        Source("qemu", "hw/pci/pci.c", 'pci_qdev_realize(): "failover: primary device must be in its own PCI slot"'),
        Source(
            "qemu", "hw/pci/pcie.c", "pcie_cap_slot_write_config(): slot power-off unplugs every device of the port"
        ),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[shared-slot]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
