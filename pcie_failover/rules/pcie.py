"""`pcie`: the device has a PCI Express capability."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.config_space import ConfigSpace, PortType
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import target

_HINT = "a failover primary must be a PCI Express function: choose a VF of a PCIe SR-IOV NIC"


def _kind(port_type: int) -> str:
    try:
        return PortType(port_type).name.lower().replace("_", " ")
    except ValueError:
        return f"port type {port_type:#x}"


def check(check_input: CheckInput) -> Finding:
    """From config space when it is readable in full; else from `current_link_speed`."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    config = device.config
    if isinstance(config, ConfigSpace) and config.pcie is not None:
        return Finding(Status.PASS, f"PCI Express {_kind(config.pcie.port_type)}")
    if isinstance(config, ConfigSpace) and config.caps_complete:
        return Finding(Status.FAIL, "no PCI Express capability: a conventional PCI device", _HINT)
    if device.has_link_speed:
        return Finding(Status.PASS, "PCI Express (has current_link_speed; config space past 64 bytes needs root)")
    return Finding(Status.FAIL, "no PCI Express capability (no current_link_speed attribute)", _HINT)


RULE = Rule(
    "pcie",
    Severity.FAIL,
    "the device has a PCI Express capability",
    "Linux: current_link_speed exists exactly on PCIe functions; capability id 0x10 in config space",
    check,
    sources=(
        Source(
            "linux", "drivers/pci/pci-sysfs.c", "pcie_dev_attrs_are_visible(): current_link_speed only if pci_is_pcie()"
        ),
        Source("linux", "drivers/pci/probe.c", "set_pcie_port_type(): pci_find_capability(PCI_CAP_ID_EXP)"),
    ),
    proofs=(
        "tests/test_captures.py::test_shared_groups_name_their_blockers",
        "tests/test_captures.py::test_every_device_of_every_capture[shared-groups]",
        "tests/test_unprivileged.py::test_nobody_gets_the_same_statuses",
        "tests/test_rules.py::test_rule_outcome[pcie/conventional]",
        "tests/test_rules.py::test_rule_outcome[pcie/unprivileged]",
    ),
)
