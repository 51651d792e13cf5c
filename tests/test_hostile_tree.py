"""Hostile sysfs trees: links placed mid-path, special files at attribute paths, names with control characters.

Each case builds the demo host, breaks one thing the way a doctored copy (or a bug report's
snapshot) could, and runs check, list, pair and capture on it, as root and as nobody. The
exit codes and the one message that names the broken path are exact; nothing outside the
root reaches any output or the archive; no raw control character reaches any output; the
archive holds nothing an extractor could be led out of `sysfs/` by.
"""

from __future__ import annotations

import io
import json
import os
import socket
import stat
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_sysfs.builder import build
from fixtures_sysfs.hosts import demo_host
from pcie_failover.sysfs.root import MAX_LINKS
from tests.support.hostile import (
    PF_DIR,
    RAW_CONTROLS,
    SECRET,
    VF_DIR,
    Outcome,
    archive_problems,
    decoy_of,
    non_regular_opens,
    relink,
    remove,
    run_as,
    run_here,
)

ABSOLUTE = "link points outside the sysfs root (absolute target)"
OUTSIDE = "link points outside the sysfs root"
LOOP = "too many levels of symbolic links"
MISSING = "missing"  # the site's own wording for a path that leads nowhere
EVERY_DEVICE = ["0000:00:1f.6", *(f"0000:5e:00.{function}" for function in range(6))]


def _demo(shared: Path) -> tuple[Path, Path]:
    root = build(demo_host(), shared / "sys")
    outside = shared / "outside"
    outside.mkdir()
    return root, outside


def _chain(path: Path, links: int) -> None:
    """`path` becomes the first of `links` links in a row, the last one to what `path` was."""
    real = path.with_name(f"{path.name}.real")
    path.rename(real)
    previous = real.name
    for i in range(links - 1):
        link = path.with_name(f"{path.name}.{i}")
        link.symlink_to(previous)
        previous = link.name
    path.symlink_to(previous)


def _ping_pong(path: Path) -> None:
    relink(path, f"{path.name}.pong")
    path.with_name(f"{path.name}.pong").symlink_to(path.name)


# layout -> (how to plant it at `rel`, the reason a read through it is refused; None: followed, inside the root)
LAYOUTS: dict[str, tuple[Callable[[Path, str, Path], None], str | None]] = {
    "absolute-to-decoy": (lambda root, rel, out: relink(root / rel, str(decoy_of(root, rel, out))), ABSOLUTE),
    "relative-to-decoy": (
        lambda root, rel, out: relink(root / rel, os.path.relpath(decoy_of(root, rel, out), (root / rel).parent)),
        OUTSIDE,
    ),
    "to-slash": (lambda root, rel, _out: relink(root / rel, "/"), ABSOLUTE),
    "relative-to-slash": (lambda root, rel, _out: relink(root / rel, "../" * 64), OUTSIDE),
    "absolute-to-the-root": (lambda root, rel, _out: relink(root / rel, str(root)), ABSOLUTE),
    "relative-to-the-root": (
        lambda root, rel, _out: relink(root / rel, os.path.relpath(root, (root / rel).parent)),
        MISSING,
    ),
    "self-loop": (lambda root, rel, _out: relink(root / rel, Path(rel).name), LOOP),
    "ping-pong-loop": (lambda root, rel, _out: _ping_pong(root / rel), LOOP),
    "chain-within-the-limit": (lambda root, rel, _out: _chain(root / rel, MAX_LINKS - 12), None),
    "chain-past-the-limit": (lambda root, rel, _out: _chain(root / rel, MAX_LINKS + 1), LOOP),
    "dangling": (lambda root, rel, _out: relink(root / rel, "nowhere"), MISSING),
}

# where the layout is planted -> (the check that reads through it, its message, its wording for MISSING,
# exit codes of check / list / pair --force when refused, the devices list then lists)
SITES: dict[str, tuple[str, str, str, tuple[int, int, int], list[str]]] = {
    "devices/pci0000:5d": (  # mid-path of every device below the port: the primary itself
        "address",
        "0000:5e:00.2 could not be read (bus/pci/devices/0000:5e:00.2: {reason})",
        "ENOENT (No such file or directory)",
        (4, 0, 1),
        ["0000:00:1f.6"],
    ),
    "class/net": (  # mid-path of every interface's attributes
        "pf-link",
        "enp94s0f0np0's flags could not be read (class/net/enp94s0f0np0/flags: {reason})",
        "ENOENT (No such file or directory)",
        (4, 0, 2),
        EVERY_DEVICE,
    ),
    "kernel/iommu_groups": (  # mid-path of every group's member listing
        "iommu-group",
        "IOMMU group 23 could not be read (kernel/iommu_groups/23/devices: {reason})",
        "no such group",
        (4, 0, 0),
        EVERY_DEVICE,
    ),
}


