"""Live: QEMU 10 still does what `tests/lint_corpus/outcomes.json` recorded, for two corpus entries."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab import failover
from lab.capture import prepare
from lab.install import LabUnavailableError
from lab.lint_oracle import CORPUS, OUTCOMES, Config, OracleEnv, boot, migrate, outcome


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
