"""The rule ledger (issue 12): docs/rules.md is `rules --format markdown`; every rule has sources and real proofs."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pcie_failover.ledger.render import REGENERATE
from pcie_failover.lint.guest_rules import LINT_RULES_BY_ID
from pcie_failover.model.rule import Rule
from pcie_failover.rules import RULES_BY_ID
from tests.support.cli import Run
from tests.support.golden import GOLDEN

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "rules.md"
ALL_RULES: list[Rule[Any]] = [*RULES_BY_ID.values(), *LINT_RULES_BY_ID.values()]
PROOF = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)(?:\[(.+)\])?")
PROJECTS = {"linux", "qemu", "libvirt", "iproute2"}


def test_docs_rules_md_is_the_generated_ledger(cli: Callable[..., Run]) -> None:
    run = cli("rules", "--format", "markdown")
    assert run.code == 0
    assert DOC.read_text() == run.out, f"docs/rules.md is not the current ledger: regenerate it with `{REGENERATE}`"


def test_every_rule_has_a_source_and_a_proof() -> None:
    assert [r.rule_id for r in ALL_RULES if not r.sources] == [], "a rule with no upstream source is a bug"
    assert [r.rule_id for r in ALL_RULES if not r.proofs] == [], "a rule no test proves is a bug"
    bad = [(r.rule_id, str(s)) for r in ALL_RULES for s in r.sources if s.project not in PROJECTS or not s.symbol]
    assert bad == []
    assert [(r.rule_id, p) for r in ALL_RULES for p in r.proofs if not PROOF.fullmatch(p)] == []


def _data_files(tree: ast.Module, test_file: Path) -> list[Path]:
    """The goldens a test file compares with (`compare_entry("name", ...)`) and the JSON files it names."""
    found: list[Path] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "compare_entry"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(GOLDEN / f"{node.args[0].value}.json")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(".json"):
            found += sorted(test_file.parent.rglob(node.value))
    return [path for path in found if path.is_file()]


def _proof_problem(proof: str) -> str | None:
    """Why `proof` names no existing test, or None."""
    match = PROOF.fullmatch(proof)
    if match is None:
        return "not a pytest node id tests/...py::test_name[param]"
    path, name, param = REPO / match[1], match[2], match[3]
    if not path.is_file():
        return f"no file {match[1]}"
    source = path.read_text()
    tree = ast.parse(source)
    if name not in {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}:
        return f"{match[1]} defines no {name}()"
    if param is None or param in source:
        return None
    if any(json.dumps(param) in data.read_text() for data in _data_files(tree, path)):
        return None
    return f"parameter id {param!r} is neither in {match[1]} nor in a golden it compares with"


def test_every_proof_names_an_existing_test() -> None:
    proofs = sorted({p for rule in ALL_RULES for p in rule.proofs})
    assert len(proofs) > len(ALL_RULES)
    assert {p: why for p in proofs if (why := _proof_problem(p))} == {}


def test_a_proof_that_names_nothing_is_caught() -> None:
    assert _proof_problem("tests/test_rules.py::test_rule_outcome[address/absent]") is None
    assert _proof_problem("tests/test_lint_corpus.py::test_lint_agrees_with_qemu[pcie0]") is None  # outcomes.json
    assert _proof_problem("tests/test_rules.py::test_rule_outcome[address/nowhere]") is not None
    assert (
        _proof_problem("tests/test_rules.py::test_no_such_test") == "tests/test_rules.py defines no test_no_such_test()"
    )
    assert _proof_problem("tests/test_nothing.py::test_x") == "no file tests/test_nothing.py"
    assert _proof_problem("test_rules.py::test_rule_outcome") is not None


def test_json_lists_every_rule_of_both_registries(cli: Callable[..., Run]) -> None:
    run = cli("rules", "--format", "json")
    assert run.code == 0
    document = run.json  # validated against the shipped schema ($defs/rules)
    assert (document["command"], document["input"], document["sysfs_root"]) == ("rules", {"kind": "all"}, None)
    kinds = {rule["id"]: rule["kind"] for rule in document["rules"]}
    assert kinds == {**dict.fromkeys(RULES_BY_ID, "host"), **dict.fromkeys(LINT_RULES_BY_ID, "guest")}
    (vf_mac,) = [rule for rule in document["rules"] if rule["id"] == "vf-mac"]
    assert vf_mac["sources"][0] == {
        "project": "linux",
        "path": "net/core/failover.c",
        "symbol": "failover_slave_register()",
    }
    assert vf_mac["proofs"] == list(RULES_BY_ID["vf-mac"].proofs)


@pytest.mark.parametrize(("kind", "ids"), [("host", list(RULES_BY_ID)), ("guest", list(LINT_RULES_BY_ID))])
def test_kind_selects_one_registry(cli: Callable[..., Run], kind: str, ids: list[str]) -> None:
    document = cli("rules", "--kind", kind, "--format", "json").json
    assert [rule["id"] for rule in document["rules"]] == ids
    table = cli("rules", "--kind", kind)
    assert table.code == 0
    assert [line.split()[0] for line in table.out.splitlines()[2:] if not line.startswith(" ")] == ids


def test_markdown_links_each_rule_to_its_section(cli: Callable[..., Run]) -> None:
    page = cli("rules", "--format", "markdown").out
    for rule in ALL_RULES:
        kind = "host" if rule.rule_id in RULES_BY_ID else "guest"
        assert f"(#{kind}-{rule.rule_id})" in page
        assert f'<a id="{kind}-{rule.rule_id}"></a>' in page
    assert "\\<teaming\\> passes libvirt's validation" in page  # no raw HTML from a title


@pytest.mark.parametrize("args", [("--kind", "vm"), ("--format", "yaml"), ("--bogus",)])
def test_usage_errors_exit_2(cli: Callable[..., Run], args: tuple[str, ...]) -> None:
    run = cli("rules", *args)
    assert (run.code, run.out) == (2, "")
    assert run.err.startswith("pcie-failover rules: ")
    as_json = cli("rules", "--format", "json", *args)
    assert (as_json.code, as_json.json["error"]["kind"]) == (2, "usage")
