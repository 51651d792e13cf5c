"""`chassis-slot`: every PCIe port has a distinct (chassis, slot)."""

from __future__ import annotations

from collections import defaultdict

from pcie_failover.lint.guest_rules.base import LintRule, verdict
from pcie_failover.lint.model import Device, LintInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = "give each pcie-root-port / xio3130-downstream its own chassis=N,slot=N (QEMU's default is 0/0 for all)"


def check(lint_input: LintInput) -> Finding:
    """(chassis, slot) pairs are unique across root and downstream ports."""
    ports = [d for d in lint_input.config.devices if d.chassis is not None or d.port_slot is not None]
    if not ports:
        return Finding(Status.SKIP, "no PCIe root or downstream port is declared")
    taken: defaultdict[tuple[int, int], list[Device]] = defaultdict(list)
    for port in ports:
        taken[(port.chassis or 0, port.port_slot or 0)].append(port)
    problems = [
        f"{', '.join(p.name for p in same)} share chassis {chassis} slot {slot} (Can't add chassis slot, error -16)"
        for (chassis, slot), same in taken.items()
        if len(same) > 1
    ]
    return verdict(problems, f"{len(ports)} port{'s' if len(ports) > 1 else ''}, distinct chassis/slot", HINT)


RULE = LintRule(
    "chassis-slot",
    Severity.FAIL,
    "distinct (chassis, slot) across root and downstream ports",
    "hw/pci/pcie_port.c pcie_chassis_add_slot() returns -EBUSY for a (chassis, slot) taken; the root and "
    "downstream ports then refuse: Can't add chassis slot, error -16",
    check,
    sources=(
        Source("qemu", "hw/pci/pcie_port.c", "pcie_chassis_add_slot(): -EBUSY"),
        Source("qemu", "hw/pci-bridge/pcie_root_port.c", 'rp_realize(): "Can\'t add chassis slot, error %d"'),
        Source("qemu", "hw/pci-bridge/xio3130_downstream.c", "xio3130_downstream_realize()"),
        Source("qemu", "hw/pci/pcie_port.c", 'pcie_slot_props[]: "chassis", "slot" default 0'),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[duplicate-chassis]",
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[default-chassis]",
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[switch-chassis]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[good-no-chassis-one-port]",
    ),
)
