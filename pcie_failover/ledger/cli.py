"""`rules`: the rule ledger (claim, upstream source, proving tests of every host and guest rule)."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from pcie_failover.cli.app import INTERNAL_EXIT_CODE, emit
from pcie_failover.model.rule import RuleKind

RULES_EXIT_CODES = f"Exit codes: 0 the ledger was printed; 2 usage error; {INTERNAL_EXIT_CODE}."


class LedgerFormat(enum.Enum):
    """How the ledger is printed."""

    TABLE = "table"
    JSON = "json"
    MARKDOWN = "markdown"


commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(epilog=RULES_EXIT_CODES)
def rules(
    output: Annotated[LedgerFormat, typer.Option("--format", help="table, json or markdown.")] = LedgerFormat.TABLE,
    kind: Annotated[RuleKind, typer.Option("--kind", help="host (check), guest (lint) or all.")] = RuleKind.ALL,
) -> int:
    """List every rule: id, kind, severity, claim, the upstream fact and source it mirrors, the tests that prove it."""
    from pcie_failover.ledger.command import run_rules

    ledger = run_rules(kind)
    if output is LedgerFormat.JSON:
        from pcie_failover.ledger.render import render_json as render
    elif output is LedgerFormat.MARKDOWN:
        from pcie_failover.ledger.render import render_markdown as render
    else:
        from pcie_failover.cli.terminal import terminal_layout
        from pcie_failover.ledger.render import render_table

        emit(render_table(ledger, terminal_layout()))
        return 0
    emit(render(ledger))
    return 0
