"""`acpi-hotplug`: QEMU 6.1's ACPI PCI hotplug default on q35 broke waiting for the primary's unplug."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule
from pcie_failover.lint.model import LintInput, machine_version
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

GLOBAL = "ich9-lpc.acpi-pci-hotplug-with-bridge-support"
HINT = "-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off (or QEMU 6.2+)"


def check(lint_input: LintInput) -> Finding:
    """Warn for QEMU 6.1.x with pc-q35-6.1+ unless ACPI bridge hotplug is off."""
    config = lint_input.config
    machine = (config.machine or "").lower()
    if not machine:
        return Finding(Status.SKIP, "no machine given")
    if machine != "q35" and not machine.startswith("pc-q35-"):
        return Finding(Status.SKIP, "not a q35 machine")
    if config.globals.get(GLOBAL, "").lower() in ("off", "false", "no"):
        return Finding(Status.PASS, "ACPI PCI hotplug is off (native PCIe hotplug)")
    version = lint_input.qemu_version
    machine_v = machine_version(machine) or (None if version is None else version[:2])
    if machine_v is not None and machine_v < (6, 1):
        return Finding(Status.PASS, f"machine {machine} predates ACPI hotplug on q35 (6.1)")
    if version is not None:
        if version[:2] == (6, 1):
            return Finding(Status.WARN, "QEMU 6.1 with ACPI PCI hotplug: migration does not wait for the unplug", HINT)
        return Finding(Status.PASS, f"QEMU {'.'.join(map(str, version))} waits for the unplug (fixed in 6.2)")
    if machine_v is not None and machine_v > (6, 1):
        return Finding(Status.PASS, f"machine {machine} needs QEMU {machine_v[0]}.{machine_v[1]}+ (fixed in 6.2)")
    if machine_v == (6, 1):
        return Finding(
            Status.WARN,
            f"machine {machine} is QEMU 6.1's newest: with QEMU 6.1 migration does not wait for the unplug",
            f"{HINT}; --qemu-version says which QEMU runs it",
        )
    return Finding(Status.UNKNOWN, "QEMU version not known (QEMU 6.1 has the ACPI hotplug pitfall)", "--qemu-version")


RULE = LintRule(
    "acpi-hotplug",
    Severity.WARN,
    "not QEMU 6.1's ACPI hotplug on q35 (migration did not wait for the unplug)",
    "QEMU 6.1 made ACPI PCI hotplug the q35 default (ICH9-LPC acpi-pci-hotplug-with-bridge-support; "
    "pc_compat_6_0 keeps it off for older machines) and migration then did not wait for the unplug; "
    "hw/acpi/pcihp.c fixed that in 6.2",
    check,
    sources=(
        Source("qemu", "hw/i386/pc.c", "pc_compat_6_0[]: ICH9-LPC acpi-pci-hotplug-with-bridge-support=off"),
        Source("qemu", "hw/acpi/pcihp.c", "acpi_pcihp_device_unplug_request_cb(): pending_deleted_event (6.2)"),
        Source("qemu", "hw/acpi/pcihp.c", "acpi_pcihp_eject_slot(): partially_hotplugged (6.2)"),
    ),
    proofs=(
        "tests/test_lint_rules.py::test_acpi_hotplug_pitfall",
        "tests/test_lint_parse.py::test_libvirt_qemu_commandline_globals",
        "tests/test_lint_parse.py::test_a_libvirt_log_gives_its_last_command_and_qemu_version",
    ),
)
