"""Registered pairs: the registry's safety, audits in every format, renumbering, coalesced bursts."""

from __future__ import annotations

import fcntl
import json
import os
import re
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
from pcie_failover.audit.command import audit_once
from pcie_failover.audit.registry import Registry
from pcie_failover.sysfs.root import SysfsRoot
from tests.support.cli import Run
from tests.support.golden import compare_entry

DEMO = str(Path(__file__).parent.parent / "fixtures_sysfs" / "demo-host")
LIVE_PCI = Path("/sys/bus/pci/devices")
VLAN = "vf-vlan: VF VLAN 100 (qos 0) is set on the PF: the standby must reach VLAN 100 too"


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
        "sysfs_root": os.path.realpath(DEMO),  # a copied tree: the live audit will not take it for this host
        "mac_from": "vf",  # no --mac: the VF's admin MAC, which is no proof of an administrator's
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
    assert [(p["name"], p["verdict"], p["found"], p["shared_with"]) for p in document["pairs"]] == [
        ("db", "not-ready", "at its registered address", []),
        ("web1-net0", "ready", "at its registered address", []),
    ]


def test_prometheus_is_one_series_per_state(cli: Callable[..., Run], registry: str) -> None:
    """Exact exposition text (golden; the audit's time and duration masked): per pair its readiness, its verdict,
    each check's current status and the pairs sharing its primary, each series 1; 16 series for a lone pair."""
    assert _register(cli, registry, "web1-net0", "5e:00.2", "--vm", "web1").code == 0
    assert _register(cli, registry, "db", "5e:00.4", "--force", "--mac", "52:54:00:00:00:09").code == 0
    assert _register(cli, registry, "twin", "5e:00.2", "--force").code == 0
    assert _register(cli, registry, "vlan", "5e:00.5").code == 0
    Path(registry, "broken.json").write_text("{")
    run = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--format", "prometheus")
    assert run.code == 1
    text = re.sub(r"^(pcie_failover_audit_\w+) [0-9.]+$", r"\1 T", run.out, flags=re.MULTILINE)
    compare_entry("audit", "prometheus", text.splitlines())
    assert sum(1 for line in text.splitlines() if 'pair="vlan"' in line) == 16


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
    assert sorted(p.name for p in textfiles.iterdir()) == ["pcie_failover.prom"]  # no lock file for node_exporter
    assert (
        'pcie_failover_pair_ready{pair="web",vm="",primary="0000:5e:00.2"} 1'
        in (textfiles / "pcie_failover.prom").read_text()
    )


