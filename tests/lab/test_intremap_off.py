"""A guest booted with intremap=off on a remapping-capable VT-d: its kernel refuses VFIO, and `check` says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.capture import LabEnv, capture
from lab.topologies import TOPOLOGIES

TOPOLOGY = "vtd-intremap-off"


@pytest.mark.lab
def test_intremap_off_guest_refuses_vfio_and_check_fails_iommu(lab_env: LabEnv, tmp_path: Path) -> None:
    fresh = capture(TOPOLOGIES[TOPOLOGY], lab_env, tmp_path / "out")
    manifest = json.loads((fresh / "manifest.json").read_text())
    assert "intremap=off" in manifest["guest_kernel_cmdline"].split()
    proof = manifest["guest_proof"]
    assert any(line.endswith(": [Errno 1] Operation not permitted") for line in proof)
    assert any("No interrupt remapping support." in line for line in proof)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pcie_failover",
            "--sysfs-root",
            str(fresh / "sysfs"),
            "check",
            "01:10.0",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    (iommu,) = [c for c in json.loads(run.stdout)["checks"] if c["id"] == "iommu"]
    assert iommu["status"] == "fail"
    assert iommu["message"].endswith(
        "no interrupt remapping (intremap=off on the kernel command line; no IR- interrupt chip in /sys/kernel/irq): "
        "vfio_iommu_type1 refuses to attach the group (-EPERM)"
    )
