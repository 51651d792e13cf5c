"""Golden files: exact expected outputs, reviewed when written; PCIE_FAILOVER_UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def compare_entry(name: str, key: str, actual: Any) -> None:
    """Assert `actual` equals entry `key` of golden file `name` (or store it when updating)."""
    path = GOLDEN / f"{name}.json"
    stored: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    if os.environ.get("PCIE_FAILOVER_UPDATE_GOLDEN") == "1":
        stored[key] = actual
        path.write_text(json.dumps(dict(sorted(stored.items())), indent=1, ensure_ascii=False) + "\n")
    assert key in stored, f"no golden entry {key!r} in {path.name}"
    assert actual == stored[key]
