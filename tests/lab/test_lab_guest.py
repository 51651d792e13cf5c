"""The shared harness against a real QEMU: boot, serial wait, QMP commands and events."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import initramfs
from lab.capture import LabEnv, guest_spec
from lab.guest import Guest, GuestError
from lab.topologies import TOPOLOGIES


@pytest.mark.lab
def test_guest_serial_qmp_and_teardown(lab_env: LabEnv, tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "job").mkdir(parents=True)
    (run / "job" / "job.sh").write_text("echo guest-says-hello > /dev/console\nsleep 600\n")
    guest = Guest(guest_spec(TOPOLOGIES["vf-admin"], lab_env, run))
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
