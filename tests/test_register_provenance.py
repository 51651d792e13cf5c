"""What a registered pair records of where it came from: the root the user named, and whose MAC it is."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pcie_failover.capture.archive import extract

DEMO = str(Path(__file__).parent.parent / "fixtures_sysfs" / "demo-host")
LIVE_PCI = Path("/sys/bus/pci/devices")
UNPROVEN = "vf-mac: MAC 52:54:00:6f:55:cc is not proof of an administrator's MAC"


def _record(registry: Path, name: str) -> dict[str, object]:
    document = json.loads((registry / f"{name}.json").read_text())
    assert isinstance(document, dict)
    return document


def test_a_pair_registered_from_an_archive_records_the_archive(cli: Callable[..., Any], tmp_path: Path) -> None:
    """The archive is unpacked into a temporary directory gone after the run: the record names the archive."""
    archive, registry = tmp_path / "vf.tar.gz", tmp_path / "pairs.d"
    assert cli("--sysfs-root", DEMO, "capture", "5e:00.2", "-o", str(archive)).code == 0
    run = cli("--sysfs-root", str(archive), "register", "web", "5e:00.2", "--mac", "52:54:00:6f:55:cc",
              "--registry", str(registry))  # fmt: skip
    assert run.code == 0, run.err
    assert _record(registry, "web")["sysfs_root"] == str(archive)
    again = cli("--sysfs-root", str(archive), "audit", "--registry", str(registry), "--format", "json").json
    assert (again["problems"], [p["verdict"] for p in again["pairs"]]) == ([], ["ready"])


@pytest.mark.skipif(not LIVE_PCI.is_dir(), reason="the live audit needs /sys/bus/pci")
def test_the_live_audit_names_the_archive_a_pair_came_from(cli: Callable[..., Any], tmp_path: Path) -> None:
    archive, registry = tmp_path / "vf.tar.gz", tmp_path / "pairs.d"
    assert cli("--sysfs-root", DEMO, "capture", "5e:00.2", "-o", str(archive)).code == 0
    assert cli("--sysfs-root", str(archive), "register", "web", "5e:00.2", "--registry", str(registry)).code == 0
    document = cli("audit", "--registry", str(registry), "--format", "json").json
    assert document["problems"] == [
        f"{registry}/web.json: registered from the copied tree {archive}, not this host: not audited"
        " (unregister it, or audit that tree with --sysfs-root)"
    ]


def test_a_capture_directory_is_recorded_as_named(cli: Callable[..., Any], tmp_path: Path) -> None:
    """The directory holding `sysfs/`, as the user gave it, not the `sysfs/` inside."""
    registry, capture = tmp_path / "pairs.d", tmp_path / "capture"
    assert cli("--sysfs-root", DEMO, "capture", "5e:00.2", "-o", str(tmp_path / "c.tar.gz")).code == 0
    with tarfile.open(tmp_path / "c.tar.gz") as tar:
        extract(tar, capture)
    assert cli("--sysfs-root", str(capture), "register", "web", "5e:00.2", "--registry", str(registry)).code == 0
    assert _record(registry, "web")["sysfs_root"] == str(capture)


def test_a_mac_taken_from_the_vf_stays_unproven_in_the_audit(cli: Callable[..., Any], tmp_path: Path) -> None:
    """Without --mac, register records the VF's admin MAC, marked as such: audit warns as check does."""
    registry = tmp_path / "pairs.d"
    run = cli("--sysfs-root", DEMO, "register", "web", "5e:00.2", "--registry", str(registry))
    assert (run.code, run.err) == (
        0,
        "pcie-failover register: the MAC 52:54:00:6f:55:cc is the VF's own, which nothing shows an administrator"
        " set: audit warns as check does (pass --mac to assert it; pair would derive another and set it)\n",
    )
    record = _record(registry, "web")
    assert (record["mac"], record["mac_from"]) == ("52:54:00:6f:55:cc", "vf")
    check = cli("--sysfs-root", DEMO, "check", "5e:00.2", "--format", "json").json
    audit = cli("--sysfs-root", DEMO, "audit", "--registry", str(registry), "--format", "json").json
    (pair,) = audit["pairs"]
    vf_mac = {r["id"]: r for r in pair["checks"]}["vf-mac"]
    assert vf_mac["status"] == "warn"
    assert vf_mac["message"].startswith(UNPROVEN[len("vf-mac: ") :])
    assert vf_mac["status"] == {r["id"]: r for r in check["checks"]}["vf-mac"]["status"]


def test_a_mac_given_with_mac_is_the_administrator_s(cli: Callable[..., Any], tmp_path: Path) -> None:
    registry = tmp_path / "pairs.d"
    run = cli("--sysfs-root", DEMO, "register", "web", "5e:00.2", "--mac", "52:54:00:6f:55:cc",
              "--registry", str(registry))  # fmt: skip
    assert run.code == 0
    assert "mac_from" not in _record(registry, "web")
    audit = cli("--sysfs-root", DEMO, "audit", "--registry", str(registry), "--format", "json").json
    (pair,) = audit["pairs"]
    assert {r["id"]: r for r in pair["checks"]}["vf-mac"]["status"] == "pass"
