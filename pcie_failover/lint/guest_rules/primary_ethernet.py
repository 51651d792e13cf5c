"""`primary-ethernet`: an emulated primary is an Ethernet controller (class 0x0200)."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, no_primary
from pcie_failover.lint.model import LintInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

# QEMU's emulated NICs (class 0x0200) and common devices of other classes.
ETHERNET = frozenset({"e1000", "e1000e", "igb", "rtl8139", "ne2k_pci", "pcnet", "vmxnet3", "i82559er", "tulip"})
ETHERNET_PREFIXES = ("virtio-net-pci", "i8255")
OTHER_CLASS = {
    "virtio-rng-pci": "0x00ff",
    "virtio-blk-pci": "0x0100",
    "virtio-scsi-pci": "0x0100",
    "nvme": "0x0108",
    "virtio-balloon-pci": "0x00ff",
    "virtio-serial-pci": "0x0780",
    "qemu-xhci": "0x0c03",
    "pci-testdev": "0x00ff",
    "virtio-gpu-pci": "0x0380",
    "ivshmem-plain": "0x0500",
}
HINT = "the primary must be an Ethernet function: a VF on vfio-pci (or, to test, an emulated e1000e)"


def check(lint_input: LintInput) -> Finding:
    """vfio-pci is judged by the host check's `ethernet` rule; emulated models by their class."""
    primaries = lint_input.config.primaries
    if not primaries:
        return no_primary()
    problems: list[str] = []
    unknown: list[str] = []
    for primary in primaries:
        driver = primary.driver
        if driver == "vfio-pci" or driver in ETHERNET or driver.startswith(ETHERNET_PREFIXES):
            continue
        if driver in OTHER_CLASS:
            problems.append(
                f"{primary.label}: class {OTHER_CLASS[driver]} (failover primary device is not an Ethernet device)"
            )
        else:
            unknown.append(f"{primary.label}: {driver} is not a known Ethernet model (QEMU wants class 0x0200)")
    if problems:
        return Finding(Status.FAIL, "; ".join(problems), HINT)
    if unknown:
        return Finding(Status.WARN, "; ".join(unknown), HINT)
    hosts = any(p.driver == "vfio-pci" for p in primaries)
    return Finding(Status.PASS, "Ethernet" + (" (a vfio-pci VF: the host check's ethernet rule)" if hosts else ""))


RULE = LintRule(
    "primary-ethernet",
    Severity.FAIL,
    "the primary is an Ethernet device (class 0x0200)",
    "hw/pci/pci.c: failover primary device is not an Ethernet device",
    check,
    sources=(
        Source("qemu", "hw/pci/pci.c", 'pci_qdev_realize(): "failover primary device is not an Ethernet device"'),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[not-ethernet]",
        "tests/test_lint_corpus.py::test_qemus_failover_warnings_are_quoted[not-ethernet]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
