"""Command-line shell: parse -> read -> rules -> render -> exit code. The commands are in `COMMANDS` (cli/app.py)."""

from pcie_failover.cli.app import app, main

__all__ = ["app", "main"]
