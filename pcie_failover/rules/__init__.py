"""The host rules, in the order they are reported: an explicit registry."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import RuleResult
from pcie_failover.model.rule import Rule
from pcie_failover.rules import (
    address,
    driver,
    ethernet,
    host_slot,
    iommu,
    iommu_group,
    pcie,
    pf_link,
    reset,
    sriov_vf,
    standby_uplink,
    vf_link_state,
    vf_mac,
    vf_vlan,
)

HOST_RULES: tuple[Rule[CheckInput], ...] = (
    address.RULE,
    pcie.RULE,
    ethernet.RULE,
    sriov_vf.RULE,
    driver.RULE,
    iommu.RULE,
    iommu_group.RULE,
    reset.RULE,
    pf_link.RULE,
    vf_mac.RULE,
    vf_vlan.RULE,
    vf_link_state.RULE,
    standby_uplink.RULE,
    host_slot.RULE,
)
RULES_BY_ID = {rule.rule_id: rule for rule in HOST_RULES}


def run_host_rules(check_input: CheckInput) -> tuple[RuleResult, ...]:
    """Every host rule over one device's input."""
    return tuple(rule.run(check_input) for rule in HOST_RULES)
