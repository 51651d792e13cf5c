"""`ethernet`: the class code is exactly Ethernet controller (0x0200xx)."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import target, unknown

ETHERNET = 0x0200
_NAMES = {
    0x0201: "Token Ring controller",
    0x0202: "FDDI controller",
    0x0203: "ATM controller",
    0x0204: "ISDN controller",
    0x0205: "WorldFip controller",
    0x0206: "PICMG controller",
    0x0207: "InfiniBand controller",
    0x0208: "Fabric controller",
    0x0280: "other network controller",
}


def check(check_input: CheckInput) -> Finding:
    """QEMU compares the config class word with 0x0200 exactly."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    if isinstance(device.pci_class, Unreadable):
        return unknown("the class", device.pci_class)
    code = device.pci_class >> 8
    if code == ETHERNET:
        return Finding(Status.PASS, f"Ethernet controller (class {device.pci_class:#08x})")
    name = _NAMES.get(code, "network controller" if code >> 8 == 0x02 else "not a network controller")
    return Finding(
        Status.FAIL,
        f"class {device.pci_class:#08x} ({name}) is not Ethernet",
        "QEMU refuses it: 'failover primary device is not an Ethernet device'; "
        "only class 0x0200xx functions can be primaries",
    )


RULE = Rule(
    "ethernet",
    Severity.FAIL,
    "the device is an Ethernet controller (class 0x0200xx)",
    "QEMU hw/pci/pci.c: 'failover primary device is not an Ethernet device' (0x0280, 0x0207 fail)",
    check,
    sources=(Source("qemu", "hw/pci/pci.c", "pci_qdev_realize(): class != PCI_CLASS_NETWORK_ETHERNET"),),
    proofs=(
        "tests/test_captures.py::test_every_device_of_every_capture[vtd-acpi]",
        "tests/test_rules.py::test_rule_outcome[ethernet/ethernet]",
        "tests/test_rules.py::test_rule_outcome[ethernet/other-network]",
        "tests/test_rules.py::test_rule_outcome[ethernet/infiniband]",
    ),
)
