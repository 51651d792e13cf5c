"""`address`: the input names exactly one PCI device present in sysfs."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import unknown


def _id(value: int | Unreadable) -> str:
    return "????" if isinstance(value, Unreadable) else f"{value:04x}"


def check(check_input: CheckInput) -> Finding:
    """Pass when the device exists; else list the closest present devices."""
    located = check_input.located
    if isinstance(located, Unreadable):
        return unknown(f"the device behind {check_input.query.text!r}", located)
    if located.address is None:
        hint = (
            "closest present devices: " + ", ".join(str(a) for a in located.candidates)
            if located.candidates
            else "`pcie-failover list` shows the network devices of this host"
        )
        return Finding(Status.FAIL, located.problem or "no such device", hint)
    device = check_input.device
    if isinstance(device, Unreadable):
        return unknown(f"{located.address}", device)
    via = f"{located.ifname} is " if located.ifname else ""
    ids = "" if device is None else f" ({_id(device.vendor)}:{_id(device.device)})"
    return Finding(Status.PASS, f"{via}{located.address}{ids}")


RULE = Rule(
    "address",
    Severity.FAIL,
    "the input names one PCI device present in sysfs",
    "Linux: /sys/bus/pci/devices/DDDD:BB:DD.F links each present function (domains may have 5 digits)",
    check,
    sources=(
        Source("linux", "drivers/pci/probe.c", 'pci_setup_device(): dev_set_name() "%04x:%02x:%02x.%d"'),
        Source("linux", "drivers/base/bus.c", "bus_add_device(): the bus/pci/devices/<name> link"),
    ),
    proofs=(
        "tests/test_captures.py::test_every_device_of_every_capture[vtd-acpi]",
        "tests/lab/test_live_cli.py::test_capture_in_the_guest_checks_the_same_on_the_host",
        "tests/test_rules.py::test_rule_outcome[address/absent]",
        "tests/test_rules.py::test_rule_outcome[address/by-interface]",
    ),
)
