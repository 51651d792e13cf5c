"""The CLI inside a booted guest, on its real /sys and netlink; and a capture there checks the same."""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures_sysfs.captures import capture_root
from lab.capture import prepare
from lab.install import LabUnavailableError
from lab.live_cli import ADMIN_MAC, VF, LiveRun, run_live_cli
from pcie_failover.capture.archive import extract
from tests.support.cli import Run


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
    # on vfio-pci nothing shows who set the MAC: an honest warning, still ready
    assert _checks(document)["vf-mac"][0] == "warn"
    assert _checks(document)["vf-mac"][1].startswith("MAC 52:54:00:6f:55:cc is not proof of an administrator's MAC")


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
def test_mac_igbvf_picked_is_not_an_admin_mac(live: LiveRun) -> None:
    """igb reports the MAC igbvf picked for itself in IFLA_VF_MAC: not proof; after `ip link set PF vf 1 mac` it is."""
    picked = live.outputs["igbvf-mac.check"]
    status, message = _checks(picked)["vf-mac"]
    assert status == "fail"
    assert re.fullmatch(
        "MAC ([0-9a-f]{2}:){5}[0-9a-f]{2} is the one VF 1's host driver igbvf runs \\S+ with: it may have picked it "
        "itself; the PF reports a MAC a VF driver picked for itself like an administrator's, and drops it at the "
        "VF's next reset \\(vfio resets the VF when QEMU opens it\\)",
        message,
    ), message
    random_mac = message.split()[1]
    assert int(random_mac[:2], 16) & 0x02  # eth_hw_addr_random(): locally administered
    admin = _checks(live.outputs["admin-mac.check"])["vf-mac"]
    assert admin[0] == "pass"
    assert re.fullmatch(
        f"admin MAC {ADMIN_MAC} \\(spoofchk on, trust off\\): set through the PF, since the VF's own \\S+ uses "
        f"{random_mac}",
        admin[1],
    ), admin


@pytest.mark.lab
def test_capture_in_the_guest_checks_the_same_on_the_host(
    live: LiveRun, cli: Callable[..., Run], tmp_path: Path
) -> None:
    with tarfile.open(live.snapshot) as tar:
        assert all(not m.name.startswith("/") and ".." not in m.name.split("/") for m in tar.getmembers())
        extract(tar, tmp_path)
    root = str(tmp_path / "sysfs")
    listed = cli("--sysfs-root", root, "list", "--format", "json").json
    live_list = live.outputs["ready.list"]
    assert [d["bdf"] for d in listed["devices"]] == [d["bdf"] for d in live_list["devices"]]
    assert listed["devices"] == live_list["devices"]
    for device in (d["bdf"] for d in live_list["devices"]):
        offline = cli("--sysfs-root", root, "check", device, "--format", "json").json
        online = live.outputs[f"ready.check-{device}"]
        assert (offline["device"], offline["checks"]) == (online["device"], online["checks"]), device