@pytest.mark.parametrize("command", ["audit", "watch"])
def test_a_textfile_dir_without_prometheus_is_refused(
    cli: Callable[..., Run], registry: str, tmp_path: Path, command: str
) -> None:
    """Not silently ignored: node_exporter would keep a stale file while the user believes it is written."""
    run = cli("--sysfs-root", DEMO, command, "--registry", registry, "--textfile-dir", str(tmp_path))
    assert (run.code, run.out) == (2, "")
    assert run.err == (
        f"pcie-failover {command}: --textfile-dir writes Prometheus text: it needs --format prometheus"
        f" (try 'pcie-failover {command} --help')\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_textfile_audit_holds_an_flock_on_the_directory(registry: str, tmp_path: Path) -> None:
    """The audit and its write wait for the directory's flock (another audit's), and leave no file but their own."""
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    codes: list[int] = []

    def audit() -> None:
        once = audit_once(
            SysfsRoot(DEMO),
            Registry(registry),
            device=None,
            output="prometheus",
            textfile_dir=str(textfiles),
            journal=False,
            strict=False,
            emit=print,
        )
        codes.append(once)

    held = os.open(textfiles, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        thread = threading.Thread(target=audit)
        thread.start()
        thread.join(0.5)
        assert (thread.is_alive(), list(textfiles.iterdir())) == (True, [])
    finally:
        os.close(held)  # releases the lock
    thread.join(30)
    assert (codes, [p.name for p in textfiles.iterdir()]) == ([0], ["pcie_failover.prom"])


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
        "pcie-failover pair: --save: 0000:5e:00.2 is not ready (vf-mac): take the host steps above,"
        " then pair --save again (or: register NAME DEVICE --mac MAC --force)\n",
    )
    assert not Path(registry, "web1.json").exists()
    run = cli("--sysfs-root", DEMO, *save, "--mac", "52:54:00:6f:55:cc")
    assert run.code == 0
    assert run.err == f"pcie-failover pair: registered web1 -> {registry}/web1.json\n"
    assert json.loads(Path(registry, "web1.json").read_text())["mac"] == "52:54:00:6f:55:cc"
    other = str(Path(registry).parent / "other-registry")
    quiet = cli("-q", "--sysfs-root", DEMO, *save[:-1], other, "--mac", "52:54:00:6f:55:cc")
    assert (quiet.code, quiet.out, quiet.err) == (0, "", "")  # -q: the exit code only
    assert Path(other, "web1.json").exists()
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


def test_a_named_registry_that_does_not_exist_is_a_registry_problem(
    cli: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in --registry or PCIE_FAILOVER_REGISTRY is reported in every format and exits 4, never "all ready";
    only the default registry may be missing (before the first `register`)."""
    missing = str(tmp_path / "pairs.typo")
    problem = f"{missing} does not exist: no pair is audited"
    audit = ("--sysfs-root", DEMO, "audit")
    for named in (("--registry", missing), ()):
        if not named:
            monkeypatch.setenv("PCIE_FAILOVER_REGISTRY", missing)
        table = cli(*audit, *named, "--journal")
        assert (table.code, table.out, table.err) == (
            4,
            f"no registered pairs\nregistry: {problem}\n",
            f"<4>registry: {problem}\n",
        ), named
        document = cli(*audit, *named, "--format", "json")
        assert (document.code, document.json["verdict"], document.json["problems"]) == (4, "undetermined", [problem])
        prometheus = cli(*audit, *named, "--format", "prometheus")
        assert (prometheus.code, "\npcie_failover_registry_problems 1\n" in prometheus.out) == (4, True)
    monkeypatch.delenv("PCIE_FAILOVER_REGISTRY")
    monkeypatch.setattr("pcie_failover.audit.cli.DEFAULT_REGISTRY", missing)
    default = cli(*audit)
    assert (default.code, default.out, default.err) == (0, "no registered pairs\n", "")


def test_a_primary_is_registered_for_one_pair_unless_forced(cli: Callable[..., Run], registry: str) -> None:
    assert _register(cli, registry, "web", "5e:00.2", "--vm", "web1").code == 0
    refused = _register(cli, registry, "db", "5e:00.2")
    assert (refused.code, refused.err) == (
        2,
        "pcie-failover register: 0000:5e:00.2 is already the primary of pair 'web' (one VF serves one VM):"
        " unregister it, or register with --force\n",
    )
    assert not Path(registry, "db.json").exists()
    assert _register(cli, registry, "web", "5e:00.2", "--replace").code == 0  # its own primary
    forced = _register(cli, registry, "db", "5e:00.2", "--force", "--mac", "52:54:00:6f:55:cc")
    assert (forced.code, forced.err) == (
        0,
        "pcie-failover register: warning: 0000:5e:00.2 is also the primary of pair 'web':"
        " audit reports each of them not ready\n",
    )
    third = _register(cli, registry, "db2", "5e:00.2", "--force", "--mac", "52:54:00:6f:55:cc")
    assert (third.code, third.err) == (
        0,
        "pcie-failover register: warning: 0000:5e:00.2 is also the primary of pairs 'db', 'web':"
        " audit reports each of them not ready\n",
    )
    assert _register(cli, registry, "lone", "5e:00.5").code == 0
    journal = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--journal")
    assert (journal.code, journal.err.splitlines()) == (
        1,
        [
            "<3>pair db (0000:5e:00.2): not-ready: primary shared with pairs db2, web",
            "<3>pair db2 (0000:5e:00.2): not-ready: primary shared with pairs db, web",
            "<6>pair lone (0000:5e:00.5): ready",
            "<3>pair web (0000:5e:00.2): not-ready: primary shared with pairs db, db2",
        ],
    )
    assert "\ndb2     -     0000:5e:00.2  not-ready  primary shared with pairs db, web\n" in journal.out
    # --device keeps only web, which is still reported shared with the pairs it leaves out
    only = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--device", "5e:00.2", "--format", "json")
    assert [(p["name"], p["verdict"], p["shared_with"]) for p in only.json["pairs"]] == [
        ("db", "not-ready", ["db2", "web"]),
        ("db2", "not-ready", ["db", "web"]),
        ("web", "not-ready", ["db", "db2"]),
    ]
    prometheus = cli("--sysfs-root", DEMO, "audit", "--registry", registry, "--format", "prometheus").out
    shared = [line for line in prometheus.splitlines() if line.startswith("pcie_failover_pair_primary_shared{")]
    assert shared == [
        f'pcie_failover_pair_primary_shared{{pair="{pair}",other="{other}"}} 1'
        for pair, others in (("db", ("db2", "web")), ("db2", ("db", "web")), ("web", ("db", "db2")))
        for other in others
    ]


def test_a_primary_is_compared_where_the_audit_finds_it(
    cli: Callable[..., Run], registry: str, host_root: Callable[[Host], Path]
) -> None:
    """After renumbering, web's record names 5e:00.2, but its VF is 5e:00.4 now: that VF is web's."""
    assert _register(cli, registry, "web", "5e:00.2").code == 0
    base = demo_pf()
    moved = str(host_root(demo_host(pf=replace(base, offset=4))))
    taken = _register(cli, registry, "db", "5e:00.4", root=moved)
    assert (taken.code, taken.err) == (
        2,
        "pcie-failover register: 0000:5e:00.4 is already the primary of pair 'web' (one VF serves one VM):"
        " unregister it, or register with --force\n",
    )
    assert _register(cli, registry, "db", "5e:00.4", "--force", root=moved).code == 0
    document = cli("--sysfs-root", moved, "audit", "--registry", registry, "--format", "json").json
    assert [(p["name"], p["registered_bdf"], p["primary"], p["shared_with"]) for p in document["pairs"]] == [
        ("db", "0000:5e:00.4", "0000:5e:00.4", ["web"]),
        ("web", "0000:5e:00.2", "0000:5e:00.4", ["db"]),
    ]


def test_register_from_a_copied_tree_stays_out_of_the_system_registry(
    cli: Callable[..., Run], registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pcie_failover.audit.register.DEFAULT_REGISTRY", registry)  # stands for /etc/...
    run = _register(cli, registry + "/", "web", "5e:00.2")
    assert (run.code, run.err) == (
        2,
        f"pcie-failover register: {os.path.realpath(DEMO)} is a copied tree, not this host's /sys: register its"
        f" pairs with --registry DIR, not in {registry} (the live audit would not audit them)\n",
    )
    assert not Path(registry).exists()


@pytest.mark.skipif(not LIVE_PCI.is_dir(), reason="the live audit needs /sys/bus/pci")
def test_the_live_audit_reports_a_pair_of_a_copied_tree(cli: Callable[..., Run], registry: str) -> None:
    """Not "gone": a registry problem (exit 4) naming the tree; an audit of that tree audits it."""
    assert _register(cli, registry, "web", "5e:00.2").code == 0
    problem = (
        f"{registry}/web.json: registered from the copied tree {os.path.realpath(DEMO)}, not this host:"
        " not audited (unregister it, or audit that tree with --sysfs-root)"
    )
    table = cli("audit", "--registry", registry)
    assert (table.code, table.out) == (4, f"no registered pairs\nregistry: {problem}\n")
    document = cli("audit", "--registry", registry, "--format", "json").json
    assert (document["pairs"], document["problems"]) == ([], [problem])
    assert "\npcie_failover_registry_problems 1\n" in cli("audit", "--registry", registry, "--format", "prometheus").out
    assert cli("--sysfs-root", DEMO, "audit", "--registry", registry).code == 0


def test_the_table_shows_what_decides_the_verdict(cli: Callable[..., Run], registry: str) -> None:
    """A warning is listed apart (the pair is ready), or, with --strict, as what is wrong; --device names its miss."""
    assert _register(cli, registry, "vlan", "5e:00.5", "--vm", "db1", "--mac", "52:54:00:00:00:03").code == 0
    audit = ("--sysfs-root", DEMO, "audit", "--registry", registry)
    ready = cli(*audit)
    assert (ready.code, ready.out) == (
        0,
        "pair    vm    primary       verdict    what is wrong\n"
        "------  ----  ------------  ---------  ---------------\n"
        "vlan    db1   0000:5e:00.5  ready      -\n"
        "warnings (not failures; --strict makes them so):\n"
        f"  vlan: {VLAN}\n",
    )
    strict = cli(*audit, "--strict", "--journal")
    assert (strict.code, strict.out.splitlines()[2], strict.err) == (
        1,
        f"vlan    db1   0000:5e:00.5  not-ready  {VLAN}",
        f"<3>pair vlan (0000:5e:00.5): not-ready: {VLAN}\n",
    )
    assert "warnings" not in strict.out
    missed = cli(*audit, "--device", "00:1f.6")
    assert (missed.code, missed.out) == (0, "no registered pair uses 0000:00:1f.6\n")
