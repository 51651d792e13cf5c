"""`host-slot`: the slot and hotplug driver above the device (informational: it never fails)."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Status
from pcie_failover.rules.host_slot import RULE
from tests.support.factory import check_input, outcome, slot, unreadable

CASES = [
    pytest.param(check_input(), Status.PASS, "slot 4 (pciehp, power on) under 0000:5d:00.0", None, id="pciehp-slot"),
    pytest.param(
        check_input(slot=slot(name="1-1", hotplug_driver="shpchp", power="0")),
        Status.PASS,
        "slot 1-1 (shpchp, power off) under 0000:5d:00.0",
        None,
        id="power-off",
    ),
    pytest.param(
        check_input(slot=slot(hotplug_driver=None, power=None)),
        Status.PASS,
        "slot 4 (no hotplug driver) under 0000:5d:00.0",
        None,
        id="physical-slot",
    ),
    pytest.param(
        check_input(slot=slot(hotplug_driver=unreadable(), power=unreadable())),
        Status.PASS,
        "slot 4 (no hotplug driver) under 0000:5d:00.0",
        None,
        id="slot-facts-unreadable",
    ),
    pytest.param(
        check_input(slot=slot(power="2"), ports=()),
        Status.PASS,
        "slot 4 (pciehp)",
        None,
        id="no-port-odd-power",
    ),
    pytest.param(
        check_input(slot=None),
        Status.SKIP,
        "no slot under 0000:5d:00.0 (informational: the VF itself never leaves the host)",
        None,
        id="no-slot",
    ),
    pytest.param(
        check_input(slot=None, ports=unreadable()),
        Status.SKIP,
        "no slot (informational: the VF itself never leaves the host)",
        None,
        id="no-slot-ports-unreadable",
    ),
    pytest.param(
        check_input(slot=unreadable("bus/pci/slots/4/address")),
        Status.UNKNOWN,
        "the slots could not be read (bus/pci/slots/4/address: Permission denied)",
        None,
        id="slots-unreadable",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_host_slot(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
