"""`capture`: a snapshot that checks exactly as the tree it was taken from, and holds nothing more."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures_sysfs.builder import Host
from fixtures_sysfs.captures import TOPOLOGIES
from pcie_failover.capture.archive import extract
from pcie_failover.sysfs.names import NAMES_FILE
from tests.scenarios import SCENARIOS, Scenario
from tests.support.cli import Run
from tests.support.trees import Captures

LIVE = Path("/sys/bus/pci/devices")
DEMO = Path(__file__).parent.parent / "fixtures_sysfs" / "demo-host"


def _unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        extract(tar, into)
    return into / "sysfs"


def _results(cli: Callable[..., Run], root: Path | str, device: str) -> dict[str, Any]:
    run = cli("--sysfs-root", str(root), "check", device, "--format", "json")
    document = run.json
    return {"exit": run.code, "device": document["device"], "checks": document["checks"]}


def _devices(cli: Callable[..., Run], root: Path | str) -> list[str]:
    return [d["bdf"] for d in _listed(cli, root)["devices"]]


def _listed(cli: Callable[..., Run], root: Path | str, *args: str) -> dict[str, Any]:
    run = cli("--sysfs-root", str(root), "list", *args, "--format", "json")
    return {"exit": run.code, **{k: v for k, v in run.json.items() if k != "sysfs_root"}}


def _by_name(cli: Callable[..., Run], root: Path | str, device: str) -> list[dict[str, Any]]:
    """`check IFNAME` of each of the device's interfaces."""
    found = cli("--sysfs-root", str(root), "check", device, "--format", "json").json["device"]
    names = found.get("netdevs") or [] if found else []
    return [_results(cli, root, name) for name in names]


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_snapshot_of_a_capture_checks_the_same(
    topology: str, cli: Callable[..., Run], tmp_path: Path, captures: Captures
) -> None:
    source = captures(topology)
    run = cli("--sysfs-root", str(source), "capture", "-o", str(tmp_path / "snap.tar.gz"), "--format", "json")
    assert run.code == 0
    assert run.json["netlink"] is True
    snapshot = _unpack(tmp_path / "snap.tar.gz", tmp_path / "x")
    assert _listed(cli, snapshot) == _listed(cli, source)
    for device in _devices(cli, source):
        assert _results(cli, snapshot, device) == _results(cli, source, device), device
        assert _by_name(cli, snapshot, device) == _by_name(cli, source, device), device


def test_snapshot_of_one_vf(cli: Callable[..., Run], tmp_path: Path, captures: Captures) -> None:
    source = captures("vtd-acpi")
    assert cli("--sysfs-root", str(source), "capture", "01:10.0", "-o", str(tmp_path / "vf.tar.gz")).code == 0
    snapshot = _unpack(tmp_path / "vf.tar.gz", tmp_path / "x")
    assert _results(cli, snapshot, "01:10.0") == _results(cli, source, "01:10.0")
    assert _listed(cli, snapshot, "--pf", "01:00.0") == _listed(cli, source, "--pf", "01:00.0")
    pair = ("pair", "01:10.0", "--mac", "52:54:00:12:34:56", "--format", "json")
    assert (
        cli("--sysfs-root", str(snapshot), *pair).json["spec"] == cli("--sysfs-root", str(source), *pair).json["spec"]
    )
    # the PF and its VFs (`list --pf`), not the other NIC; the upstream port only as the directory above them
    assert sorted(p.name for p in (snapshot / "bus/pci/devices").iterdir()) == [
        "0000:01:00.0", "0000:01:10.0", "0000:01:10.2", "0000:01:10.4", "0000:01:10.6",
    ]  # fmt: skip
    assert (snapshot / "devices/pci0000:00/0000:00:02.0/0000:01:10.0").is_dir()


