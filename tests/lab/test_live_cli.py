"""The CLI inside a booted guest, on its real /sys and netlink; and a capture there checks the same."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures_sysfs.captures import capture_root
from lab.capture import prepare
from lab.install import LabUnavailableError
from lab.live_cli import VF, LiveRun, run_live_cli
from tests.conftest import Run


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (apt-get, and the guest mounts / over 9p)")
    work = tmp_path_factory.mktemp("live")
    try:
        env = prepare(work / "cache")
    except LabUnavailableError as error:
        pytest.skip(f"lab unavailable: {error}")
    devices = tuple(sorted(p.name for p in (capture_root("vtd-acpi") / "bus/pci/devices").iterdir()))
    return run_live_cli(env, devices, work)


def _checks(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["id"]: (c["status"], c["message"]) for c in document["checks"]}


@pytest.mark.lab
def test_ready_vf_in_the_guest(live: LiveRun) -> None:
    document = live.outputs[f"ready.check-{VF}"]
    assert live.exit_codes[f"ready.check-{VF}"] == 0
    assert document["verdict"] == "ready"
    assert _checks(document)["vf-mac"] == ("pass", "admin MAC 52:54:00:6f:55:cc (spoofchk on, trust off)")


@pytest.mark.lab
def test_checks_follow_iproute2_and_driver_changes(live: LiveRun) -> None:
    vlan = _checks(live.outputs["vlan.check"])
    assert vlan["vf-vlan"] == ("warn", "VF VLAN 100 (qos 0) is set on the PF: the standby must reach VLAN 100 too")
    # igb has no VF link-state control: the request fails and the state stays auto
    assert "unsupported" in live.trace
    assert _checks(live.outputs["link-disable.check"])["vf-link-state"] == ("pass", "VF link state auto")
    assert _checks(live.outputs["link-disable.check"])["vf-vlan"] == ("pass", "no VF VLAN")
    zero = _checks(live.outputs["mac-zero.check"])
    assert zero["vf-mac"][0] == "fail"
    assert live.exit_codes["mac-zero.check"] == 1
    assert _checks(live.outputs["unbound.check"])["driver"] == (
        "fail",
        "driver_override is vfio-pci but nothing is bound (it was unbound, or vfio-pci's probe failed)",
    )
    assert _checks(live.outputs["no-override.check"])["driver"] == (
        "fail",
        "no driver bound; QEMU's vfio-pci device needs the vfio-pci driver",
    )
    assert _checks(live.outputs["rebound.check"])["driver"] == ("pass", "bound to vfio-pci")
    assert live.exit_codes["rebound.check"] == 0


@pytest.mark.lab
def test_capture_in_the_guest_checks_the_same_on_the_host(
    live: LiveRun, cli: Callable[..., Run], tmp_path: Path
) -> None:
    with tarfile.open(live.snapshot) as tar:
        assert all(not m.name.startswith("/") and ".." not in m.name.split("/") for m in tar.getmembers())
        tar.extractall(tmp_path)  # our own archive, members checked above
    root = str(tmp_path / "sysfs")
    listed = cli("--sysfs-root", root, "list", "--format", "json").json
    live_list = live.outputs["ready.list"]
    assert [d["bdf"] for d in listed["devices"]] == [d["bdf"] for d in live_list["devices"]]
    assert listed["devices"] == live_list["devices"]
    for device in (d["bdf"] for d in live_list["devices"]):
        offline = cli("--sysfs-root", root, "check", device, "--format", "json").json
        online = live.outputs[f"ready.check-{device}"]
        assert (offline["device"], offline["checks"]) == (online["device"], online["checks"]), device
