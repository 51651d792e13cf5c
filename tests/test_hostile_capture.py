"""`capture` as an attacker would use it: special output targets, standard output, signals, naive extractors.

A target that exists and is not a regular file (a device, a FIFO, a socket, a directory, a
link, /dev/stdout) is refused with one line and left exactly as it was; `-o -` writes the
archive to standard output (never to a terminal); SIGTERM mid-capture exits 143 and leaves
no temporary file; whatever links a tree holds, the archive unpacks inside its directory
with tarfile's `data` filter, the project's stricter `extract`, GNU tar and even tarfile
with no filter at all. Run as root and as nobody.
"""

from __future__ import annotations

import io
import json
import os
import pty
import shutil
import signal
import socket
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_sysfs.builder import build
from fixtures_sysfs.hosts import demo_host
from pcie_failover.capture.archive import extract
from tests.support.hostile import (
    ENV,
    NOBODY_UID,
    PF_DIR,
    REPO,
    VF_DIR,
    archive_problems,
    command,
    decoy_of,
    relink,
    run1,
    run_as,
    spawn,
)


def _identity(path: str) -> tuple[int, int, int, int]:
    st = os.lstat(path)
    return st.st_ino, st.st_mode, st.st_rdev, st.st_uid


def _targets(shared: Path) -> list[str]:
    """Existing paths that are not regular files, each a way to make a capture replace or feed something."""
    fifo = shared / "fifo.tgz"
    os.mkfifo(fifo)
    here = os.getcwd()
    os.chdir(shared)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("socket.tgz")
    finally:
        os.chdir(here)
    (shared / "directory.tgz").mkdir()
    (shared / "a-file").write_text("keep\n")
    (shared / "link.tgz").symlink_to("a-file")
    (shared / "dangling.tgz").symlink_to("nowhere")
    (shared / "passwd.tgz").symlink_to("/etc/passwd")
    for made in (shared, shared / "directory.tgz"):
        os.chown(made, NOBODY_UID, NOBODY_UID)  # writable by nobody too: refused for what the target is, not for access
    names = ["fifo.tgz", "socket.tgz", "directory.tgz", "link.tgz", "dangling.tgz", "passwd.tgz"]
    return [
        "/dev/null",
        "/dev/full",
        "/dev/stdout",
        "/dev/stderr",
        "/proc/self/fd/1",
        *(str(shared / n) for n in names),
    ]


def test_a_target_that_is_not_a_regular_file_is_refused_and_untouched(user: str, shared: Path) -> None:
    root = build(demo_host(), shared / "sys")
    targets = _targets(shared)
    before = {target: _identity(target) for target in targets}
    runs = run_as(user, [("--sysfs-root", str(root), "capture", "-o", target) for target in targets])
    for target, run in zip(targets, runs, strict=True):
        assert (run.code, run.out, run.stderr) == (2, b"", f"pcie-failover capture: {target} is not a regular file\n")
        assert _identity(target) == before[target], target
    assert (shared / "a-file").read_text() == "keep\n"
    assert sorted(p.name for p in (shared / "directory.tgz").iterdir()) == []
    assert not [p for p in shared.iterdir() if p.name.startswith(".")]  # no temporary file left behind


def test_devices_are_refused_from_a_process_of_its_own(user: str, shared: Path) -> None:
    """The same refusals from a process of its own whose standard output is a pipe (what /dev/stdout then is)."""
    root = build(demo_host(), shared / "sys")
    for target in ("/dev/null", "/dev/full", "/dev/stdout"):
        before = _identity(target)
        process = spawn(user, ["--sysfs-root", str(root), "capture", "-o", target])
        out, err = process.communicate(timeout=60)
        assert (process.returncode, out, err.decode()) == (
            2,
            b"",
            f"pcie-failover capture: {target} is not a regular file\n",
        )
        assert _identity(target) == before


