"""`vf-vlan`: a VLAN set on the VF through the PF must be reachable by the standby too."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.vf_common import vf_entry


def check(check_input: CheckInput) -> Finding:
    """Warn on a VF VLAN: while the VF is unplugged, traffic takes the standby's path."""
    entry = vf_entry(check_input)
    if isinstance(entry, Finding):
        return entry
    vlan = entry.admin.vlan
    if vlan == 0:
        return Finding(Status.PASS, "no VF VLAN")
    return Finding(
        Status.WARN,
        f"VF VLAN {vlan} (qos {entry.admin.qos}) is set on the PF: the standby must reach VLAN {vlan} too",
        f"put the standby's backend on VLAN {vlan}, or clear it: "
        f"ip link set dev {shlex.quote(entry.pf_netdev)} vf {entry.index} vlan 0",
    )


RULE = Rule(
    "vf-vlan",
    Severity.WARN,
    "no VF VLAN, or the standby must share it",
    "rtnetlink IFLA_VF_VLAN / IFLA_VF_VLAN_LIST: the PF tags the VF's traffic",
    check,
    sources=(Source("linux", "net/core/rtnetlink.c", "do_setvfinfo() IFLA_VF_VLAN_LIST"),),
    proofs=(
        "tests/lab/test_live_cli.py::test_checks_follow_iproute2_and_driver_changes",
        "tests/test_captures.py::test_vf_admin_settings_made_with_iproute2",
        "tests/test_rules.py::test_rule_outcome[vf-vlan/vlan]",
    ),
)