def _commands(root: Path) -> list[tuple[str, ...]]:
    base = ("--sysfs-root", str(root))
    return [
        (*base, "check", "5e:00.2", "--format", "json"),
        (*base, "list", "--format", "json"),
        (*base, "pair", "5e:00.2", "--force"),
        (*base, "capture", "-o", "-"),
    ]


def _checks(outcome: Outcome) -> dict[str, dict[str, str]]:
    return {c["id"]: c for c in json.loads(outcome.out)["checks"]}


def _clean(outcomes: list[Outcome]) -> None:
    """Nothing from outside the root, no traceback, no raw control character; the archive is safe."""
    for outcome in outcomes[:-1]:
        assert SECRET not in outcome.text
        assert "Traceback" not in outcome.text
        assert not any(raw in outcome.out + outcome.err for raw in RAW_CONTROLS)
    capture = outcomes[-1]
    assert capture.code == 0, capture.stderr
    assert archive_problems(capture.out) == []


@pytest.mark.parametrize("site", sorted(SITES))
def test_a_link_mid_path_never_leads_out(user: str, shared: Path, site: str) -> None:
    """Every layout at `site`, one tree each (run as one batch: a process per user, not per command)."""
    roots = {}
    for layout, (plant, _) in LAYOUTS.items():
        root = build(demo_host(), shared / layout / "sys")
        (shared / layout / "outside").mkdir()
        plant(root, site, shared / layout / "outside")
        roots[layout] = root
    plain = build(demo_host(), shared / "plain")
    commands = [command for root in roots.values() for command in _commands(root)]
    *outcomes, baseline = run_as(user, [*commands, _commands(plain)[0]])
    check_id, message, missing, codes, listed = SITES[site]
    for i, (layout, (_, reason)) in enumerate(LAYOUTS.items()):
        check, listing, pair, capture = outcomes[4 * i : 4 * i + 4]
        _clean([check, listing, pair, capture])
        devices = [d["bdf"] for d in json.loads(listing.out)["devices"]]
        if reason is None:  # followed inside the root: reads exactly as the plain tree
            assert (check.code, _checks(check), devices) == (baseline.code, _checks(baseline), EVERY_DEVICE), layout
            continue
        shown = message.format(reason=missing if reason == MISSING else reason)
        assert (check.code, listing.code, pair.code) == codes, (layout, pair.stderr)
        assert (_checks(check)[check_id]["status"], _checks(check)[check_id]["message"]) == ("unknown", shown), layout
        assert devices == listed, layout


def test_the_red_team_tree_captures_no_etc(user: str, shared: Path) -> None:
    """`devices/virtual/net` -> /etc: the capture that once archived /etc/shadow as root."""
    root, _ = _demo(shared)
    relink(root / "devices/virtual/net", "/etc")
    outcomes = run_as(user, _commands(root))
    _clean(outcomes)
    assert b"root:" not in outcomes[-1].out
    assert [o.code for o in outcomes] == [0, 0, 0, 0]


def _plant(path: Path, kind: str) -> None:
    remove(path)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        here = os.getcwd()
        os.chdir(path.parent)  # a socket's path is limited to 108 bytes
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path.name)
        finally:
            os.chdir(here)
    elif kind == "char-device":
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(5, 0))  # /dev/tty: opening it would attach a terminal
    elif kind == "block-device":
        os.mknod(path, stat.S_IFBLK | 0o666, os.makedev(7, 0))  # /dev/loop0
    else:
        path.mkdir()
        (path / "vendor").write_text("0x15b3\n")


