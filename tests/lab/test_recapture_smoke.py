"""Re-capture one topology into a temp dir and compare it with the committed capture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.capture import FIXTURES, capture, prepare
from lab.compare import differences, summarize
from lab.install import LabUnavailableError
from lab.topologies import TOPOLOGIES

TOPOLOGY = "vtd-acpi"


@pytest.mark.lab
def test_recapture_matches_committed(tmp_path: Path) -> None:
    committed = FIXTURES / TOPOLOGY / "sysfs"
    if not committed.is_dir():
        pytest.skip(f"no committed capture at {committed}")
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (apt-get, and the guest mounts / over 9p)")
    try:
        env = prepare(tmp_path / "cache")
    except LabUnavailableError as error:
        pytest.skip(f"lab unavailable: {error}")
    fresh = capture(TOPOLOGIES[TOPOLOGY], env, tmp_path / "out")
    assert differences(summarize(committed), summarize(fresh / "sysfs")) == []
