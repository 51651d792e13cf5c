"""`primary-bus`: the primary sits on a PCI Express port that can hotplug (never the root bus)."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, bus_of, no_primary, verdict
from pcie_failover.lint.model import BusKind, ConfigKind, Device, LintInput, VmConfig, machine_is_pcie
from pcie_failover.model.results import Severity
from pcie_failover.model.rule import Finding, Source

HINT = (
    "put the primary alone at addr=0x0 of its own pcie-root-port (or xio3130-downstream port) with hotplug on:\n"
    "-device pcie-root-port,id=rp1,bus=pcie.0,chassis=N,slot=N ... bus=rp1,addr=0x0"
)


def _problem(config: VmConfig, primary: Device) -> str | None:
    if config.kind is ConfigKind.LIBVIRT and primary.bus is None and machine_is_pcie(config.machine) is not False:
        return None  # libvirt gives it a pcie-root-port of its own
    name = bus_of(config, primary)
    bus = config.buses.get(name)
    if bus is None:
        return f"{primary.label}: bus {name} does not exist (QEMU: Bus '{name}' not found)"
    if bus.kind is BusKind.PCIE_ROOT:
        return (
            f"{primary.label}: on the root bus {name}, which cannot hotplug (Bus '{name}' does not support hotplugging)"
        )
    if bus.kind in (BusKind.PCI_ROOT, BusKind.PCI_BRIDGE):
        return f"{primary.label}: {name} is conventional PCI (failover primary device must be on PCIExpress bus)"
    if bus.kind is BusKind.PCIE_INTERNAL:
        return f"{primary.label}: {name} is a switch's (or expander's) internal bus: no slot the guest enumerates"
    if not bus.hotplug:
        return f"{primary.label}: {name} has hotplug=off (Bus '{name}' does not support hotplugging)"
    return None


def check(lint_input: LintInput) -> Finding:
    """Every primary is on a hotplug-capable PCIe port."""
    config = lint_input.config
    if not config.primaries:
        return no_primary()
    problems = [p for p in (_problem(config, primary) for primary in config.primaries) if p]
    placed = ", ".join(f"{p.name} on {p.bus or 'a libvirt-added pcie-root-port'}" for p in config.primaries)
    return verdict(problems, f"{placed} (PCIe, hotplug)", HINT)


RULE = LintRule(
    "primary-bus",
    Severity.FAIL,
    "the primary is on a PCIe root or downstream port with hotplug on",
    "hw/pci/pci.c: must be on PCIExpress bus; qdev-monitor.c: Bus '%s' does not support hotplugging",
    check,
    sources=(
        Source("qemu", "hw/pci/pci.c", 'pci_qdev_realize(): "failover primary device must be on PCIExpress bus"'),
        Source(
            "qemu", "system/qdev-monitor.c", "qdev_device_add_from_qdict(): \"Bus '%s' does not support hotplugging\""
        ),
        Source("qemu", "hw/pci/pcie_port.c", "pcie_slot_is_hotpluggable_bus(): the port's hotplug property"),
    ),
    proofs=(
        "tests/lab/test_lint_oracle.py::test_qemu_agrees_with_the_recorded_outcome[pcie0]",
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[pcie0]",
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[hotplug-off]",
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[missing-bus]",
        "tests/test_lint_corpus.py::test_a_refusal_is_explained_in_qemus_words[switch-hotplug-off]",
        "tests/test_lint_corpus.py::test_qemus_failover_warnings_are_quoted[pcie-pci-bridge]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[upstream-bus]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[good-switch]",
    ),
)