def test_dash_writes_a_valid_archive_to_standard_output(user: str, shared: Path) -> None:
    root = build(demo_host(), shared / "sys")
    process = spawn(user, ["--sysfs-root", str(root), "capture", "-o", "-"])
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    with tarfile.open(fileobj=io.BytesIO(out), mode="r:gz") as tar:
        names = tar.getnames()
    assert err.decode() == f"-: 7 devices, {len(names)} entries, with netlink facts\n"
    assert archive_problems(out) == []
    archive = shared / "stdout.tar.gz"
    archive.write_bytes(out)
    with tarfile.open(archive) as tar:
        extract(tar, shared / "x")
    source, snapshot = run_as(
        user,
        [
            ("--sysfs-root", str(root), "check", "5e:00.2", "--format", "json"),
            ("--sysfs-root", str(shared / "x" / "sysfs"), "check", "5e:00.2", "--format", "json"),
        ],
    )
    assert (snapshot.code, json.loads(snapshot.out)["checks"]) == (source.code, json.loads(source.out)["checks"])


def test_dash_refuses_a_terminal(user: str, shared: Path) -> None:
    root = build(demo_host(), shared / "sys")
    controller, terminal = pty.openpty()
    try:
        os.fchown(terminal, NOBODY_UID, NOBODY_UID)
        done = subprocess.run(
            command(user, ["--sysfs-root", str(root), "capture", "-o", "-"]),
            stdout=terminal,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env=ENV,
            timeout=60,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert (done.returncode, done.stderr.decode()) == (
        2,
        "pcie-failover capture: refusing to write the archive to a terminal (try 'pcie-failover capture --help')\n",
    )


def test_sigterm_mid_capture_exits_143_and_leaves_no_temporary_file(user: str, shared: Path) -> None:
    root = build(demo_host(), shared / "sys")
    bulk = root / VF_DIR / "bulk"  # enough entries that the capture is still writing when the signal comes
    bulk.mkdir()
    for i in range(6000):
        (bulk / f"attribute{i}").write_text("1\n")
    out = shared / "out"
    out.mkdir()
    os.chown(out, NOBODY_UID, NOBODY_UID)
    process = spawn(user, ["--sysfs-root", str(root), "capture", "-o", str(out / "snapshot.tar.gz")])
    deadline = time.monotonic() + 60
    while not any(out.iterdir()) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.005)
    temporary = [p.name for p in out.iterdir()]
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert len(temporary) == 1, temporary  # the signal came mid-write: the temporary file was there
    assert temporary[0].startswith(".snapshot.tar.gz."), temporary
    assert (process.returncode, stdout, stderr) == (143, b"", b"")
    assert list(out.iterdir()) == []


def _hostile_links(root: Path, outside: Path) -> None:
    """Every kind of link a doctored tree can hold, at once, at places capture archives."""
    vf, pf = root / VF_DIR, root / PF_DIR
    relink(vf / "driver", "..")  # F1 of the red team: 'drivers/..'
    relink(vf / "iommu_group", "../../../..")  # the root itself
    relink(pf / "driver", "/")
    relink(root / "class/net/br0", str(decoy_of(root, "class/net/br0", outside, "br0")))
    relink(root / "class/net/vnet0", "../" * 40 + "etc")
    (vf / "up").symlink_to(".")
    (vf / "loop").symlink_to("loop")
    (vf / "chain").symlink_to("up/up/up/up/../../../../vendor")
    (vf / "dots").symlink_to("./././vendor")
    relink(root / "kernel/iommu_groups/23/devices/0000:5e:00.2", "../../../../" + VF_DIR + "/../../../..")
    relink(root / "bus/pci/drivers/vfio-pci/0000:5e:00.2", "../../../../" + VF_DIR + "/..")


