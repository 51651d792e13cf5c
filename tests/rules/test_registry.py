"""The host rule registry, the factory's ready VF, and one test file here per rule module."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

import pcie_failover.rules
from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Severity, Status, Verdict, verdict_of
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules import HOST_RULES, RULES_BY_ID, run_host_rules
from tests.support.factory import check_input, outcome, unreadable

HELPERS = {"base", "usage", "vf_common"}  # modules the rules share; vf_common has a test file of its own
# the rules whose first step is rules/base.target(), directly or through vf_common.pf_interface (pf-link); the
# three VF rules reach it through vf_common.vf_entry, whose device-less cases are in test_vf_common
TARGETED = (
    "pcie",
    "ethernet",
    "sriov-vf",
    "driver",
    "iommu",
    "iommu-group",
    "reset",
    "pf-link",
    "host-slot",
)


def test_every_rule_module_is_registered_and_has_its_test_file() -> None:
    modules = {m.name for m in pkgutil.iter_modules(pcie_failover.rules.__path__)} - HELPERS
    registered = {rule.check.__module__.rsplit(".", 1)[1] for rule in HOST_RULES}
    assert registered == modules
    here = Path(__file__).parent
    assert sorted(m for m in modules if not (here / f"test_{m}.py").is_file()) == []


def test_ids_are_unique_and_in_report_order() -> None:
    assert list(RULES_BY_ID) == [rule.rule_id for rule in HOST_RULES]
    assert len(RULES_BY_ID) == len(HOST_RULES) == 14


def test_the_ready_vf_is_ready() -> None:
    results = run_host_rules(check_input())
    assert {r.rule_id: r.status for r in results if r.status is not Status.PASS} == {
        "vf-mac": Status.WARN,  # nothing on the host proves who set the MAC (--mac asserts it)
        "standby-uplink": Status.SKIP,
    }
    assert verdict_of(results) is Verdict.READY
    assert verdict_of(results, strict=True) is Verdict.NOT_READY


def test_a_warn_rule_never_fails() -> None:
    """Rule.run caps a `fail` finding of a warn-severity rule at `warn` (and keeps its message and hint)."""

    def failing(_: CheckInput) -> Finding:
        return Finding(Status.FAIL, "broken", "fix it")

    source = (Source("linux", "x.c", "y()"),)
    for severity, expected in (
        (Severity.WARN, Status.WARN),
        (Severity.INFO, Status.WARN),
        (Severity.FAIL, Status.FAIL),
    ):
        rule = Rule("r", severity, "t", "f", failing, sources=source, proofs=("tests/x.py::test_x",))
        result = rule.run(check_input())
        assert (result.status, result.message, result.hint, result.severity) == (expected, "broken", "fix it", severity)


@pytest.mark.parametrize("rule_id", TARGETED)
def test_a_device_rule_skips_without_a_device_and_is_unknown_when_it_cannot_be_read(rule_id: str) -> None:
    rule = RULES_BY_ID[rule_id]
    assert outcome(rule, check_input(device=None)) == (Status.SKIP, "no device to check", None)
    assert outcome(rule, check_input(device=unreadable("d"))) == (
        Status.UNKNOWN,
        "the device could not be read (d: Permission denied)",
        None,
    )
