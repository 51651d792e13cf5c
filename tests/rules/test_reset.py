"""`reset`: a function-level reset from `reset_method` (5.15+), else `reset` and FLR in Device Capabilities."""

from __future__ import annotations

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Status
from pcie_failover.rules.reset import RULE
from tests.support.factory import check_input, config, outcome, unreadable, vf

OLD_KERNEL = {"reset_methods": None}  # before 5.15: no reset_method attribute
CASES = [
    pytest.param(check_input(), Status.PASS, "function-level reset available (flr)", None, id="flr"),
    pytest.param(
        check_input(device=vf(reset_methods=("pm", "bus"))),
        Status.PASS,
        "function-level reset available (pm bus)",
        None,
        id="pm-and-bus",
    ),
    pytest.param(
        check_input(device=vf(reset_methods=("bus",))),
        Status.WARN,
        "only a bus reset (bus): the kernel offers it only while the device is alone on its bus (or slot), "
        "so no other device is reset, but each reset retrains the link",
        "vfio can reset it; a VF normally offers FLR (check the NIC firmware), which is faster and keeps the link",
        id="bus-only",
    ),
    pytest.param(
        check_input(device=vf(reset_methods=())),
        Status.FAIL,
        "no reset method enabled (reset_method is empty)",
        "enable the kernel's default methods: echo default > /sys/bus/pci/devices/0000:5e:00.2/reset_method",
        id="empty",
    ),
    pytest.param(
        check_input(device=vf(reset_methods=unreadable("x/reset_method"))),
        Status.UNKNOWN,
        "reset_method could not be read (x/reset_method: Permission denied)",
        None,
        id="unreadable",
    ),
    pytest.param(
        check_input(device=vf(**OLD_KERNEL)),
        Status.PASS,
        "function-level reset (FLR in Device Capabilities)",
        None,
        id="old-kernel-flr",
    ),
    pytest.param(
        check_input(device=vf(**OLD_KERNEL, config=config(flr=False))),
        Status.PASS,
        "a reset is available (this kernel does not name its method)",
        None,
        id="old-kernel-no-flr-bit",
    ),
    pytest.param(
        check_input(device=vf(**OLD_KERNEL, config=None)),
        Status.PASS,
        "a reset is available (this kernel does not name its method)",
        None,
        id="old-kernel-config-unprivileged",
    ),
    pytest.param(
        check_input(device=vf(**OLD_KERNEL, has_reset=False)),
        Status.FAIL,
        "no reset method: vfio cannot reset the device between unplug and replug",
        "an SR-IOV VF must support FLR; check the NIC firmware",
        id="none",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_reset(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)
