"""Every outcome of every host rule, on hand-made hosts, against exact JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host
from pcie_failover.rules import RULES_BY_ID
from tests.scenarios import SCENARIOS, Scenario
from tests.support.cli import Run
from tests.support.golden import compare_entry


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[f"{s.rule}/{s.name}" for s in SCENARIOS])
def test_rule_outcome(scenario: Scenario, cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    root = host_root(scenario.host)
    run = cli("--sysfs-root", str(root), *scenario.args, "--format", "json")
    document = run.json
    (check,) = [c for c in document["checks"] if c["id"] == scenario.rule]
    outcome = {"exit": run.code, "verdict": document["verdict"], "check": check}
    compare_entry("rule_outcomes", f"{scenario.rule}/{scenario.name}", outcome)


def test_every_rule_has_a_passing_and_a_non_passing_scenario() -> None:
    by_rule: dict[str, set[str]] = {}
    for scenario in SCENARIOS:
        by_rule.setdefault(scenario.rule, set()).add(scenario.name)
    assert set(by_rule) == set(RULES_BY_ID)
    assert all(len(names) >= 2 for names in by_rule.values())
