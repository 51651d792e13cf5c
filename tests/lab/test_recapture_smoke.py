"""Re-capture one topology into a temp dir and compare it with the committed capture."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.capture import FIXTURES, LabEnv, capture
from lab.compare import differences, summarize
from lab.topologies import TOPOLOGIES

TOPOLOGY = "vtd-acpi"


@pytest.mark.lab
def test_recapture_matches_committed(lab_env: LabEnv, tmp_path: Path) -> None:
    committed = FIXTURES / TOPOLOGY / "sysfs"
    if not committed.is_dir():
        pytest.skip(f"no committed capture at {committed}")
    fresh = capture(TOPOLOGIES[TOPOLOGY], lab_env, tmp_path / "out")
    assert differences(summarize(committed), summarize(fresh / "sysfs")) == []
