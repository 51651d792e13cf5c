"""The shared harness against a real QEMU: boot, serial wait, QMP commands and events."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab import initramfs
from lab.capture import guest_spec, prepare
from lab.guest import Guest, GuestError
from lab.install import LabUnavailableError
from lab.topologies import TOPOLOGIES


@pytest.mark.lab
def test_guest_serial_qmp_and_teardown(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    try:
        env = prepare(tmp_path / "cache")
    except LabUnavailableError as error:
        pytest.skip(f"lab unavailable: {error}")
    run = tmp_path / "run"
    (run / "job").mkdir(parents=True)
    (run / "job" / "job.sh").write_text("echo guest-says-hello > /dev/console\nsleep 600\n")
    guest = Guest(guest_spec(TOPOLOGIES["vf-admin"], env, run))
    with guest:
        guest.wait_for(initramfs.READY, timeout=120)
        guest.wait_for(r"^guest-says-hello", timeout=60)
        guest.qmp.execute("stop")
        assert guest.qmp.wait_event("STOP", timeout=10)["event"] == "STOP"
        status = guest.qmp.execute("query-status")
        assert isinstance(status, dict)
        assert status["status"] == "paused"
        guest.qmp.execute("cont")
        assert guest.qmp.wait_event("RESUME", timeout=10)["event"] == "RESUME"
        with pytest.raises(GuestError, match="not seen within"):
            guest.wait_for("never-printed", timeout=1)
    with pytest.raises(GuestError, match="exited"):
        guest.wait_for("anything", timeout=1)