NOT_REGULAR = "not a regular file"
# an attribute -> the check that reads it and what that check says when it is not a regular file
ATTRIBUTES = {
    f"{VF_DIR}/class": ("ethernet", f"the class could not be read ({VF_DIR}/class: {NOT_REGULAR})"),
    f"{VF_DIR}/reset_method": ("reset", f"reset_method could not be read ({VF_DIR}/reset_method: {NOT_REGULAR})"),
    f"{PF_DIR}/net/enp94s0f0np0/flags": (
        "pf-link",
        f"enp94s0f0np0's flags could not be read (class/net/enp94s0f0np0/flags: {NOT_REGULAR})",
    ),
    "pcie-failover-snapshot.links/enp94s0f0np0.json": (
        "vf-vlan",
        "the VF settings of enp94s0f0np0 could not be read "
        f"(pcie-failover-snapshot.links/enp94s0f0np0.json: {NOT_REGULAR})",
    ),
}
SIDECAR = (
    "vf-vlan",
    "the VF settings of enp94s0f0np0 could not be read "
    f"(netlink enp94s0f0np0: pcie-failover-snapshot.json: {NOT_REGULAR})",
)
KINDS = ("fifo", "socket", "char-device", "block-device", "directory")


def test_only_regular_files_are_attributes(user: str, shared: Path) -> None:
    """Each kind of special file at each attribute (the sidecar in a tree of its own: it hides the links file)."""
    kinds = KINDS if os.geteuid() == 0 else tuple(k for k in KINDS if not k.endswith("device"))  # mknod: root
    commands = []
    for kind in kinds:
        root = build(demo_host(), shared / kind / "attributes")
        for rel in ATTRIBUTES:
            _plant(root / rel, kind)
        sidecar_root = build(demo_host(), shared / kind / "sidecar")
        _plant(sidecar_root / "pcie-failover-snapshot.json", kind)
        commands += [*_commands(root), *_commands(sidecar_root)]
    outcomes = run_as(user, commands)
    for i, kind in enumerate(kinds):
        attributes, sidecar = outcomes[8 * i : 8 * i + 4], outcomes[8 * i + 4 : 8 * i + 8]
        _clean(attributes)
        _clean(sidecar)
        assert [o.code for o in attributes] == [4, 0, 0, 0], kind
        assert [o.code for o in sidecar] == [4, 0, 0, 0], kind
        checks = _checks(attributes[0])
        for check_id, message in ATTRIBUTES.values():
            assert (checks[check_id]["status"], checks[check_id]["message"]) == ("unknown", message), kind
        check_id, message = SIDECAR
        assert (_checks(sidecar[0])[check_id]["status"], _checks(sidecar[0])[check_id]["message"]) == (
            "unknown",
            message,
        ), kind


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_no_device_node_or_fifo_is_ever_opened(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every regular file of the tree replaced by a device node or a FIFO: not one is opened (only looked at)."""
    root, _ = _demo(shared)
    planted = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            _plant(path, ("char-device", "block-device", "fifo")[planted % 3])
            planted += 1
    opened = non_regular_opens(monkeypatch)
    outcomes = run_here([*_commands(root), ("--sysfs-root", str(root), "check", "enp94s0f0np0")])
    assert planted > 150
    assert [o.code for o in outcomes] == [4, 0, 2, 0, 1]
    assert opened == []


EVIL = "\x1b[2J\n<0>\u202e\x07"  # clear screen, a forged journal line, a bidi override, a bell


def _rename(root: Path, rel: str, name: str, link: str | None) -> None:
    """Rename `rel` to `name`, and point `link` (the kernel's link to it) at the new name."""
    new = (root / rel).with_name(name)
    (root / rel).rename(new)
    if link is not None:
        relink(root / link, os.path.relpath(new, (root / link).parent))


ESCAPED = "\\x1b[2J\\n<0>\\u202e\\x07"
# where a name with control characters is planted -> (how, the check that shows it, that check's status and
# message or None for "as on the plain tree", exit codes of check / list / pair --force, the devices listed)
NAMES: dict[str, tuple[Callable[[Path], None], str, tuple[str, str] | None, tuple[int, int, int], list[str]]] = {
    "device-directory": (
        lambda root: _rename(root, VF_DIR, f"0000:5e:00.2{EVIL}", "bus/pci/devices/0000:5e:00.2"),
        "address",
        (
            "unknown",
            "0000:5e:00.2 could not be read (bus/pci/devices/0000:5e:00.2: a path component with control characters)",
        ),
        (4, 0, 1),
        [d for d in EVERY_DEVICE if d != "0000:5e:00.2"],
    ),
    "iommu-group-directory": (
        lambda root: _rename(root, "kernel/iommu_groups/23", f"23{EVIL}", f"{VF_DIR}/iommu_group"),
        "iommu-group",
        ("unknown", f"the IOMMU group could not be read ({VF_DIR}/iommu_group: unexpected link target '23{ESCAPED}')"),
        (4, 0, 0),
        EVERY_DEVICE,
    ),
    "driver-directory": (
        lambda root: _rename(root, "bus/pci/drivers/vfio-pci", f"vfio{EVIL}", f"{VF_DIR}/driver"),
        "driver",
        ("unknown", f"the driver link could not be read ({VF_DIR}/driver: unexpected link target 'vfio{ESCAPED}')"),
        (4, 0, 0),
        EVERY_DEVICE,
    ),
    "interface-directory": (
        lambda root: _rename(root, f"{PF_DIR}/net/enp94s0f0np0", f"enp{EVIL}", "class/net/enp94s0f0np0"),
        "pf-link",
        ("unknown", "PF 0000:5e:00.0 has no network interface (driver: mlx5_core)"),
        (4, 0, 2),
        EVERY_DEVICE,
    ),
    "slot-directory": (
        lambda root: _rename(root, "bus/pci/slots/4", f"4{EVIL}", None),
        "host-slot",
        ("skip", "no slot under 0000:5d:00.0 (informational: the VF itself never leaves the host)"),
        (0, 0, 0),
        EVERY_DEVICE,
    ),
    "class-net-entry": (
        lambda root: (root / "class/net" / f"ev{EVIL}").symlink_to("../../devices/virtual/net/br0"),
        "pf-link",
        None,
        (0, 0, 0),
        EVERY_DEVICE,
    ),
    "pci-devices-entry": (
        lambda root: (root / "bus/pci/devices" / f"0000:5e:00.2{EVIL}").symlink_to(f"../../../{VF_DIR}"),
        "address",
        None,
        (0, 0, 0),
        EVERY_DEVICE,
    ),
}


def test_names_with_control_characters_reach_no_output_raw(user: str, shared: Path) -> None:
    commands = []
    for where, (plant, *_) in NAMES.items():
        root = build(demo_host(), shared / where)
        plant(root)
        base = ("--sysfs-root", str(root))
        commands += [(*base, "check", "5e:00.2"), (*base, "list"), *_commands(root)]
    *outcomes, baseline = run_as(user, [*commands, _commands(build(demo_host(), shared / "plain"))[0]])
    for i, (where, (_, check_id, shown, codes, listed)) in enumerate(NAMES.items()):
        table, listing, check, devices, pair, capture = outcomes[6 * i : 6 * i + 6]
        _clean([table, listing, check, devices, pair, capture])
        assert (table.code, check.code, devices.code, pair.code) == (codes[0], *codes), where
        found = _checks(check)[check_id]
        if shown is None:
            assert found == _checks(baseline)[check_id], where
        else:
            assert (found["status"], found["message"]) == shown, where
        assert [d["bdf"] for d in json.loads(devices.out)["devices"]] == listed, where


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (("check", "5e:00.2"), "pcie_failover.check.command.run_check"),
        (("list",), "pcie_failover.listing.command.run_list"),
        (("capture", "-o", "-"), "pcie_failover.capture.command.run_capture"),
        (("audit", "--registry", "/nonexistent"), "pcie_failover.audit.command.run_audit"),
    ],
)
def test_a_crash_is_exit_70_and_one_escaped_line(
    shared: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], target: str
) -> None:
    """A bug exits 70, never 1 or 4 (which the audit unit counts as findings), with one line naming it."""
    root, _ = _demo(shared)

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("boom\n<0>forged")

    monkeypatch.setattr(target, crash)
    (table,) = run_here([("--sysfs-root", str(root), *args)])
    (document,) = run_here([("--sysfs-root", str(root), *args, "--format", "json")])
    command = args[0]
    assert (table.code, table.out, table.stderr) == (
        70,
        b"",
        f"pcie-failover {command}: internal error: RuntimeError: boom\\x0a<0>forged\n",
    )
    assert document.code == 70
    assert json.loads(document.out)["error"] == {
        "code": 70,
        "kind": "internal",
        "message": "internal error: RuntimeError: boom\n<0>forged",
    }


