"""The guest-side rules, in the order they are reported: an explicit registry."""

from __future__ import annotations

from pcie_failover.lint.guest_rules import (
    acpi_hotplug,
    chassis_slot,
    libvirt_alias,
    libvirt_teaming,
    mac_match,
    machine,
    one_primary,
    order,
    pair_id,
    primary_alone,
    primary_bus,
    primary_ethernet,
    primary_function,
    primary_id,
    slot_zero,
    standby_link,
    standby_mac,
    standby_mac_unique,
    standby_slot,
)
from pcie_failover.lint.guest_rules.base import LintRule
from pcie_failover.lint.model import LintInput
from pcie_failover.model.results import RuleResult

LINT_RULES: tuple[LintRule, ...] = (
    machine.RULE,
    pair_id.RULE,
    primary_id.RULE,
    one_primary.RULE,
    order.RULE,
    primary_bus.RULE,
    primary_function.RULE,
    primary_alone.RULE,
    slot_zero.RULE,
    standby_slot.RULE,
    chassis_slot.RULE,
    primary_ethernet.RULE,
    standby_mac.RULE,
    standby_mac_unique.RULE,
    mac_match.RULE,
    acpi_hotplug.RULE,
    standby_link.RULE,
    libvirt_teaming.RULE,
    libvirt_alias.RULE,
)
LINT_RULES_BY_ID = {rule.rule_id: rule for rule in LINT_RULES}


def run_lint_rules(lint_input: LintInput) -> tuple[RuleResult, ...]:
    """Every guest-side rule over one parsed VM."""
    return tuple(rule.run(lint_input) for rule in LINT_RULES)
