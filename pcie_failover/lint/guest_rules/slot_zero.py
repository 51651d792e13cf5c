"""`slot-zero`: a primary or standby below a root or downstream port sits at device 0, the only one a guest scans."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, bus_of, verdict
from pcie_failover.lint.model import BusKind, Device, LintInput, VmConfig
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = "use addr=0x0 on the port (libvirt: slot='0x0'); a port has one slot, so give each device its own port"


def _problem(config: VmConfig, device: Device) -> str | None:
    bus = config.buses.get(bus_of(config, device))
    if bus is None or bus.kind is not BusKind.PCIE_PORT or not device.slot:
        return None
    return (
        f"{device.label}: device {device.slot:#x} of port {bus.name}: a Linux guest scans device 0 only below a "
        f"root or downstream port, so it never sees it (QEMU only warns: PCI: slot {device.slot} is not valid for "
        f"{device.driver}, parent device only allows plugging into slot 0.)"
    )


def check(lint_input: LintInput) -> Finding:
    """Every primary and standby on a port is at device (slot) 0."""
    config = lint_input.config
    devices = [*config.standbys, *config.primaries]
    if not devices:
        return Finding(Status.SKIP, "no failover device")
    problems = [p for p in (_problem(config, d) for d in devices) if p]
    return verdict(problems, "every failover device on a port is at device 0", HINT)


RULE = LintRule(
    "slot-zero",
    Severity.FAIL,
    "a primary or standby below a root or downstream port is at device 0",
    "drivers/pci/probe.c pci_scan_slot(): only_one_child() scans device 0 only below a PCIe downstream port; "
    "hw/pci/pci.c pci_qdev_realize() merely warns: parent device only allows plugging into slot 0",
    check,
    sources=(
        Source("linux", "drivers/pci/probe.c", "pci_scan_slot(), only_one_child()"),
        Source("qemu", "hw/pci/pci.c", "pci_qdev_realize(): pcie_has_upstream_port() warning"),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[primary-slot3]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[standby-slot2]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
