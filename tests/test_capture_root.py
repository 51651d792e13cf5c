"""A capture as --sysfs-root: its directory, or its .tar.gz unpacked safely into a private directory removed at exit."""

from __future__ import annotations

import gzip
import io
import os
import signal
import stat
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pcie_failover.adapters import unpack
from pcie_failover.capture.archive import extract
from tests.support.cli import Run
from tests.support.hostile import ENV, REPO, command, run_as
from tests.support.trees import Captures

DEMO = REPO / "fixtures_sysfs" / "demo-host"


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temporary directory the unpacking uses, to see what it leaves (nothing)."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    yield where
    assert list(where.iterdir()) == []


def _capture(cli: Callable[..., Run], source: Path, into: Path) -> Path:
    archive = into / "capture.tar.gz"
    assert cli("--sysfs-root", str(source), "capture", "-o", str(archive)).code == 0
    return archive


def _without_root(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "sysfs_root"}


@pytest.mark.usefixtures("scratch")
@pytest.mark.parametrize("name", ["demo-host", "vtd-acpi"])
def test_an_archive_or_its_directory_checks_as_its_unpacked_tree(
    cli: Callable[..., Run], tmp_path: Path, name: str, captures: Captures
) -> None:
    source = DEMO if name == "demo-host" else captures(name)
    archive = _capture(cli, source, tmp_path)
    with tarfile.open(archive) as tar:
        extract(tar, tmp_path / "unpacked")
    tree = tmp_path / "unpacked" / "sysfs"
    listed = cli("--sysfs-root", str(tree), "list", "--format", "json")
    devices = [device["bdf"] for device in listed.json["devices"]]
    assert devices
    for root in (archive, tmp_path / "unpacked"):  # the .tar.gz, and the directory holding sysfs/
        again = cli("--sysfs-root", str(root), "list", "--format", "json")
        assert (again.code, _without_root(again.json)) == (listed.code, _without_root(listed.json))
        for device in devices:
            expected = cli("--sysfs-root", str(tree), "check", device, "--format", "json")
            got = cli("check", device, "--sysfs-root", str(root), "--format", "json")
            assert (got.code, _without_root(got.json)) == (expected.code, _without_root(expected.json)), device
    table = cli("--sysfs-root", str(archive), "check", devices[0])
    assert table.out == cli("--sysfs-root", str(tree), "check", devices[0]).out


