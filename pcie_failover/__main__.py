"""`python -m pcie_failover` runs the command-line interface."""

from pcie_failover.cli import main

raise SystemExit(main())
