"""Registered pairs: the registry's safety, audits in every format, renumbering, coalesced bursts."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import demo_host, demo_pf
from pcie_failover.adapters import files
from pcie_failover.audit.coalesce import coalesced
from tests.conftest import Run
from tests.golden import compare_entry

DEMO = str(Path(__file__).parent.parent / "fixtures_sysfs" / "demo-host")


@pytest.fixture
def registry(tmp_path: Path) -> str:
    return str(tmp_path / "pairs.d")


def _register(cli: Callable[..., Run], registry: str, *args: str, root: str = DEMO) -> Run:
    return cli("--sysfs-root", root, "register", *args, "--registry", registry)


def test_register_writes_a_record(cli: Callable[..., Run], registry: str) -> None:
    run = _register(cli, registry, "web1-net0", "5e:00.2", "--vm", "web1", "--format", "json")
    assert run.code == 0
    assert run.json["pair"] == {
        "format": "pcie-failover-pair",
        "version": 1,
        "name": "web1-net0",
        "vm": "web1",
        "mac": "52:54:00:6f:55:cc",
        "for": "qemu",
        "primary": {
            "bdf": "0000:5e:00.2",
            "vendor": "15b3",
            "device": "1018",
            "pf": "0000:5e:00.0",
            "pf_mac": "b8:ce:f6:12:34:56",
            "pf_slot": "4",
            "vf_index": 0,
        },
    }
    assert json.loads(Path(registry, "web1-net0.json").read_text()) == run.json["pair"]
    assert oct(os.stat(registry).st_mode & 0o777) == "0o755"


def test_register_refusals(cli: Callable[..., Run], registry: str) -> None:
    not_ready = _register(cli, registry, "db", "5e:00.4")
    assert (not_ready.code, not_ready.err) == (
        1,
        "pcie-failover register: 0000:5e:00.4 is not ready (driver, vf-mac): fix it, or register with --force\n",
    )
    no_mac = _register(cli, registry, "db", "5e:00.4", "--force")
    assert (
        no_mac.err
        == "pcie-failover register: --mac is required: the VF has no usable admin MAC to take the VM's MAC from\n"
    )
    assert _register(cli, registry, "web", "5e:00.2").code == 0
    again = _register(cli, registry, "web", "5e:00.2")
    assert again.code == 2
    assert "is already registered" in again.err
    assert _register(cli, registry, "web", "5e:00.2", "--replace").code == 0
    bad_name = _register(cli, registry, "../etc", "5e:00.2")
    assert (bad_name.code, bad_name.err.count("\n")) == (2, 1)


def test_unsafe_registry_is_refused(cli: Callable[..., Run], registry: str) -> None:
    os.makedirs(registry)
    os.chmod(registry, 0o777)
    run = _register(cli, registry, "web", "5e:00.2")
    assert run.code == 2
    assert run.err == f"pcie-failover register: {registry} is writable by group or others (mode 0777)\n"


def test_audit_formats(cli: Callable[..., Run], registry: str) -> None:
    assert _register(cli, registry, "web1-net0", "5e:00.2", "--vm", "web1").code == 0
    assert _register(cli, registry, "db", "5e:00.4", "--force", "--mac", "52:54:00:00:00:09").code == 0
    table = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--journal")
    assert table.code == 1
    assert table.err.splitlines() == [
        "<3>pair db (0000:5e:00.4): not-ready: driver: no driver bound; QEMU's vfio-pci device needs the vfio-pci "
        "driver; vf-mac: admin MAC is 00:00:00:00:00:00: the guest's VF driver picks a random MAC and net_failover "
        "never pairs",
        "<6>pair web1-net0 (0000:5e:00.2): ready",
    ]
    document = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--format", "json").json
    assert [(p["name"], p["verdict"], p["found"]) for p in document["pairs"]] == [
        ("db", "not-ready", "at its registered address"),
        ("web1-net0", "ready", "at its registered address"),
    ]
    prometheus = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--format", "prometheus").out
    series = [line for line in prometheus.splitlines() if not line.startswith(("#", "pcie_failover_audit_"))]
    compare_entry("audit", "prometheus", series)


def test_prometheus_label_values_are_quoted_as_the_exposition_format_wants(
    cli: Callable[..., Run], registry: str
) -> None:
    """A VM name (printable ASCII, so `"`, `\\` and braces pass register) cannot end or forge a label."""
    assert _register(cli, registry, "web", "5e:00.2", "--vm", 'a"b\\c}{x').code == 0
    prometheus = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--format", "prometheus").out
    (ready,) = [line for line in prometheus.splitlines() if line.startswith("pcie_failover_pair_ready{")]
    assert ready == 'pcie_failover_pair_ready{pair="web",vm="a\\"b\\\\c}{x",primary="0000:5e:00.2"} 1'


def test_audit_device_filter(cli: Callable[..., Run], registry: str) -> None:
    assert _register(cli, registry, "web", "5e:00.2").code == 0
    for device, expected in (("5e:00.2", ["web"]), ("5e:00.0", ["web"]), ("5e:00.3", []), ("00:1f.6", [])):
        run = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--device", device, "--format", "json")
        assert [p["name"] for p in run.json["pairs"]] == expected, device


def test_audit_finds_a_renumbered_primary(
    cli: Callable[..., Run], registry: str, host_root: Callable[[Host], Path]
) -> None:
    assert _register(cli, registry, "web", "5e:00.2").code == 0
    base = demo_pf()
    moved = replace(base, pf=replace(base.pf, bdf="0000:5e:00.0"), offset=4)  # the VFs now start at 5e:00.4
    root = str(host_root(demo_host(pf=moved)))
    document = cli("--sysfs-root", root, "audit", "--registry", registry, "--format", "json").json
    (pair,) = document["pairs"]
    assert (pair["primary"], pair["found"]) == (
        "0000:5e:00.4",
        "moved from 0000:5e:00.2: VF 0 of PF 0000:5e:00.0 (found by PF interface MAC)",
    )


def test_audit_reports_a_vanished_primary_and_a_bad_record(
    cli: Callable[..., Run], registry: str, host_root: Callable[[Host], Path]
) -> None:
    assert _register(cli, registry, "web", "5e:00.2").code == 0
    Path(registry, "broken.json").write_text("{not json")
    root = str(host_root(demo_host(pf=replace(demo_pf(), vfs=(), admin=()))))
    run = cli("--sysfs-root", root, "audit", "--registry", registry, "--format", "json")
    assert run.code == 1
    (pair,) = run.json["pairs"]
    assert (pair["verdict"], pair["found"]) == (
        "not-ready",
        "PF 0000:5e:00.0 (found by PF interface MAC) has no VF 0: were its VFs recreated?",
    )
    assert len(run.json["problems"]) == 1
    assert run.json["problems"][0].startswith(f"{registry}/broken.json: ")


def test_textfile_is_written_atomically(cli: Callable[..., Run], registry: str, tmp_path: Path) -> None:
    assert _register(cli, registry, "web", "5e:00.2").code == 0
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    run = cli(
        "--sysfs-root",
        DEMO,
        "audit",
        "--registry",
        registry,
        "--format",
        "prometheus",
        "--textfile-dir",
        str(textfiles),
    )
    assert (run.code, run.out) == (0, "")
    assert sorted(p.name for p in textfiles.iterdir()) == [".lock", "pcie_failover.prom"]
    assert (
        'pcie_failover_pair_ready{pair="web",vm="",primary="0000:5e:00.2"} 1'
        in (textfiles / "pcie_failover.prom").read_text()
    )


def test_a_failed_write_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "pcie_failover.prom"
    files.atomic_write(str(target), b"old\n")

    def crash(*_: object, **__: object) -> None:
        raise OSError("killed mid-write")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed mid-write"):
        files.atomic_write(str(target), b"new\n")
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pcie_failover.prom"]


def test_symlinked_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pcie_failover.prom").symlink_to("/etc/passwd")
    with pytest.raises(files.UnsafePathError, match="is not a regular file"):
        files.atomic_write(str(tmp_path / "pcie_failover.prom"), b"x")


def test_a_burst_of_triggers_runs_at_most_two_audits(tmp_path: Path) -> None:
    """128 udev events (64 VFs: a change and a bind each) during an audit: one more audit, not 128."""
    state = str(tmp_path / "run")
    runs: list[float] = []
    started, burst_over = threading.Event(), threading.Event()

    def audit() -> int:
        runs.append(time.monotonic())
        started.set()
        if len(runs) == 1:
            assert burst_over.wait(30)  # the whole burst arrives while the first audit runs
        return 0

    first = threading.Thread(target=coalesced, args=(state, audit))
    first.start()
    assert started.wait(30)
    triggers = [threading.Thread(target=coalesced, args=(state, audit)) for _ in range(128)]
    for thread in triggers:
        thread.start()
    for thread in triggers:
        thread.join()  # each one marked the request and left: the lock was taken
    assert len(runs) == 1
    burst_over.set()
    first.join()
    assert len(runs) == 2
    later = coalesced(state, audit)
    assert (later.runs, len(runs)) == (1, 3)


def test_pair_save_registers_the_pair(cli: Callable[..., Run], registry: str) -> None:
    save = ("pair", "5e:00.2", "--format", "qemu", "--save", "web1", "--registry", registry)
    # Without --mac, pair derives a MAC the VF does not have yet (its host step is not taken): not saved
    pending = cli("--sysfs-root", DEMO, *save)
    assert (pending.code, pending.err) == (
        1,
        "pcie-failover pair: --save: 0000:5e:00.2 is not ready (vf-mac): fix it, or register with --force\n",
    )
    assert not Path(registry, "web1.json").exists()
    run = cli("--sysfs-root", DEMO, *save, "--mac", "52:54:00:6f:55:cc")
    assert run.code == 0
    assert run.err == f"pcie-failover pair: registered web1 -> {registry}/web1.json\n"
    assert json.loads(Path(registry, "web1.json").read_text())["mac"] == "52:54:00:6f:55:cc"
    refused = cli("--sysfs-root", DEMO, "pair", "5e:00.4", "--save", "db", "--registry", registry)
    assert refused.code == 1
    assert not Path(registry, "db.json").exists()


def test_unregister(cli: Callable[..., Run], registry: str) -> None:
    assert _register(cli, registry, "web", "5e:00.2").code == 0
    run = cli("unregister", "web", "--registry", registry, "--format", "json")
    assert (run.code, run.json["removed"]) == (0, "web")
    assert not Path(registry, "web.json").exists()
    again = cli("unregister", "web", "--registry", registry)
    assert (again.code, again.err) == (2, f"pcie-failover unregister: no pair 'web' in {registry}\n")
