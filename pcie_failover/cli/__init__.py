"""Command-line shell: parse -> read -> rules -> render -> exit code. One module per group of commands."""

# isort: off
# Importing a module registers its commands; the order here is the order of `--help`.
from pcie_failover.cli import host, pair, lint, inspect, prepare, audit, rules, units  # noqa: F401
from pcie_failover.cli.app import app, main

# isort: on

__all__ = ["app", "main"]
