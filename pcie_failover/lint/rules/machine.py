"""`machine`: a PCI Express machine (q35, or aarch64 `virt`): a primary must sit on a PCIe bus."""

from __future__ import annotations

from pcie_failover.lint.model import LintInput, machine_is_pcie
from pcie_failover.lint.rules.base import LintRule
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding

HINT = "use -machine q35 (libvirt: <type machine='q35'>); aarch64: -machine virt"


def check(lint_input: LintInput) -> Finding:
    """Judge the machine type; a fragment without one passes when it names pcie.0 (only PCIe machines have it)."""
    config = lint_input.config
    pcie = machine_is_pcie(config.machine)
    if pcie:
        return Finding(Status.PASS, f"machine {config.machine} has PCI Express")
    if pcie is False:
        default = " (the default of a command line without -machine)" if config.complete else ""
        return Finding(Status.FAIL, f"machine {config.machine}{default} has no PCI Express bus", HINT)
    if any(d.bus == "pcie.0" for d in config.devices):
        return Finding(Status.PASS, "no machine given; the devices name bus pcie.0, which only q35 and virt have")
    return Finding(Status.SKIP, "no machine given (a fragment): it needs a q35 or virt machine", HINT)


RULE = LintRule(
    "machine",
    Severity.FAIL,
    "a PCI Express machine: q35, or aarch64 virt",
    "hw/pci/pci.c: failover primary device must be on PCIExpress bus",
    check,
)
