"""`machine`: a PCI Express machine (q35, or aarch64 `virt`): a primary must sit on a PCIe bus."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule
from pcie_failover.lint.model import LintInput, machine_is_pcie
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = "use -machine q35 (libvirt: <type machine='q35'>); aarch64: -machine virt"


def check(lint_input: LintInput) -> Finding:
    """Judge the machine type; a fragment without one passes when it names pcie.0 (only PCIe machines have it)."""
    config = lint_input.config
    pcie = machine_is_pcie(config.machine)
    if pcie:
        return Finding(Status.PASS, f"machine {config.machine} has PCI Express")
    if pcie is False:
        default = f" ({config.machine_default})" if config.machine_default else ""
        return Finding(Status.FAIL, f"machine {config.machine}{default} has no PCI Express bus", HINT)
    if config.machine_default:  # a whole command line for a target without a default machine
        return Finding(Status.FAIL, config.machine_default, HINT)
    if any(d.bus == "pcie.0" for d in config.devices):
        return Finding(Status.PASS, "no machine given; the devices name bus pcie.0, which only q35 and virt have")
    return Finding(Status.SKIP, "no machine given (a fragment): it needs a q35 or virt machine", HINT)


RULE = LintRule(
    "machine",
    Severity.FAIL,
    "a PCI Express machine: q35, or aarch64 virt",
    "hw/pci/pci.c: failover primary device must be on PCIExpress bus",
    check,
    sources=(
        Source("qemu", "hw/pci/pci.c", 'pci_qdev_realize(): "failover primary device must be on PCIExpress bus"'),
        Source("qemu", "hw/pci-host/q35.c", 'q35_host_realize(): root bus "pcie.0", TYPE_PCIE_BUS'),
        Source("qemu", "hw/pci-host/gpex.c", 'gpex_host_realize(): root bus "pcie.0", TYPE_PCIE_BUS'),
        Source("libvirt", "src/qemu/qemu_domain.c", "qemuDomainDefMachinePostParse(): QEMU's default machine"),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[machine-pc]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
