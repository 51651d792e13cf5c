"""Live: QEMU 10 still does what `tests/lint_corpus/outcomes.json` recorded, for two corpus entries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lab import failover
from lab.capture import prepare
from lab.install import LabUnavailableError
from lab.lint_oracle import CORPUS, OUTCOMES, Config, OracleEnv, boot, migrate, outcome
from pcie_failover.lint.command import run_lint
from pcie_failover.lint.model import ConfigKind


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> OracleEnv:
    """Skip unless root with QEMU 10 and a guest kernel."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (apt-get, QEMU)")
    try:
        lab = prepare(tmp_path_factory.mktemp("cache"))
    except LabUnavailableError as error:
        pytest.skip(f"lab unavailable: {error}")
    return OracleEnv(lab.kernel, failover.build_initramfs(lab.kernel, lab.cache))


@pytest.mark.lab
@pytest.mark.parametrize("name", ["pcie0", "good-classic"])
def test_qemu_agrees_with_the_recorded_outcome(env: OracleEnv, tmp_path: Path, name: str) -> None:
    config = Config.load(CORPUS / f"{name}.args")
    recorded = json.loads(OUTCOMES.read_text())["configs"][name]
    record = boot(config, env, tmp_path / "boot")
    if record.get("paired"):
        record["migration"] = migrate(config, env, tmp_path / "migration")
    assert (outcome(record), record["refused"]) == (recorded["outcome"], recorded["refused"])


@pytest.mark.lab
def test_qemu_refuses_mac_on_vfio_pci() -> None:
    """QEMU 10 itself refuses `-device vfio-pci,...,mac=` before it looks for the host device; lint says so."""
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None:
        pytest.skip("no qemu-system-x86_64")
    device = "vfio-pci,host=0000:5e:00.2,id=hostdev0,mac=52:54:00:6f:55:cc"
    argv = [qemu, "-machine", "q35", "-display", "none", "-nodefaults", "-S", "-device", device]
    refused = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(f"-device {device}: Property 'vfio-pci.mac' not found")
    text = (CORPUS / "good-classic.args").read_text().replace("e1000e,", "vfio-pci,host=0000:5e:00.2,")
    report = run_lint(text, ConfigKind.QEMU, source="corpus", root=None, why_not="--no-host", version="10.0.2")
    (mac,) = [r for r in report.results if r.rule_id == "mac-match"]
    assert "QEMU refuses mac= on vfio-pci (Property 'vfio-pci.mac' not found)" in mac.message
