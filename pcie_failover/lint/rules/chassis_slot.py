"""`chassis-slot`: every PCIe port has a distinct (chassis, slot)."""

from __future__ import annotations

from collections import defaultdict

from pcie_failover.lint.model import Device, LintInput
from pcie_failover.lint.rules.base import LintRule, verdict
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding

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
    "hw/pci/pcie.c pcie_chassis_add_slot: Can't add chassis slot, error -16",
    check,
)