def test_ip_comes_from_a_system_path_with_a_fixed_environment(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile PATH (an `ip` of the user's first) and environment never reach the `ip` that runs as root."""
    from pcie_failover.adapters import iproute

    fake = shared / "bin" / "ip"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\necho '{SECRET}'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ.get('PATH', '')}")
    monkeypatch.setenv("LD_PRELOAD", str(shared / "evil.so"))
    seen: list[tuple[list[str], dict[str, str]]] = []

    def run(argv: list[str], **options: object) -> object:
        seen.append((argv, options["env"]))  # type: ignore[arg-type]
        raise OSError("not run in this test")

    monkeypatch.setattr(subprocess, "run", run)
    live = iproute.LiveIproute()
    live.vf_admin("eth0")
    if live.ip is None:
        assert seen == []
        return
    ((argv, env),) = seen
    assert argv[0] in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")
    assert env == {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


DEEP = "[" * 100_000 + "]" * 100_000  # past Python's recursion limit, within the 64 MiB sidecar bound
UNREADABLE_VF_SETTINGS = "the VF settings of enp94s0f0np0 could not be read"


def test_deep_or_huge_json_is_unknown_or_one_line_never_a_crash(user: str, shared: Path) -> None:
    """Deeply nested JSON and 5000-digit numbers (sidecar, links file, lint's JSON -device) are refused in one line."""
    links = build(demo_host(), shared / "links")
    (links / "pcie-failover-snapshot.links/enp94s0f0np0.json").write_text(DEEP)
    sidecar = build(demo_host(), shared / "sidecar")
    document = sidecar / "pcie-failover-snapshot.json"
    document.write_text(document.read_text().replace('"version": 2', '"version": ' + "2" * 5000, 1))
    deep_device = '{"a":' + "[" * 5000 + "]" * 5000 + "}"
    huge_device = '{"driver":"e1000e","chassis":' + "9" * 5000 + "}"
    for name, device in (("deep.args", deep_device), ("huge.args", huge_device)):
        (shared / name).write_text(f"-machine q35 -device '{device}'\n")
    check_links, check_sidecar, lint_deep, lint_huge = run_as(
        user,
        [
            ("--sysfs-root", str(links), "check", "5e:00.2", "--format", "json"),
            ("--sysfs-root", str(sidecar), "check", "5e:00.2", "--format", "json"),
            ("lint", "--qemu-args", str(shared / "deep.args")),
            ("lint", "--qemu-args", str(shared / "huge.args")),
        ],
    )
    assert (check_links.code, _checks(check_links)["vf-vlan"]["message"]) == (
        4,
        f"{UNREADABLE_VF_SETTINGS} (pcie-failover-snapshot.links/enp94s0f0np0.json: "
        "not valid JSON (nested more than 64 levels deep))",
    )
    assert (check_sidecar.code, _checks(check_sidecar)["vf-vlan"]["message"]) == (
        4,
        f"{UNREADABLE_VF_SETTINGS} (netlink enp94s0f0np0: pcie-failover-snapshot.json is not valid JSON "
        "(a number of 5000 characters (at most 40)))",
    )
    for run, reason, device in (
        (lint_deep, "nested more than 64 levels deep", deep_device),
        (lint_huge, "a number of 5000 characters (at most 40)", huge_device),
    ):
        assert (run.code, run.out) == (2, b"")
        message = f"JSON refused ({reason}): -device {device}"
        assert run.stderr == f"pcie-failover lint: {message[:297]}...\n"  # one line, cut at 300 characters


def test_a_tree_2000_directories_deep_below_a_device_is_captured_as_the_name_the_readers_listed(
    user: str, shared: Path
) -> None:
    """Capture once copied whole device directories (34 s at depth 1990, before it was made linear); now it keeps
    what the readers touched: the name `d` they listed in the VF's directory, an empty directory, not its depths."""
    root, _ = _demo(shared)
    fd = os.open(root / VF_DIR, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(2000):  # relative to a descriptor each time: the full path is past PATH_MAX
        os.mkdir("d", dir_fd=fd)
        deeper = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = deeper
    os.close(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    os.close(fd)
    (capture,) = run_as(user, [("--sysfs-root", str(root), "capture", "-o", "-")])
    assert capture.code == 0, capture.stderr
    with tarfile.open(fileobj=io.BytesIO(capture.out), mode="r:gz") as tar:
        names = tar.getnames()
    assert f"sysfs/{VF_DIR}/d" in names
    assert not [name for name in names if name.startswith(f"sysfs/{VF_DIR}/d/")]
