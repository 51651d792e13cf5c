"""`ethernet`: the class code is exactly 0x0200xx, as QEMU compares it."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Status
from pcie_failover.rules.ethernet import RULE
from tests.support.factory import check_input, outcome, unreadable, vf

QEMU_REFUSES = (
    "QEMU refuses it: 'failover primary device is not an Ethernet device'; "
    "only class 0x0200xx functions can be primaries"
)
CASES = [
    pytest.param(check_input(), Status.PASS, "Ethernet controller (class 0x020000)", None, id="ethernet"),
    pytest.param(
        check_input(device=vf(pci_class=0x020001)),
        Status.PASS,
        "Ethernet controller (class 0x020001)",
        None,
        id="ethernet-prog-if",
    ),
    pytest.param(
        check_input(device=vf(pci_class=0x028000)),
        Status.FAIL,
        "class 0x028000 (other network controller) is not Ethernet",
        QEMU_REFUSES,
        id="other-network",
    ),
    pytest.param(
        check_input(device=vf(pci_class=0x020700)),
        Status.FAIL,
        "class 0x020700 (InfiniBand controller) is not Ethernet",
        QEMU_REFUSES,
        id="infiniband",
    ),
    pytest.param(
        check_input(device=vf(pci_class=0x020900)),
        Status.FAIL,
        "class 0x020900 (network controller) is not Ethernet",
        QEMU_REFUSES,
        id="unnamed-network-subclass",
    ),
    pytest.param(
        check_input(device=vf(pci_class=0x010802)),
        Status.FAIL,
        "class 0x010802 (not a network controller) is not Ethernet",
        QEMU_REFUSES,
        id="not-network",
    ),
    pytest.param(
        check_input(device=vf(pci_class=unreadable("x/class", "Input/output error"))),
        Status.UNKNOWN,
        "the class could not be read (x/class: Input/output error)",
        None,
        id="class-unreadable",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_ethernet(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
