"""How many examples each property test draws: `python -m tests.fuzz N` raises it for a long run."""

from __future__ import annotations

import os

EXAMPLES = int(os.environ.get("PCIE_FAILOVER_PROPERTY_EXAMPLES", "25"))
