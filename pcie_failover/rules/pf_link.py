"""`pf-link`: the VF's PF interface is up where its driver stops VF traffic while it is down."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import unknown
from pcie_failover.rules.vf_common import pf_interface

# PF drivers whose VFs carry no traffic while the PF is down: each warns "Bring the PF device up
# before attempting to use the VF device" when a VF is configured on a down PF.
_STOPS_VFS = ("igb", "ixgbe")
# PF drivers that keep the port (and so the VFs) running while the PF is down unless the
# `link-down-on-close` private flag is on, which sysfs does not show.
_FLAG_DEPENDENT = ("i40e", "ice")
# PF drivers that take the physical port down with the PF (mlx5e_close(): mlx5e_modify_admin_state(
# mdev, MLX5_PORT_DOWN)): the VFs reach only the other functions of the port, never the wire.
_PORT_DOWN = ("mlx5_core",)


def _down(name: str, driver: str) -> Finding:
    hint = f"ip link set dev {shlex.quote(name)} up"
    if driver in _STOPS_VFS:
        return Finding(Status.FAIL, f"PF {name} is down: {driver} carries no VF traffic until it is up", hint)
    if driver in _PORT_DOWN:
        return Finding(
            Status.FAIL,
            f"PF {name} is down: {driver} takes the physical port down with it, so its VFs reach only the "
            "other functions of the port, not the wire",
            hint,
        )
    if driver in _FLAG_DEPENDENT:
        why = (
            f"{driver} keeps its VFs running while it is down unless its link-down-on-close private flag is on "
            f"(`ethtool --show-priv-flags {shlex.quote(name)}`)"
        )
    else:
        why = f"whether {driver} stops its VFs while it is down is not known here"
    return Finding(Status.WARN, f"PF {name} is down: {why}", hint)


def check(check_input: CheckInput) -> Finding:
    """Admin-down fails for igb/ixgbe and warns for other drivers; up without carrier warns."""
    found = pf_interface(check_input)
    if isinstance(found, Finding):
        return found
    pf, netdev = found
    if isinstance(netdev.flags, Unreadable):
        return unknown(f"{netdev.name}'s flags", netdev.flags)
    if not netdev.admin_up:
        driver = pf.driver if isinstance(pf.driver, str) else "its driver (unknown)"
        return _down(netdev.name, driver)
    if isinstance(netdev.operstate, Unreadable):  # only the no-carrier warning depends on it
        return Finding(Status.PASS, f"PF {netdev.name} is up (its operstate could not be read: {netdev.operstate})")
    operstate = netdev.operstate
    if operstate not in ("up", "unknown"):
        return Finding(
            Status.WARN,
            f"PF {netdev.name} is up but its link is {operstate}",
            "connect the port: until then the VF reaches only other functions of this PF",
        )
    return Finding(Status.PASS, f"PF {netdev.name} is up (operstate {operstate})")


RULE = Rule(
    "pf-link",
    Severity.FAIL,
    "the PF's interface is up",
    "igb and ixgbe stop VF traffic while the PF is down (both warn 'Bring the PF device up before attempting to "
    "use the VF device'; igbvf/ixgbevf: 'PF still in reset state. Is the PF interface up?'); i40e and ice force "
    "the port down on close only with the link-down-on-close private flag; mlx5_core takes the physical port "
    "down on close (mlx5e_close(): MLX5_PORT_DOWN); other drivers are not known",
    check,
    sources=(
        Source("linux", "drivers/net/ethernet/intel/igb/igb_main.c", "igb_ndo_set_vf_mac()"),
        Source("linux", "drivers/net/ethernet/intel/ixgbe/ixgbe_sriov.c", "ixgbe_ndo_set_vf_mac()"),
        Source("linux", "drivers/net/ethernet/intel/igbvf/netdev.c", "igbvf_probe()"),
        Source("linux", "drivers/net/ethernet/intel/i40e/i40e_main.c", "i40e_down()"),
        Source("linux", "drivers/net/ethernet/intel/ice/ice_main.c", "ice_stop()"),
        Source("linux", "drivers/net/ethernet/mellanox/mlx5/core/en_main.c", "mlx5e_close()"),
    ),
    proofs=(
        "tests/test_captures.py::test_every_device_of_every_capture[vtd-acpi]",
        "tests/test_rules.py::test_rule_outcome[pf-link/pf-down-igb]",
        "tests/test_rules.py::test_rule_outcome[pf-link/pf-down]",
        "tests/test_rules.py::test_rule_outcome[pf-link/pf-down-ice]",
        "tests/test_rules.py::test_rule_outcome[pf-link/pf-no-carrier]",
    ),
)
