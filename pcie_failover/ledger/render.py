"""The rule ledger (`pcie-failover rules`) as a table, JSON (schema: `$defs/rules`) or Markdown: pure, ledger -> str."""

from __future__ import annotations

import re
from typing import Any

from tabulate import tabulate

from pcie_failover.model.rule import Ledger, LedgerEntry, RuleKind, Source
from pcie_failover.render.escape import escape
from pcie_failover.render.json_doc import dump, envelope
from pcie_failover.render.layout import PLAIN, Layout, fit_table, fits, key_value_lines, wrap

REGENERATE = ".venv/bin/pcie-failover rules --format markdown > docs/rules.md"
_KIND_TITLE = {RuleKind.HOST: "Host rules (`check`)", RuleKind.GUEST: "Guest rules (`lint`)"}
_REGISTRY = {RuleKind.HOST: "pcie_failover/rules/", RuleKind.GUEST: "pcie_failover/lint/guest_rules/"}


_HEADERS = ["rule", "kind", "claim, fact, upstream source, proving test"]


def render_table(ledger: Ledger, layout: Layout = PLAIN) -> str:
    """Per rule: a headline row (id, kind and severity, claim), then one row per fact, source and proof.

    Narrower than that (layout.width): the last column wrapped narrower, else one block per rule.
    """
    rows: list[list[str]] = []
    for entry in ledger.entries:
        rows.append([entry.rule_id, f"{entry.kind.value} {entry.severity.value}", entry.title])
        rows.append(["", "fact", entry.fact])
        rows += [["", "source", str(source)] for source in entry.sources]
        rows += [["", "proof", proof] for proof in entry.proofs]
    escaped = [[escape(cell) for cell in row] for row in rows]
    table = tabulate(
        escaped,
        headers=_HEADERS,
        tablefmt="simple",
        maxcolwidths=[None, None, 100],  # long facts wrap instead of widening every line
    )
    width = layout.width
    if width is not None and not fits(table, width):
        narrow = fit_table(escaped, _HEADERS, {2: 100}, width)
        table = "" if narrow is None else tabulate(narrow, headers=_HEADERS, tablefmt="simple")
        table = "\n".join(line.rstrip() for line in table.splitlines())
        if narrow is None or not fits(table, width):
            return _rule_blocks(ledger, width, layout)
    return "\n".join(line.rstrip() for line in table.splitlines()) + "\n"


def _rule_blocks(ledger: Ledger, width: int, layout: Layout) -> str:
    """Per rule: `id  kind severity`, its claim wrapped, then fact, sources and proofs as `key  value` lines."""
    blocks = []
    for entry in ledger.entries:
        lines = wrap(f"{entry.kind.value} {entry.severity.value}", width, f"{escape(entry.rule_id)}  ", "  ")
        lines += wrap(escape(entry.title), width, "  ", "  ")
        values = [("fact", entry.fact)] + [("source", str(s)) for s in entry.sources]
        values += [("proof", proof) for proof in entry.proofs]
        lines += key_value_lines([(key, escape(value), None) for key, value in values], width, layout)
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _source_json(source: Source) -> dict[str, str]:
    return {"project": source.project, "path": source.path, "symbol": source.symbol}


def _entry_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "id": entry.rule_id,
        "kind": entry.kind.value,
        "severity": entry.severity.value,
        "title": entry.title,
        "fact": entry.fact,
        "sources": [_source_json(s) for s in entry.sources],
        "proofs": list(entry.proofs),
    }


def render_json(ledger: Ledger) -> str:
    """The `rules` document."""
    document = envelope("rules", None)
    document["input"] = {"kind": ledger.kind.value}
    document["rules"] = [_entry_json(e) for e in ledger.entries]
    return dump(document)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md_text(text: str) -> str:
    """Markdown prose: `code spans` kept as written (balanced backticks), every other special character escaped."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # unbalanced backticks: no code spans at all
        return _MARKDOWN_SPECIAL.sub(r"\\\1", escape(text))
    return "".join(
        f"`{escape(part)}`" if index % 2 else _MARKDOWN_SPECIAL.sub(r"\\\1", escape(part))
        for index, part in enumerate(parts)
    )


def _md_code(text: str) -> str:
    """`text` as one code span, fenced with more backticks than it contains in a row."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{escape(text)}{pad}{fence}"


def _md_entry(entry: LedgerEntry) -> list[str]:
    lines = [
        f"### {_md_code(entry.rule_id)}",
        "",
        f"{entry.kind.value} rule, severity {entry.severity.value}: {_md_text(entry.title)}.",
        "",
        f"Fact: {_md_text(entry.fact)}",
        "",
        "Upstream sources:",
        "",
    ]
    lines += [f"- {s.project} {_md_code(s.path)} {_md_code(s.symbol)}" for s in entry.sources]
    lines += ["", "Proved by:", ""]
    lines += [f"- {_md_code(proof)}" for proof in entry.proofs]
    return [*lines, ""]


def render_markdown(ledger: Ledger) -> str:
    """docs/rules.md: an index table, then per kind a section per rule (claim, fact, sources, proofs)."""
    lines = [
        "# Rule ledger",
        "",
        "<!-- Generated by `pcie-failover rules --format markdown`: do not edit. "
        f"Regenerate with `{REGENERATE}`; tests/test_ledger.py checks it is current. -->",
        "",
        "Generated by `pcie-failover rules --format markdown` from the rule registries. For every rule: its claim, "
        "the fact it mirrors, where upstream (Linux, QEMU, libvirt) enforces it, and the tests that prove it on the "
        "most real input there is: real-kernel captures (`fixtures_sysfs/`), the lab (`tests/lab/`, a booted guest), "
        "QEMU's recorded verdicts on the lint corpus (`tests/lint_corpus/outcomes.json`), then hand-made hosts and "
        "configurations. A rule without a source or a proof fails `tests/test_ledger.py`.",
        "",
        "| id | kind | severity | claim |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| [{_md_code(e.rule_id)}](#{e.kind.value}-{e.rule_id}) | {e.kind.value} | {e.severity.value} | "
        f"{_md_text(e.title)} |"
        for e in ledger.entries
    ]
    lines.append("")
    for kind in (RuleKind.HOST, RuleKind.GUEST):
        entries = [e for e in ledger.entries if e.kind is kind]
        if not entries:
            continue
        lines += [f"## {_KIND_TITLE[kind]}", "", f"The registry is {_md_code(_REGISTRY[kind] + '__init__.py')}.", ""]
        for entry in entries:
            lines += [f'<a id="{entry.kind.value}-{entry.rule_id}"></a>', "", *_md_entry(entry)]
    return "\n".join(lines).rstrip("\n") + "\n"
