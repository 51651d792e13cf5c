"""What works unprivileged does: as `nobody`, config space stops at 64 bytes and nothing fails for it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DEVICES = Path("/sys/bus/pci/devices")
REPO = Path(__file__).resolve().parent.parent


def _check(device: str, *, as_nobody: bool) -> tuple[int, dict[str, Any]]:
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if as_nobody else []
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "pcie_failover", "check", device, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=60,
    )
    assert done.stderr == ""
    return done.returncode, json.loads(done.stdout)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root (to drop to nobody)")
@pytest.mark.skipif(not DEVICES.is_dir(), reason="this machine has no /sys/bus/pci")
@pytest.mark.parametrize("device", sorted(os.listdir(DEVICES)) if DEVICES.is_dir() else [])
def test_nobody_gets_the_same_statuses(device: str) -> None:
    root_code, as_root = _check(device, as_nobody=False)
    nobody_code, as_nobody = _check(device, as_nobody=True)
    assert nobody_code == root_code
    assert [(c["id"], c["status"]) for c in as_nobody["checks"]] == [(c["id"], c["status"]) for c in as_root["checks"]]