def test_snapshot_records_the_names_of_its_devices_ids(
    cli: Callable[..., Run], tmp_path: Path, captures: Captures
) -> None:
    """A checked capture shows the names the host had (only its devices' ids); a source without names gives none."""
    assert cli("--sysfs-root", str(DEMO), "capture", "5e:00.2", "-o", str(tmp_path / "vf.tar.gz")).code == 0
    snapshot = _unpack(tmp_path / "vf.tar.gz", tmp_path / "x")
    assert json.loads((snapshot / NAMES_FILE).read_text())["names"] == {
        "15b3:1017": {"vendor": "Mellanox Technologies", "device": "MT27800 Family [ConnectX-5]"},
        "15b3:1018": {"vendor": "Mellanox Technologies", "device": "MT27800 Family [ConnectX-5 Virtual Function]"},
    }  # not the onboard e1000e's: it is not in the snapshot
    for device in _devices(cli, snapshot):
        assert _results(cli, snapshot, device) == _results(cli, DEMO, device), device
    nameless = tmp_path / "nameless"
    shutil.copytree(captures("vtd-acpi"), nameless, symlinks=True)
    (nameless / NAMES_FILE).unlink()
    assert cli("--sysfs-root", str(nameless), "capture", "-o", str(tmp_path / "lab.tar.gz")).code == 0
    assert not (_unpack(tmp_path / "lab.tar.gz", tmp_path / "y") / NAMES_FILE).exists()


def test_snapshot_holds_nothing_private_or_side_effecting(
    cli: Callable[..., Run], tmp_path: Path, captures: Captures
) -> None:
    """Private and side-effecting attributes are there by name only (a listing is the same), never with content."""
    source = tmp_path / "demo"
    shutil.copytree(DEMO, source, symlinks=True)
    device = source / "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2"
    for name in ("vpd", "rom", "remove", "serial", "label", "resource0", "phys_switch_id"):
        (device / name).write_text("private or side-effecting\n")
    (device / "setuid").write_text("mode\n")
    (device / "setuid").chmod(0o6777)
    assert cli("--sysfs-root", str(source), "capture", "-o", str(tmp_path / "s.tar.gz")).code == 0
    with tarfile.open(tmp_path / "s.tar.gz") as tar:
        members = tar.getmembers()
    named = {m.name.rsplit("/", 1)[-1]: m for m in members if "/0000:5e:00.2/" in m.name}
    for name in ("vpd", "rom", "remove", "serial", "label", "resource0", "phys_switch_id", "reset"):
        assert (named[name].isfile(), named[name].size) == (True, 0), name
    assert all(not m.mode & 0o7022 for m in members if not m.issym())  # no setuid, setgid, sticky, others' write
    assert named["setuid"].mode == 0o755
    assert cli("--sysfs-root", str(captures("vtd-acpi")), "capture", "-o", str(tmp_path / "lab.tar.gz")).code == 0
    with tarfile.open(tmp_path / "lab.tar.gz") as tar:
        members = tar.getmembers()
    configs = [m for m in members if m.name.endswith("/config")]
    assert configs
    assert all(m.size <= 256 for m in configs)
    assert all(not m.linkname.startswith("/") for m in members if m.issym())


def test_bad_device_and_unwritable_output(cli: Callable[..., Run], tmp_path: Path, captures: Captures) -> None:
    root = str(captures("vtd-acpi"))
    missing = cli("--sysfs-root", root, "capture", "07:00.0", "-o", str(tmp_path / "s.tar.gz"))
    assert (missing.code, missing.err) == (2, "pcie-failover capture: no PCI device 0000:07:00.0 on this host\n")
    unwritable = cli("--sysfs-root", root, "capture", "-o", str(tmp_path / "no/such/dir/s.tar.gz"))
    assert (unwritable.code, unwritable.err) == (2, f"pcie-failover capture: {tmp_path}/no/such/dir does not exist\n")
    assert not (tmp_path / "s.tar.gz").exists()


