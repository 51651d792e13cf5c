"""`vf-link-state`: the VF's administrative link state is not `disable`."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.vf_common import vf_entry


def check(check_input: CheckInput) -> Finding:
    """`disable` fails: the VF never carries traffic."""
    entry = vf_entry(check_input)
    if isinstance(entry, Finding):
        return entry
    state = entry.admin.link_state
    if state is None:
        return Finding(Status.UNKNOWN, f"VF {entry.index}'s link state is not reported")
    if state == "disable":
        return Finding(
            Status.FAIL,
            "VF link state is 'disable': the VF never carries traffic",
            f"ip link set dev {shlex.quote(entry.pf_netdev)} vf {entry.index} state auto",
        )
    return Finding(Status.PASS, f"VF link state {state}")


RULE = Rule(
    "vf-link-state",
    Severity.FAIL,
    "the VF's link state is auto or enable",
    "rtnetlink IFLA_VF_LINK_STATE: 0 auto, 1 enable, 2 disable",
    check,
    sources=(Source("linux", "net/core/rtnetlink.c", "do_setvfinfo() IFLA_VF_LINK_STATE"),),
    proofs=(
        "tests/lab/test_live_cli.py::test_checks_follow_iproute2_and_driver_changes",
        "tests/test_captures.py::test_every_device_of_every_capture[vf-admin]",
        "tests/test_rules.py::test_rule_outcome[vf-link-state/disable]",
        "tests/test_rules.py::test_rule_outcome[vf-link-state/auto]",
    ),
)