def test_the_private_directory_is_0700_and_gone_after_the_run(
    cli: Callable[..., Run], tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _capture(cli, DEMO, tmp_path)
    seen: list[tuple[str, int]] = []
    real = unpack.unpack_capture

    def watched(path: str) -> str:
        top = real(path)
        seen.append((os.path.dirname(top), stat.S_IMODE(os.stat(os.path.dirname(top)).st_mode)))
        return top

    monkeypatch.setattr("pcie_failover.sysfs.host.unpack_capture", watched)
    assert cli("--sysfs-root", str(archive), "check", "5e:00.2").code == 0
    assert [(os.path.dirname(path), mode) for path, mode in seen] == [(str(scratch), 0o700)]
    assert not os.path.exists(seen[0][0])


def test_a_capture_directory_whose_sysfs_is_a_link_is_not_followed(cli: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "sysfs").symlink_to(DEMO)
    assert cli("--sysfs-root", str(tmp_path), "list") == Run(
        3, "", f"pcie-failover list: no PCI device tree at {tmp_path}/bus/pci/devices\n"
    )
    (tmp_path / "sysfs").unlink()
    (tmp_path / "sysfs").mkdir()
    assert cli("--sysfs-root", str(tmp_path), "list") == Run(
        3, "", f"pcie-failover list: no PCI device tree at {tmp_path}/sysfs/bus/pci/devices\n"
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_run_removes_the_private_directory(tmp_path: Path, signum: int) -> None:
    """`lint --qemu-args -` opens the root (unpacks it), then waits on standard input: signal it there."""
    archive = tmp_path / "capture.tar.gz"
    subprocess.run(
        command("root", ["--sysfs-root", str(DEMO), "capture", "-o", str(archive)]), cwd=REPO, env=ENV, check=True
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    process = subprocess.Popen(
        command("root", ["--sysfs-root", str(archive), "lint", "--qemu-args", "-"]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**ENV, "TMPDIR": str(scratch)},
    )
    deadline = time.monotonic() + 60
    while not any((path / "sysfs" / "bus").exists() for path in scratch.iterdir()):
        assert time.monotonic() < deadline, "never unpacked"
        assert process.poll() is None
        time.sleep(0.05)
    time.sleep(0.2)  # unpacked: now waiting on standard input
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out, err) == (128 + signum, b"", b"")
    assert list(scratch.iterdir()) == []


# -- hostile archives: one line, exit 2, nothing written outside the private directory -----------------


def _member(name: str, kind: bytes = tarfile.REGTYPE, content: bytes = b"x\n", link: str = "") -> tuple[Any, ...]:
    return (name, kind, content, link)


def _tarball(path: Path, members: list[tuple[Any, ...]]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, content, link in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mode = kind, link, 0o644
            info.size = len(content) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(content) if kind == tarfile.REGTYPE else None)
    path.write_bytes(gzip.compress(buffer.getvalue()))
    return path


def _hostile(outside: Path) -> dict[str, list[tuple[Any, ...]]]:
    sysfs = _member("sysfs", tarfile.DIRTYPE)
    return {
        "absolute": [_member(f"{outside}/planted")],
        "dot-dot": [sysfs, _member("sysfs/../../planted")],
        "not-below-sysfs": [_member("planted")],
        "hard-link": [sysfs, _member("sysfs/a"), _member("sysfs/b", tarfile.LNKTYPE, link="sysfs/a")],
        "device": [sysfs, _member("sysfs/null", tarfile.CHRTYPE)],
        "fifo": [sysfs, _member("sysfs/fifo", tarfile.FIFOTYPE)],
        "contiguous": [sysfs, _member("sysfs/c", tarfile.CONTTYPE)],  # tarfile counts it (and sparse) as regular
        "sparse": [sysfs, _member("sysfs/s", tarfile.GNUTYPE_SPARSE)],
        "through-a-link": [
            sysfs,
            _member("sysfs/out", tarfile.SYMTYPE, link=str(outside)),
            _member("sysfs/out/planted"),
        ],
        "over-a-link": [sysfs, _member("sysfs/out", tarfile.SYMTYPE, link=f"{outside}/victim"), _member("sysfs/out")],
        "top-is-a-link": [_member("sysfs", tarfile.SYMTYPE, link="/")],
        "control-character": [sysfs, _member("sysfs/a\x1b[2Jb")],
    }


HOSTILE_MESSAGES = {
    "absolute": "'{outside}/planted' is not a plain name below sysfs/",
    "dot-dot": "'sysfs/../../planted' is not a plain name below sysfs/",
    "not-below-sysfs": "'planted' is not a plain name below sysfs/",
    "hard-link": "'sysfs/b' is neither a file, a directory nor a symbolic link",
    "device": "'sysfs/null' is neither a file, a directory nor a symbolic link",
    "fifo": "'sysfs/fifo' is neither a file, a directory nor a symbolic link",
    "contiguous": "'sysfs/c' is neither a file, a directory nor a symbolic link",
    "sparse": "'sysfs/s' is neither a file, a directory nor a symbolic link",
    "through-a-link": "'sysfs/out/planted' is beneath a link or a file",
    "over-a-link": "'sysfs/out' is in the archive twice",
    "top-is-a-link": "'sysfs' is not a directory",
    "control-character": "'sysfs/a\\x1b[2Jb' is not a plain name below sysfs/",
}


@pytest.mark.usefixtures("scratch")
@pytest.mark.parametrize("case", sorted(HOSTILE_MESSAGES))
def test_a_hostile_archive_is_one_line_and_writes_nothing_outside(user: str, shared: Path, case: str) -> None:
    outside = shared / "outside"
    outside.mkdir()
    outside.chmod(0o777)  # writable by nobody too: only the unpacking keeps it clean
    (outside / "victim").write_text("untouched\n")
    (outside / "victim").chmod(0o666)
    archive = _tarball(shared / f"{case}.tar.gz", _hostile(outside)[case])
    table, json_run = run_as(
        user,
        [
            ["--sysfs-root", str(archive), "check", "5e:00.2"],
            ["--sysfs-root", str(archive), "list", "--format", "json"],
        ],
    )
    message = f"{archive}: {HOSTILE_MESSAGES[case].format(outside=outside)}"
    assert (table.code, table.out, table.stderr) == (2, b"", f"pcie-failover check: {message}\n")
    assert json_run.code == 2
    assert b'"kind": "input"' in json_run.out
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    assert (outside / "victim").read_text() == "untouched\n"
    assert not (shared / "planted").exists()


@pytest.mark.usefixtures("scratch")
def test_a_link_that_leads_out_is_kept_but_never_followed(cli: Callable[..., Run], tmp_path: Path) -> None:
    """Link targets are the reader's business: `SysfsRoot` follows none out of the root."""
    archive = _tarball(
        tmp_path / "out.tar.gz",
        [_member("sysfs", tarfile.DIRTYPE), _member("sysfs/bus", tarfile.SYMTYPE, link="/sys/bus")],
    )
    assert cli("--sysfs-root", str(archive), "list") == Run(
        3, "", f"pcie-failover list: no PCI device tree in {archive} (sysfs/bus/pci/devices)\n"
    )


BOMBS = {  # bound, its value here, the archive, the refusal
    "entries": ("MAX_ENTRIES", 3, [_member("sysfs", tarfile.DIRTYPE)] + [_member(f"sysfs/{i}") for i in range(4)],
                "more than 3 members"),
    "file": ("MAX_FILE", 10, [_member("sysfs", tarfile.DIRTYPE), _member("sysfs/big", content=b"0" * 11)],
             "'sysfs/big' is larger than 10 bytes"),
    "total": ("MAX_TOTAL", 100_000, [_member("sysfs", tarfile.DIRTYPE), _member("sysfs/zeros", content=bytes(200_000))],
              "more than 100000 bytes once decompressed"),
    "depth": ("MAX_DEPTH", 4, [_member("sysfs/a/b/c/d")], "a member is more than 4 levels deep"),
}  # fmt: skip


@pytest.mark.usefixtures("scratch")
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_bounds_stop_bombs(cli: Callable[..., Run], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bomb: str) -> None:
    limit, value, members, why = BOMBS[bomb]
    monkeypatch.setattr(unpack, limit, value)
    archive = _tarball(tmp_path / "bomb.tar.gz", members)
    assert cli("--sysfs-root", str(archive), "check", "5e:00.2") == Run(
        2, "", f"pcie-failover check: {archive}: {why}\n"
    )


@pytest.mark.usefixtures("scratch")
def test_what_is_not_a_capture_archive(cli: Callable[..., Run], tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an archive\n")
    assert cli("--sysfs-root", str(text), "list") == Run(
        2, "", f"pcie-failover list: {text}: not a capture archive (a gzip'd tar): Not a gzipped file (b'no')\n"
    )
    whole = _tarball(
        tmp_path / "whole.tar.gz", [_member("sysfs", tarfile.DIRTYPE), _member("sysfs/a", content=bytes(5000))]
    )
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole.read_bytes()[:-20])
    assert cli("--sysfs-root", str(cut), "list") == Run(
        2,
        "",
        f"pcie-failover list: {cut}: not a capture archive (a gzip'd tar): "
        "Compressed file ended before the end-of-stream marker was reached\n",
    )
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert cli("--sysfs-root", str(fifo), "list").code == 3  # never opened: not a directory, not a regular file