@pytest.mark.skipif(not LIVE.is_dir(), reason="this machine has no /sys/bus/pci")
def test_live_capture_checks_the_same(cli: Callable[..., Run], tmp_path: Path) -> None:
    assert cli("capture", "-o", str(tmp_path / "live.tar.gz")).code == 0
    snapshot = _unpack(tmp_path / "live.tar.gz", tmp_path / "x")
    for device in _devices(cli, "/sys"):
        assert _results(cli, snapshot, device) == _results(cli, "/sys", device), device


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: f"{s.rule}/{s.name}")
def test_every_rule_scenario_checks_the_same_through_a_capture_of_its_device(
    scenario: Scenario, cli: Callable[..., Run], tmp_path: Path, host_root: Callable[[Host], Path]
) -> None:
    """The hand-made hosts of every rule outcome (their `net/IF/device -> ../..` links too): the scenario's own
    command, on a capture of its device (of every network function when the device is not there), answers the same."""
    source = host_root(scenario.host)
    device = scenario.args[1]
    captured = cli("--sysfs-root", str(source), "capture", device, "-o", str(tmp_path / "s.tar.gz"))
    if captured.code == 2:  # the scenario is about a device that is not there
        assert cli("--sysfs-root", str(source), "capture", "-o", str(tmp_path / "s.tar.gz")).code == 0
    else:
        assert captured.code == 0, captured.err
    snapshot = _unpack(tmp_path / "s.tar.gz", tmp_path / "x")
    args = (*scenario.args, "--format", "json")
    on_source, on_snapshot = cli("--sysfs-root", str(source), *args), cli("--sysfs-root", str(snapshot), *args)
    assert on_snapshot.code == on_source.code
    assert {**on_snapshot.json, "sysfs_root": None} == {**on_source.json, "sysfs_root": None}


def test_a_kernel_without_reset_method_keeps_its_reset_file_in_the_listing(
    cli: Callable[..., Run], tmp_path: Path
) -> None:
    """Before 5.15 only `reset` says a function can be reset; it is never read, but the capture's listing keeps it."""
    source = tmp_path / "old-kernel"
    shutil.copytree(DEMO, source, symlinks=True)
    for vf in ("0000:5e:00.2", "0000:5e:00.3"):
        (source / "devices/pci0000:5d/0000:5d:00.0" / vf / "reset_method").unlink()
    assert cli("--sysfs-root", str(source), "capture", "5e:00.2", "-o", str(tmp_path / "s.tar.gz")).code == 0
    snapshot = _unpack(tmp_path / "s.tar.gz", tmp_path / "x")
    reset = snapshot / "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2/reset"
    assert (reset.is_file(), reset.read_bytes()) == (True, b"")  # the name, never the content
    assert _results(cli, snapshot, "5e:00.2") == _results(cli, source, "5e:00.2")
    assert _results(cli, snapshot, "5e:00.2")["exit"] == 0


def test_an_attribute_that_cannot_be_read_stays_unknown_in_the_capture(cli: Callable[..., Run], tmp_path: Path) -> None:
    """Not an empty file (which would read as a definite, wrong answer): unreadable there as it was on the host."""
    source = tmp_path / "fifo"
    shutil.copytree(DEMO, source, symlinks=True)
    attribute = source / "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2/reset_method"
    attribute.unlink()
    os.mkfifo(attribute)
    assert cli("--sysfs-root", str(source), "capture", "5e:00.2", "-o", str(tmp_path / "s.tar.gz")).code == 0
    snapshot = _unpack(tmp_path / "s.tar.gz", tmp_path / "x")
    on_source, on_snapshot = _results(cli, source, "5e:00.2"), _results(cli, snapshot, "5e:00.2")
    statuses = [(c["id"], c["status"]) for c in on_source["checks"]]
    assert ("reset", "unknown") in statuses
    assert [(c["id"], c["status"]) for c in on_snapshot["checks"]] == statuses
    assert on_snapshot["exit"] == on_source["exit"] == 4
