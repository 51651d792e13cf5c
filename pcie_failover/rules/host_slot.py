"""`host-slot`: the physical slot and hotplug driver above the device (informational)."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import target, unknown


def check(check_input: CheckInput) -> Finding:
    """Found through the device's upstream port (VFs have non-zero device numbers)."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    slot = check_input.slot
    ports = check_input.ports
    above = f" under {ports[0].address}" if isinstance(ports, tuple) and ports else ""
    if isinstance(slot, Unreadable):
        return unknown("the slots", slot)
    if slot is None:
        return Finding(Status.SKIP, f"no slot{above} (informational: the VF itself never leaves the host)")
    driver = slot.hotplug_driver if isinstance(slot.hotplug_driver, str) else "no hotplug driver"
    power = {"1": ", power on", "0": ", power off"}.get(slot.power if isinstance(slot.power, str) else "", "")
    return Finding(Status.PASS, f"slot {slot.name} ({driver}{power}){above}")


RULE = Rule(
    "host-slot",
    Severity.INFO,
    "the host slot and hotplug driver above the device",
    "Linux drivers/pci/slot.c: bus/pci/slots/<name>/address is DDDD:BB[:DD]; `module` names pciehp/acpiphp/shpchp",
    check,
    sources=(
        Source("linux", "drivers/pci/slot.c", "address_read_file()"),
        Source("linux", "drivers/pci/slot.c", "pci_hp_create_module_link()"),
        Source("linux", "drivers/pci/slot.c", "make_slot_name(): N-1, N-2 on duplicates"),
    ),
    proofs=(
        "tests/test_captures.py::test_ready_vf_in_both_hotplug_flavours",
        "tests/test_captures.py::test_port_with_hotplug_off_has_no_slot",
        "tests/test_captures.py::test_shared_groups_name_their_blockers",
        "tests/test_rules.py::test_rule_outcome[host-slot/pciehp-slot]",
    ),
)
