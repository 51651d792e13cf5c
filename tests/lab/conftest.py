"""Lab test configuration: the `lab` marker, and the lab environment or a skip that says why not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.capture import LabEnv, prepare
from lab.install import LabUnavailableError


def pytest_configure(config: pytest.Config) -> None:
    """Register the `lab` marker."""
    config.addinivalue_line("markers", "lab: boots a real QEMU guest")


@pytest.fixture
def lab_env(tmp_path: Path) -> LabEnv:
    """QEMU 10, the guest kernel and the initramfs (cached per test), or a skip naming what is missing."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (apt-get, and the guest mounts / over 9p)")
    try:
        return prepare(tmp_path / "cache")
    except LabUnavailableError as error:
        pytest.skip(f"lab unavailable: {error}")
