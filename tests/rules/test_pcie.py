"""`pcie`: the device has a PCI Express capability, from config space or `current_link_speed`."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.config_space import PortType
from pcie_failover.model.results import Status
from pcie_failover.rules.pcie import RULE
from tests.support.factory import check_input, config, conventional_config, outcome, unreadable, vf

HINT = "a failover primary must be a PCI Express function: choose a VF of a PCIe SR-IOV NIC"
CASES = [
    pytest.param(check_input(), Status.PASS, "PCI Express endpoint", None, id="endpoint"),
    pytest.param(
        check_input(device=vf(config=config(port_type=PortType.RC_INTEGRATED_ENDPOINT))),
        Status.PASS,
        "PCI Express rc integrated endpoint",
        None,
        id="integrated-endpoint",
    ),
    pytest.param(
        check_input(device=vf(config=config(port_type=0xC))),
        Status.PASS,
        "PCI Express port type 0xc",
        None,
        id="reserved-port-type",
    ),
    pytest.param(
        check_input(device=vf(config=conventional_config(complete=False))),
        Status.PASS,
        "PCI Express (has current_link_speed; config space past 64 bytes needs root)",
        None,
        id="unprivileged",
    ),
    pytest.param(
        check_input(device=vf(config=None)),
        Status.PASS,
        "PCI Express (has current_link_speed; config space past 64 bytes needs root)",
        None,
        id="config-too-short",
    ),
    pytest.param(
        check_input(device=vf(config=unreadable("x/config"))),
        Status.PASS,
        "PCI Express (has current_link_speed; config space past 64 bytes needs root)",
        None,
        id="config-unreadable",
    ),
    pytest.param(
        check_input(device=vf(config=conventional_config(), has_link_speed=False)),
        Status.FAIL,
        "no PCI Express capability: a conventional PCI device",
        HINT,
        id="conventional",
    ),
    pytest.param(
        check_input(device=vf(config=conventional_config(complete=False), has_link_speed=False)),
        Status.FAIL,
        "no PCI Express capability (no current_link_speed attribute)",
        HINT,
        id="conventional-unprivileged",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_pcie(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
