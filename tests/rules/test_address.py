"""`address`: the query names one present PCI device."""

from __future__ import annotations

import pytest

from pcie_failover.model.address import DeviceQuery
from pcie_failover.model.check import CheckInput, Located
from pcie_failover.model.results import Status
from pcie_failover.rules.address import RULE
from tests.support.factory import VF, address, check_input, not_found, outcome, unreadable, vf

CASES = [
    pytest.param(check_input(), Status.PASS, "0000:5e:00.2 (15b3:1018)", None, id="present"),
    pytest.param(
        check_input(query=DeviceQuery.parse("enp94s0f0v0"), located=Located(VF, "enp94s0f0v0", None, ())),
        Status.PASS,
        "enp94s0f0v0 is 0000:5e:00.2 (15b3:1018)",
        None,
        id="by-interface",
    ),
    pytest.param(
        check_input(device=vf(vendor=unreadable(), device=unreadable())),
        Status.PASS,
        "0000:5e:00.2 (????:????)",
        None,
        id="ids-unreadable",
    ),
    pytest.param(check_input(device=None), Status.PASS, "0000:5e:00.2", None, id="present-not-read"),
    pytest.param(
        not_found(
            "5e:00.7",
            "no PCI device 0000:5e:00.7 on this host",
            (address("0000:5e:00.5"), address("0000:5e:00.4")),
        ),
        Status.FAIL,
        "no PCI device 0000:5e:00.7 on this host",
        "closest present devices: 0000:5e:00.5, 0000:5e:00.4",
        id="absent",
    ),
    pytest.param(
        not_found("nosuch0", "no network interface 'nosuch0' on this host", ifname="nosuch0"),
        Status.FAIL,
        "no network interface 'nosuch0' on this host",
        "`pcie-failover list` shows the network devices of this host",
        id="no-candidates",
    ),
    pytest.param(
        not_found("5e:00.7", ""),
        Status.FAIL,
        "no such device",
        "`pcie-failover list` shows the network devices of this host",
        id="no-problem-given",
    ),
    pytest.param(
        check_input(located=unreadable("class/net/eth0/device", "Permission denied")),
        Status.UNKNOWN,
        "the device behind '0000:5e:00.2' could not be read (class/net/eth0/device: Permission denied)",
        None,
        id="located-unreadable",
    ),
    pytest.param(
        check_input(device=unreadable("bus/pci/devices/0000:5e:00.2", "the device vanished while it was being read")),
        Status.UNKNOWN,
        "0000:5e:00.2 could not be read (bus/pci/devices/0000:5e:00.2: the device vanished while it was being read)",
        None,
        id="device-unreadable",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_address(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
