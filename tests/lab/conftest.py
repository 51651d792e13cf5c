"""Lab test configuration: the `lab` marker, and the lab environment or a skip that says why not."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from lab import failover
from lab.capture import LabEnv, prepare
from lab.install import LabUnavailableError


def pytest_configure(config: pytest.Config) -> None:
    """Register the `lab` marker."""
    config.addinivalue_line("markers", "lab: boots a real QEMU guest")


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> LabEnv:
    """QEMU 10, the guest kernel and the initramfs (built once a module), or a skip naming what is missing."""
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (apt-get, and the guest mounts / over 9p)")
    try:
        return prepare(tmp_path_factory.mktemp("cache"))
    except LabUnavailableError as error:
        pytest.skip(f"lab unavailable: {error}")


@pytest.fixture(scope="module")
def failover_env(lab_env: LabEnv) -> LabEnv:
    """The lab environment with the failover guest's initramfs (busybox, virtio_net, e1000e)."""
    return replace(lab_env, initrd=failover.build_initramfs(lab_env.kernel, lab_env.cache))
