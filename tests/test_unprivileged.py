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

from tests.support.hostile import shared_directory

DEVICES = Path("/sys/bus/pci/devices")
REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "fixtures_sysfs" / "demo-host"


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _nobody_can_import() -> bool:
    """The checkout and the venv may sit under a directory only root can enter."""
    done = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import pcie_failover.cli"], capture_output=True, cwd="/", check=False
    )
    return done.returncode == 0


def _check(device: str, *, as_nobody: bool, root: str = "/sys") -> tuple[int, dict[str, Any]]:
    prefix = NOBODY if as_nobody else []
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "pcie_failover", "--sysfs-root", root, "check", device, "--format", "json"],
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
    if not _nobody_can_import():
        pytest.skip("nobody cannot read this checkout or its venv (a root-only parent directory)")
    root_code, as_root = _check(device, as_nobody=False)
    nobody_code, as_nobody = _check(device, as_nobody=True)
    assert nobody_code == root_code
    assert [(c["id"], c["status"]) for c in as_nobody["checks"]] == [(c["id"], c["status"]) for c in as_root["checks"]]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root (to drop to nobody)")
def test_nobody_checks_a_capture_archive_as_root_does() -> None:
    """The archive is unpacked into nobody's own private directory: same statuses, and nothing left behind."""
    if not _nobody_can_import():
        pytest.skip("nobody cannot read this checkout or its venv (a root-only parent directory)")
    with shared_directory() as shared:
        archive = str(shared / "demo.tar.gz")
        subprocess.run(
            [sys.executable, "-m", "pcie_failover", "--sysfs-root", str(DEMO), "capture", "-o", archive],
            capture_output=True,
            check=True,
            cwd=REPO,
        )
        os.chmod(archive, 0o644)
        for device in ("5e:00.2", "5e:00.3", "5e:00.4", "5e:00.5"):
            root_code, as_root = _check(device, as_nobody=False, root=archive)
            nobody_code, as_nobody = _check(device, as_nobody=True, root=archive)
            assert nobody_code == root_code, device
            assert [(c["id"], c["status"]) for c in as_nobody["checks"]] == [
                (c["id"], c["status"]) for c in as_root["checks"]
            ]
