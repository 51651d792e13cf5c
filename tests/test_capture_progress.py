"""`capture` shows its progress on standard error when that is a terminal, and nothing otherwise."""

from __future__ import annotations

import os
import pty
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pcie_failover.cli import main, progress
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


def test_a_terminal_sees_each_stage_and_a_cleared_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(progress, "INTERVAL", 3600.0)  # each stage's first and last frame only: no timing in the test
    code, shown = _capture_on_a_terminal(monkeypatch, "capture", "-o", str(tmp_path / "x.tar.gz"))
    assert code == 0
    assert shown == (
        f"{ERASE}capture: selecting what the checks read of 7 devices"
        f"{ERASE}capture: archiving 1/7 devices"
        f"{ERASE}capture: archiving 7/7 devices"
        f"{ERASE}"
    )
    assert capsys.readouterr().out.startswith(f"{tmp_path}/x.tar.gz: 7 devices, ")


def test_every_frame_when_the_terminal_keeps_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    code, shown = _capture_on_a_terminal(monkeypatch, "capture", "5e:00.2", "-o", str(tmp_path / "x.tar.gz"))
    frames = [f"capture: archiving {n}/5 devices" for n in range(1, 6)]  # the VF, its PF, 3 sibling VFs
    assert (code, shown.split(ERASE)) == (0, ["", "capture: selecting what the checks read of 1 device", *frames, ""])


def test_quiet_or_no_terminal_shows_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cli: Callable[..., Run]
) -> None:
    code, shown = _capture_on_a_terminal(monkeypatch, "capture", "-q", "-o", str(tmp_path / "quiet.tar.gz"))
    assert (code, shown) == (0, "")
    run = cli("--sysfs-root", DEMO, "capture", "-o", str(tmp_path / "x.tar.gz"))
    assert (run.code, run.err) == (0, "")  # standard error is not a terminal here
