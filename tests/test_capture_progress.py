"""`capture` shows its progress on standard error when that is a terminal, and nothing otherwise."""

from __future__ import annotations

import errno
import os
import pty
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pcie_failover.capture import command, progress
from pcie_failover.cli import main
from tests.support.cli import Run

DEMO = str(Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host")
ERASE = "\r\x1b[K"


def _capture_on_a_terminal(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    """Run `capture` in this process with standard error on a pseudo-terminal; its code and what the terminal got."""
    master, slave = pty.openpty()
    try:
        with open(slave, "w", encoding="utf-8", closefd=False) as terminal, monkeypatch.context() as patch:
            patch.setattr(sys, "stderr", terminal)
            code = main(["--sysfs-root", DEMO, *args])
    finally:
        os.close(slave)
    shown = b""
    try:  # the terminal's side: everything written, then EIO once the other side is closed
        while chunk := os.read(master, 1 << 16):
            shown += chunk
    except OSError:
        pass
    finally:
        os.close(master)
    return code, shown.decode()


def _paths(shown: str) -> int:
    """How many paths the readers touched (what the archiving stage counts), as the first archiving frame says."""
    found = re.search(r"archiving 1/(\d+) paths", shown)
    assert found is not None, shown
    return int(found[1])


def test_a_terminal_sees_each_stage_and_a_cleared_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "INTERVAL", 3600.0)  # each stage's first and last frame only: no timing in the test
    code, shown = _capture_on_a_terminal(monkeypatch, "capture", "-o", str(tmp_path / "x.tar.gz"))
    assert code == 0
    paths = _paths(shown)
    assert shown == (
        f"{ERASE}capture: reading 0/7 devices"
        f"{ERASE}capture: reading 7/7 devices"
        f"{ERASE}capture: archiving 1/{paths} paths"
        f"{ERASE}capture: archiving {paths}/{paths} paths"
        f"{ERASE}"
    )
    assert capsys.readouterr().out.startswith(f"{tmp_path}/x.tar.gz: 7 devices, ")


def test_every_frame_when_the_terminal_keeps_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    code, shown = _capture_on_a_terminal(monkeypatch, "capture", "5e:00.2", "-o", str(tmp_path / "x.tar.gz"))
    paths = _paths(shown)
    frames = [f"capture: archiving {n}/{paths} paths" for n in range(1, paths + 1)]  # each path a reader touched
    assert (code, shown.split(ERASE)) == (
        0,
        ["", "capture: reading 0/1 device", "capture: reading 1/1 device", *frames, ""],
    )


def test_quiet_or_no_terminal_shows_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: Callable[..., Run]
) -> None:
    code, shown = _capture_on_a_terminal(monkeypatch, "capture", "-q", "-o", str(tmp_path / "quiet.tar.gz"))
    assert (code, shown) == (0, "")
    run = cli("--sysfs-root", DEMO, "capture", "-o", str(tmp_path / "x.tar.gz"))
    assert (run.code, run.err) == (0, "")  # standard error is not a terminal here


def test_an_error_starts_a_line_of_its_own(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The progress line is erased before the error is written, not left for the error to trail behind."""

    def full_disk(
        _root: object, _touched: object, _extra: object, _out: object, progress: Callable[[int, int], None]
    ) -> int:
        progress(1, 2)  # as write_archive does after its first path
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(command, "write_archive", full_disk)
    code, shown = _capture_on_a_terminal(monkeypatch, "capture", "5e:00.2", "-o", str(tmp_path / "x.tar.gz"))
    assert code == 2
    assert shown.endswith(
        f"capture: archiving 1/2 paths{ERASE}pcie-failover capture: cannot write {tmp_path}/x.tar.gz: "
        "No space left on device\r\n"  # the terminal's line discipline ends a line with CR LF
    )