def test_every_extractor_keeps_the_archive_inside_its_directory(user: str, shared: Path) -> None:
    root = build(demo_host(), shared / "sys")
    outside = shared / "outside"
    outside.mkdir()
    _hostile_links(root, outside)
    archive = shared / "s.tar.gz"
    os.chown(shared, NOBODY_UID, NOBODY_UID)
    run = run1(user, "--sysfs-root", str(root), "capture", "-o", str(archive))
    assert run.code == 0, run.stderr
    assert archive_problems(archive) == []
    extractors: dict[str, Callable[[tarfile.TarFile, Path], None]] = {
        "project": extract,
        "no-filter": lambda tar, dest: tar.extractall(dest),  # tarfile as Python < 3.14 does by default
    }
    if hasattr(tarfile, "data_filter"):
        extractors["data-filter"] = lambda tar, dest: tar.extractall(dest, filter="data")
    for name, unpack in extractors.items():
        box = shared / f"box-{name}"
        (box / "dest").mkdir(parents=True)
        with tarfile.open(archive) as tar:
            unpack(tar, box / "dest")
        _inside(box, name)
    if shutil.which("tar") is not None:
        box = shared / "box-gnu-tar"
        (box / "dest").mkdir(parents=True)
        subprocess.run(["tar", "-xzf", str(archive), "-C", str(box / "dest")], check=True)
        _inside(box, "gnu-tar")


def _inside(box: Path, how: str) -> None:
    """Nothing was written beside `dest`, and no link below it resolves out of it or to its top."""
    assert [p.name for p in box.iterdir()] == ["dest"], how
    top = (box / "dest" / "sysfs").resolve()
    for path in (box / "dest").rglob("*"):
        if path.is_symlink():
            resolved = Path(os.path.realpath(path))
            assert top in resolved.parents, (how, str(path), os.readlink(path))  # below sysfs/, never sysfs/ itself
        else:
            assert stat.S_ISREG(path.lstat().st_mode) or path.is_dir(), (how, str(path))


@pytest.mark.skipif(
    not hasattr(tarfile, "data_filter"),
    reason="this Python has no tarfile extraction filters (3.12, 3.11.4+); the project's extract(), stricter, "
    "is tested above",
)
def test_the_data_filter_unpacks_a_capture(shared: Path) -> None:
    root = build(demo_host(), shared / "sys")
    archive = shared / "s.tar.gz"
    assert run1("root", "--sysfs-root", str(root), "capture", "-o", str(archive)).code == 0
    with tarfile.open(archive) as tar:
        tar.extractall(shared / "x", filter="data")
    assert (shared / "x" / "sysfs" / "bus/pci/devices").is_dir()


def test_register_refuses_a_vm_name_that_is_not_printable_ascii(user: str, shared: Path) -> None:
    root = build(demo_host(), shared / "sys")
    registry = shared / "pairs.d"
    names = ["café", "a\x1bb", "web\n<0>x", "a\u202eb", "v" * 129, ""]
    register = [
        ("--sysfs-root", str(root), "register", "web", "5e:00.2", "--vm", vm, "--registry", str(registry))
        for vm in names
    ]
    pair = [
        ("--sysfs-root", str(root), "pair", "5e:00.2", "--save", "web", "--vm", vm, "--registry", str(registry))
        for vm in names
    ]
    runs = run_as(user, [*register, *pair])
    shown = ["'caf\\xe9'", "'a\\x1bb'", "'web\\n<0>x'", "'a\\u202eb'", f"'{'v' * 129}'", "''"]
    expected = [f"{s} is not a usable VM name (printable ASCII, 128 characters at most)" for s in shown]
    for vm, run, message in zip(names * 2, runs, expected * 2, strict=True):
        command = run.stderr.split(":")[0]
        hint = f" (try '{command} --help')"  # what was typed is wrong
        assert (run.code, run.out, run.stderr) == (2, b"", f"{command}: {message}{hint}\n"), vm
        assert command in ("pcie-failover register", "pcie-failover pair")
    assert not registry.exists()  # refused before anything was read or written
