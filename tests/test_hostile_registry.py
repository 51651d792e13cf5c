"""Hostile registries: the registry is a trust anchor, so an unsafe one is refused and a bad record is skipped.

An unsafe directory (writable by others, a symbolic link however it is spelled, owned by
another user, not a directory) stops `audit` and `watch` with exit 2 and one line. A record
that is unsafe (a link, a device, a FIFO, a directory, owned by another user, writable by
others, too big) or malformed (every field to the grammar `register` writes: types, slot
and VM names, nesting, number sizes) is reported as one escaped line and skipped; the good
records beside it are audited as usual (exit 4: undetermined at best). Run as root and as
nobody (where "another user" is uid 1: nobody's own registry is its to trust).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures_sysfs.builder import build
from fixtures_sysfs.hosts import demo_host
from pcie_failover.adapters.files import LOCK_NAME
from tests.support.hostile import (
    NOBODY_UID,
    RAW_CONTROLS,
    VF_DIR,
    Outcome,
    as_user,
    non_regular_opens,
    run1,
    run_as,
    run_here,
)

LIVE = Path("/sys/bus/pci/devices")
GOOD: dict[str, Any] = {
    "format": "pcie-failover-pair",
    "version": 1,
    "name": "web",
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
TEXT_AUDIT = "no registered pairs\n"


def _other_uid(user: str) -> int:
    """A user whose files `user` must not trust: nobody for root; for nobody, uid 1 (daemon)."""
    return NOBODY_UID if user == "root" else 1


def _record(name: str, **changes: object) -> dict[str, Any]:
    document = copy.deepcopy(GOOD)
    document["name"] = name
    for key, value in changes.items():
        if key.startswith("primary_"):
            document["primary"][key.removeprefix("primary_")] = value
        else:
            document[key] = value
    return document


def _registry(shared: Path) -> tuple[Path, Path]:
    root = build(demo_host(), shared / "sys")
    registry = shared / "pairs.d"
    registry.mkdir(mode=0o755)
    (registry / "web.json").write_text(json.dumps(GOOD))
    return root, registry


def _audit(root: Path, registry: Path | str, *args: str) -> tuple[str, ...]:
    return ("--sysfs-root", str(root), "audit", "--registry", str(registry), *args)


def _raw_free(*outcomes: Outcome) -> None:
    for outcome in outcomes:
        assert not any(raw in outcome.out + outcome.err for raw in RAW_CONTROLS)
        assert "Traceback" not in outcome.text


# -- the directory ----------------------------------------------------------------------------------


def _symlinked(registry: Path) -> str:
    registry.rename(registry.with_name("real.d"))
    registry.symlink_to("real.d")
    return str(registry)


def _mode(mode: int) -> Callable[[Path, int], str]:
    def make(registry: Path, _uid: int) -> str:
        registry.chmod(mode)
        return str(registry)

    return make


def _owned(registry: Path, uid: int) -> str:
    os.chown(registry, uid, uid)
    return str(registry)


def _a_file(registry: Path, _uid: int) -> str:
    shutil.rmtree(registry)
    registry.write_text("{}")
    return str(registry)


UNSAFE_DIRECTORIES: dict[str, tuple[Callable[[Path, int], str], str]] = {
    "world-writable": (_mode(0o777), "{} is writable by group or others (mode 0777)"),
    "group-writable": (_mode(0o775), "{} is writable by group or others (mode 0775)"),
    "sticky-world-writable": (_mode(0o1777), "{} is writable by group or others (mode 1777)"),
    "symbolic-link": (lambda r, _: _symlinked(r), "{} is a symbolic link"),
    "symbolic-link-with-a-slash": (lambda r, _: _symlinked(r) + "/", "{} is a symbolic link"),
    "symbolic-link-dot": (lambda r, _: _symlinked(r) + "/.", "{} is a symbolic link"),
    "owned-by-another-user": (_owned, "{} is owned by uid {uid}, not by root or this user"),
    "a-file": (_a_file, "{} is not a directory"),
}


@pytest.mark.parametrize("case", list(UNSAFE_DIRECTORIES))
def test_an_unsafe_registry_directory_is_refused(user: str, shared: Path, case: str) -> None:
    root, registry = _registry(shared)
    make, message = UNSAFE_DIRECTORIES[case]
    uid = _other_uid(user)
    path = make(registry, uid)
    table, document = run_as(user, [_audit(root, path), _audit(root, path, "--format", "json")])
    expected = message.format(path, uid=uid)
    assert (table.code, table.out, table.stderr) == (2, b"", f"pcie-failover audit: {expected}\n")
    assert document.code == 2
    assert json.loads(document.out)["error"] == {"code": 2, "kind": "input", "message": expected}


def test_a_registry_of_ones_own_is_trusted(shared: Path) -> None:
    """As nobody, a registry nobody owns is its own (not another user's): audited, not refused."""
    as_user("nobody")
    root, registry = _registry(shared)
    os.chown(registry, NOBODY_UID, NOBODY_UID)
    os.chown(registry / "web.json", NOBODY_UID, NOBODY_UID)
    run = run1("nobody", *_audit(root, registry, "--format", "json"))
    assert (run.code, [p["name"] for p in json.loads(run.out)["pairs"]]) == (0, ["web"])


def test_a_missing_registry_is_a_registry_problem(user: str, shared: Path) -> None:
    """A registry named on the command line that does not exist is reported (exit 4), never "no pairs, all ready"."""
    root, _ = _registry(shared)
    run = run1(user, *_audit(root, shared / "no-such.d"))
    assert (run.code, run.out.decode(), run.err) == (
        4,
        f"{TEXT_AUDIT}registry: {shared}/no-such.d does not exist: no pair is audited\n",
        b"",
    )


# -- the records ------------------------------------------------------------------------------------

CONTROL_FILE = "x\x1b[2Jy\n<0>z.json"
VF_INDEX = "vf_index is not an integer from 0 to 65535"


def _bad_records(registry: Path, user: str) -> dict[str, str]:
    """Plant every bad record; return file name -> the problem line expected for it."""
    path = str(registry)
    uid = _other_uid(user)
    vm = "is not a usable VM name (printable ASCII, 128 characters at most)"
    address = "is not a PCI address (expected [DDDD:]BB:DD.F, device 00-1f, function 0-7)"
    version = "not a pcie-failover-pair version 1 document"
    root = "is not an absolute path of printable characters"
    documents: dict[str, tuple[dict[str, Any], str]] = {
        "slot-dotdot.json": (
            _record("slot-dotdot", primary_pf_slot="../../../etc"),
            "pf_slot '../../../etc' is not a slot name",
        ),
        "slot-dots.json": (_record("slot-dots", primary_pf_slot=".."), "pf_slot '..' is not a slot name"),
        "slot-slash.json": (
            _record("slot-slash", primary_pf_slot="4/../../x"),
            "pf_slot '4/../../x' is not a slot name",
        ),
        "slot-control.json": (
            _record("slot-control", primary_pf_slot="4\x1b[2J"),
            "pf_slot '4\\x1b[2J' is not a slot name",
        ),
        "vm-newline.json": (_record("vm-newline", vm="web\n<0>forged"), f"'web\\n<0>forged' {vm}"),
        "vm-escape.json": (_record("vm-escape", vm="\x1b]0;pwn\x07"), f"'\\x1b]0;pwn\\x07' {vm}"),
        "vm-bidi.json": (_record("vm-bidi", vm="a\u202eb"), f"'a\\u202eb' {vm}"),
        "vm-non-ascii.json": (_record("vm-non-ascii", vm="café"), f"'caf\\xe9' {vm}"),
        "vm-nul.json": (_record("vm-nul", vm="a\x00b"), f"'a\\x00b' {vm}"),
        "vm-long.json": (_record("vm-long", vm="v" * 129), f"'{'v' * 129}' {vm}"),
        "vm-number.json": (_record("vm-number", vm=7), "vm is not a string"),
        "vf-index-string.json": (_record("vf-index-string", primary_vf_index="0"), VF_INDEX),
        "vf-index-bool.json": (_record("vf-index-bool", primary_vf_index=True), VF_INDEX),
        "vf-index-float.json": (_record("vf-index-float", primary_vf_index=0.0), VF_INDEX),
        "vf-index-negative.json": (_record("vf-index-negative", primary_vf_index=-1), VF_INDEX),
        "vf-index-range.json": (_record("vf-index-range", primary_vf_index=65536), VF_INDEX),
        "version-string.json": (_record("version-string", version="1"), version),
        "version-bool.json": (_record("version-bool", version=True), version),
        "vendor-int.json": (_record("vendor-int", primary_vendor=5555), "vendor is not a string"),
        "vendor-upper.json": (
            _record("vendor-upper", primary_vendor="15B3"),
            "vendor is not four lower-case hex digits",
        ),
        "mac-list.json": (_record("mac-list", mac=["52:54:00:6f:55:cc"]), "mac is not a string"),
        "mac-multicast.json": (
            _record("mac-multicast", mac="01:00:5e:00:00:01"),
            "malformed record (01:00:5e:00:00:01 is a multicast address: a NIC needs a unicast MAC)",
        ),
        "bdf-path.json": (_record("bdf-path", primary_bdf="../../etc"), f"malformed record ('../../etc' {address})"),
        "pf-path.json": (
            _record("pf-path", primary_pf="0000:5e:00.0/../../x"),
            f"malformed record ('0000:5e:00.0/../../x' {address})",
        ),
        "for-xen.json": (_record("for-xen", **{"for": "xen"}), "for is not one of qemu, libvirt"),
        "extra-field.json": (_record("extra-field", evil=1), "unexpected record field 'evil'"),
        "primary-list.json": (_record("primary-list", primary=[]), "primary is not an object"),
        "root-relative.json": (_record("root-relative", sysfs_root="tree/sys"), f"sysfs_root 'tree/sys' {root}"),
        "root-control.json": (_record("root-control", sysfs_root="/t\n<0>x"), f"sysfs_root '/t\\n<0>x' {root}"),
        "root-number.json": (_record("root-number", sysfs_root=7), "sysfs_root is not a string"),
        "name-mismatch.json": (_record("web"), "holds pair 'web', not 'name-mismatch'"),
        "name-path.json": (
            _record("../../etc/x"),
            "'../../etc/x' is not a valid pair name (letters, digits, '_', '.', '-'; 64 at most)",
        ),
        CONTROL_FILE: (_record("db"), "holds pair 'db', not 'x\\x1b[2Jy\\n<0>z'"),
    }
    huge_index = json.dumps(_record("vf-index-5000-digits")).replace('"vf_index": 0', '"vf_index": ' + "9" * 5000)
    texts: dict[str, tuple[str, str]] = {
        "deep-array.json": ("[" * 30000 + "]" * 30000, "nested more than 64 levels deep"),
        "deep-object.json": ('{"a":' * 3000 + "1" + "}" * 3000, "nested more than 64 levels deep"),
        "deep-65.json": ("[" * 65 + "]" * 65, "nested more than 64 levels deep"),
        "vf-index-5000-digits.json": (huge_index, "a number of 5000 characters (at most 40)"),
        "version-5000-digits.json": (
            '{"format": "pcie-failover-pair", "version": ' + "1" * 5000 + "}",
            "a number of 5000 characters (at most 40)",
        ),
        "nan.json": ('{"format": "pcie-failover-pair", "version": NaN}', "NaN is not JSON"),
        "not-json.json": (
            "{not json",
            "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        "empty.json": ("", "not valid JSON (Expecting value: line 1 column 1 (char 0))"),
    }
    expected: dict[str, str] = {}
    for name, (document, problem) in documents.items():
        (registry / name).write_text(json.dumps(document))
        expected[name] = f"{path}/{name}: {problem}"
    for name, (text, problem) in texts.items():
        (registry / name).write_text(text)
        expected[name] = f"{path}/{name}: {problem}"
    (registry / "not-utf8.json").write_bytes(b"\xff\xfe{}")
    expected["not-utf8.json"] = f"{path}/not-utf8.json: not UTF-8 text"
    # unsafe files: their own message names them
    unsafe = {
        "world-writable.json": "{} is writable by group or others (mode 0666)",
        "group-writable.json": "{} is writable by group or others (mode 0664)",
        "owned-by-another-user.json": f"{{}} is owned by uid {uid}, not by root or this user",
        "link.json": "{} is not a regular file",
        "link-out.json": "{} is not a regular file",
        "fifo.json": "{} is not a regular file",
        "directory.json": "{} is not a regular file",
        "big.json": "{} is larger than 65536 bytes",
    }
    for name in unsafe:
        (registry / name).write_text(json.dumps(_record(name.removesuffix(".json"))))
    (registry / "world-writable.json").chmod(0o666)
    (registry / "group-writable.json").chmod(0o664)
    os.chown(registry / "owned-by-another-user.json", uid, uid)
    for name, target in (("link.json", "web.json"), ("link-out.json", "/etc/passwd")):
        (registry / name).unlink()
        (registry / name).symlink_to(target)
    (registry / "fifo.json").unlink()
    os.mkfifo(registry / "fifo.json")
    (registry / "directory.json").unlink()
    (registry / "directory.json").mkdir()
    (registry / "big.json").write_text(" " * (64 * 1024) + json.dumps(_record("big")))
    if os.geteuid() == 0:
        for name, kind, device in (("tty.json", stat.S_IFCHR, (5, 0)), ("loop.json", stat.S_IFBLK, (7, 0))):
            os.mknod(registry / name, kind | 0o644, os.makedev(*device))
            unsafe[name] = "{} is not a regular file"
    expected.update({name: message.format(f"{path}/{name}") for name, message in unsafe.items()})
    (registry / ".hidden.json").write_text("{not json")  # dot files are never records (temporary files)
    (registry / "notes.txt").write_text("not a record")
    return expected


def test_bad_records_are_reported_and_skipped(user: str, shared: Path) -> None:
    root, registry = _registry(shared)
    db = _record("db", mac="52:54:00:00:00:03", primary_bdf="0000:5e:00.5", primary_vf_index=3)  # a VF of its own
    (registry / "db.json").write_text(json.dumps(db))
    expected = _bad_records(registry, user)
    table, document, journal, prometheus = run_as(
        user,
        [
            _audit(root, registry),
            _audit(root, registry, "--format", "json"),
            _audit(root, registry, "--journal"),
            _audit(root, registry, "--format", "prometheus"),
        ],
    )
    _raw_free(table, document, journal, prometheus)
    assert {o.code for o in (table, document, journal, prometheus)} == {4}
    audit = json.loads(document.out)
    assert [(p["name"], p["verdict"]) for p in audit["pairs"]] == [("db", "ready"), ("web", "ready")]
    assert audit["problems"] == [expected[name] for name in sorted(expected)]
    escaped = [problem.replace("\x1b", "\\x1b").replace("\n", "\\x0a") for problem in audit["problems"]]
    assert table.out.decode().splitlines()[-len(expected) :] == [f"registry: {line}" for line in escaped]
    assert journal.stderr.splitlines() == [
        "<6>pair db (0000:5e:00.5): ready",
        "<6>pair web (0000:5e:00.2): ready",
        *(f"<4>registry: {line}" for line in escaped),
    ]
    assert f"pcie_failover_registry_problems {len(expected)}\n" in prometheus.out.decode()


def test_a_record_that_is_a_device_is_never_opened(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry (and its lock) look at a device node or FIFO with O_PATH only: never open it."""
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    root, registry = _registry(shared)
    os.mknod(registry / "tty.json", stat.S_IFCHR | 0o644, os.makedev(5, 0))
    os.mkfifo(registry / "fifo.json")
    opened = non_regular_opens(monkeypatch)
    (audit,) = run_here([_audit(root, registry, "--format", "json")])
    os.mknod(registry / LOCK_NAME, stat.S_IFCHR | 0o600, os.makedev(5, 0))
    register, coalesced = run_here(
        [
            ("--sysfs-root", str(root), "register", "db", "5e:00.2", "--registry", str(registry)),
            _audit(root, registry, "--coalesce", "--state-dir", str(registry)),
        ]
    )
    assert opened == []
    assert (audit.code, json.loads(audit.out)["problems"]) == (
        4,
        [f"{registry}/fifo.json is not a regular file", f"{registry}/tty.json is not a regular file"],
    )
    assert (register.code, register.stderr) == (2, f"pcie-failover register: {registry}/.lock is not a regular file\n")
    assert (coalesced.code, coalesced.stderr) == (2, f"pcie-failover audit: {registry}/.lock is not a regular file\n")


EVIL = "\x1b[2J\n<0>\u202e\x07"


def test_an_audit_of_a_hostile_tree_is_one_escaped_line_per_pair(user: str, shared: Path) -> None:
    """The journal line of a pair whose tree holds control characters: one line, `<0>` never at its start."""
    root, registry = _registry(shared)
    drivers = root / "bus/pci/drivers"
    (drivers / "vfio-pci").rename(drivers / f"vfio{EVIL}")
    (root / VF_DIR / "driver").unlink()
    (root / VF_DIR / "driver").symlink_to(f"../../../../bus/pci/drivers/vfio{EVIL}")
    journal, table = run_as(user, [_audit(root, registry, "--journal"), _audit(root, registry)])
    _raw_free(journal, table)
    assert journal.code == 4
    assert journal.stderr == (
        "<4>pair web (0000:5e:00.2): undetermined: driver: the driver link could not be read "
        f"({VF_DIR}/driver: unexpected link target 'vfio\\x1b[2J\\n<0>\\u202e\\x07')\n"
    )


# -- the textfile and state directories ----------------------------------------------------------------


def _unsafe_outputs(shared: Path, uid: int) -> dict[str, tuple[str, str]]:
    """Directories `--textfile-dir` / `--state-dir` must refuse -> (path, the message)."""
    made = {}
    world = shared / "world"
    world.mkdir()
    world.chmod(0o777)
    made["world-writable"] = (str(world), f"{world} is writable by group or others (mode 0777)")
    other = shared / "other"
    other.mkdir()
    os.chown(other, uid, uid)
    made["another-users"] = (str(other), f"{other} is owned by uid {uid}, not by root or this user")
    link = shared / "link"
    link.symlink_to("other")
    made["symbolic-link"] = (str(link), f"{link} is a symbolic link")
    made["missing"] = (str(shared / "missing"), f"{shared}/missing does not exist")
    afile = shared / "a-file"
    afile.write_text("")
    made["a-file"] = (str(afile), f"{afile} is not a directory")
    return made


def _own_directory(shared: Path, name: str, user: str) -> Path:
    directory = shared / name
    directory.mkdir()
    if user == "nobody":
        os.chown(directory, NOBODY_UID, NOBODY_UID)
    return directory


def test_an_unsafe_textfile_directory_is_refused(user: str, shared: Path) -> None:
    root, registry = _registry(shared)
    unsafe = _unsafe_outputs(shared, _other_uid(user))
    textfiles = _own_directory(shared, "textfiles", user)
    (textfiles / "pcie_failover.prom").symlink_to("/etc/passwd")
    unsafe["a-link-for-the-file"] = (str(textfiles), f"{textfiles}/pcie_failover.prom is not a regular file")
    runs = run_as(
        user, [_audit(root, registry, "--format", "prometheus", "--textfile-dir", p) for p, _ in unsafe.values()]
    )
    for (case, (_, message)), run in zip(unsafe.items(), runs, strict=True):
        named = "" if case == "a-link-for-the-file" else "--textfile-dir: "  # the directory is refused up front
        assert (run.code, run.out, run.stderr) == (2, b"", f"pcie-failover audit: {named}{message}\n"), case
    assert os.readlink(textfiles / "pcie_failover.prom") == "/etc/passwd"


def test_an_unsafe_state_directory_is_refused(user: str, shared: Path) -> None:
    root, registry = _registry(shared)
    unsafe = _unsafe_outputs(shared, _other_uid(user))
    del unsafe["missing"]  # created when missing (mode 0755)
    runs = run_as(user, [_audit(root, registry, "--coalesce", "--state-dir", p) for p, _ in unsafe.values()])
    for (case, (_, message)), run in zip(unsafe.items(), runs, strict=True):
        assert (run.code, run.out, run.stderr) == (2, b"", f"pcie-failover audit: {message}\n"), case


@pytest.mark.skipif(not LIVE.is_dir(), reason="watch runs on the live /sys only, and this machine has no /sys/bus/pci")
def test_watch_refuses_an_unsafe_textfile_directory_or_registry(user: str, shared: Path) -> None:
    """Refused before the first audit (or at it, for the registry), one line, exit 2: never a traceback."""
    _, registry = _registry(shared)
    state = _own_directory(shared, "state", user)
    unsafe = _unsafe_outputs(shared, _other_uid(user))
    watch = ("watch", "--registry", str(registry), "--state-dir", str(state))
    runs = run_as(user, [(*watch, "--format", "prometheus", "--textfile-dir", p) for p, _ in unsafe.values()])
    for (case, (_, message)), run in zip(unsafe.items(), runs, strict=True):
        assert (run.code, run.out, run.stderr) == (2, b"", f"pcie-failover watch: --textfile-dir: {message}\n"), case
    registry.chmod(0o777)
    run = run1(user, *watch)
    assert (run.code, run.out, run.stderr) == (
        2,
        b"",
        f"pcie-failover watch: {registry} is writable by group or others (mode 0777)\n",
    )


def test_a_swapped_directory_path_does_not_redirect_a_write(shared: Path) -> None:
    """Checked once, written through the same descriptor: a racing swap of the path changes nothing."""
    from pcie_failover.adapters.files import SafeDirectory

    registry = shared / "pairs.d"
    registry.mkdir()
    elsewhere = shared / "elsewhere"
    elsewhere.mkdir()
    with SafeDirectory.open(str(registry)) as directory, directory.lock():
        registry.rename(shared / "checked")  # the race: after the checks, before the write
        registry.symlink_to("elsewhere")
        directory.atomic_write("web.json", lambda out: out.write(b"{}\n"))
    assert sorted(p.name for p in (shared / "checked").iterdir()) == [LOCK_NAME, "web.json"]
    assert list(elsewhere.iterdir()) == []
