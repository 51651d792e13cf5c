"""`vf-link-state`: the VF's administrative link state is auto or enable, never disable."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Status
from pcie_failover.rules.vf_link_state import RULE
from tests.support.factory import admin, admin_list, check_input, outcome


def _state(state: str | None) -> CheckInput:
    return check_input(vf_admin=admin_list(admin(0, link_state=state)))


CASES = [
    pytest.param(check_input(), Status.PASS, "VF link state auto", None, id="auto"),
    pytest.param(_state("enable"), Status.PASS, "VF link state enable", None, id="enable"),
    pytest.param(
        _state("disable"),
        Status.FAIL,
        "VF link state is 'disable': the VF never carries traffic",
        "ip link set dev enp94s0f0np0 vf 0 state auto",
        id="disable",
    ),
    pytest.param(_state(None), Status.UNKNOWN, "VF 0's link state is not reported", None, id="not-reported"),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_vf_link_state(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
