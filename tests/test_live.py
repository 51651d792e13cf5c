"""`check` and `list` on this machine's real /sys: a clean report, never a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEVICES = Path("/sys/bus/pci/devices")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pcie_failover", *args], capture_output=True, text=True, check=False, timeout=60
    )


@pytest.mark.skipif(not DEVICES.is_dir(), reason="this machine has no /sys/bus/pci")
@pytest.mark.parametrize("device", sorted(os.listdir(DEVICES)) if DEVICES.is_dir() else [])
def test_check_every_live_device(device: str) -> None:
    done = _run("check", device)
    assert done.returncode in (0, 1, 4), done.stderr
    assert done.stderr == ""
    assert "verdict: " in done.stdout


@pytest.mark.skipif(not DEVICES.is_dir(), reason="this machine has no /sys/bus/pci")
def test_list_live() -> None:
    done = _run("list", "--format", "json")
    assert (done.returncode, done.stderr) == (0, "")
