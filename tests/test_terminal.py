"""Reports fit the terminal (issue #14): the Layout the shell decides, narrow forms, colour, NO_COLOR, a real pty."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import shlex
import struct
import subprocess
import sys
import termios
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import PciName
from fixtures_sysfs.hosts import CX5_VF, DEMO_NAMES, MELLANOX, demo_host
from pcie_failover.cli import terminal
from pcie_failover.cli.terminal import terminal_layout
from pcie_failover.pair.summary import _step_lines
from pcie_failover.render.layout import Layout, fits, strip_colour, visible_len, wrap
from tests.support.cli import Run
from tests.support.golden import compare_entry

ROOT = Path(__file__).resolve().parent.parent
DEMO = str(ROOT / "fixtures_sysfs" / "demo-host")
CORPUS = ROOT / "tests" / "lint_corpus"
PAINTED = re.compile("\x1b\\[(0|1;31|33|35|32)m")  # every escape sequence a report may hold: paint()'s colours
HOSTILE = "Evil\x1b[2J\x1b]0;owned\x07 Card " + "X" * 70  # terminal escapes, then a word wider than any width


@pytest.fixture(autouse=True)
def _no_terminal_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLUMNS", "NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard output counts as a terminal (of no known size: COLUMNS gives the width)."""
    monkeypatch.setattr(terminal, "_is_terminal", lambda _stream: True)
    monkeypatch.setattr(terminal, "_terminal_width", lambda _stream: None)


@pytest.fixture
def registry(cli: Callable[..., Run], tmp_path: Path) -> str:
    """Three pairs on the demo host: one not ready (two deciding checks), one ready, one ready with a warning."""
    path = str(tmp_path / "pairs.d")
    for args in (("bad", "5e:00.4", "--force", "--mac", "52:54:00:00:00:09"), ("two", "5e:00.2"), ("vlan", "5e:00.5")):
        assert cli("--sysfs-root", DEMO, "register", *args, "--registry", path).code in (0, 1)
    return path


def _lint(cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, name: str) -> Run:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((CORPUS / name).read_bytes())))
    return cli("--sysfs-root", DEMO, "lint", "--qemu-args", "-")


def _assert_fits(text: str, width: int) -> None:
    """No line wider than `width`, except one holding a single word wider than the room it had (never cut)."""
    for line in strip_colour(text).splitlines():
        if len(line) <= width:
            continue
        longest = max(line.split(), key=len)
        others = line.replace(longest, "", 1).split()
        assert len(" ".join(others)) <= 13, f"line too wide for {width}: {line!r}"


# -- the decision ------------------------------------------------------------------------------------------------


class _Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize(
    ("terminal_", "environ", "expected"),
    [
        (False, {}, Layout(None, colour=False)),  # piped: no limit, no colour
        (False, {"COLUMNS": "60"}, Layout(60, colour=False)),  # COLUMNS applies to a pipe too
        (True, {"COLUMNS": "60"}, Layout(60, colour=True)),
        (True, {"COLUMNS": "60", "NO_COLOR": "1"}, Layout(60, colour=False)),
        (True, {"COLUMNS": "60", "NO_COLOR": ""}, Layout(60, colour=True)),  # no-color.org: empty is unset
        (True, {"COLUMNS": "60", "TERM": "dumb"}, Layout(60, colour=False)),
        (True, {"COLUMNS": "0"}, Layout(None, colour=True)),  # StringIO: no size, so no limit
        (True, {"COLUMNS": "-3"}, Layout(None, colour=True)),
        (True, {"COLUMNS": "wide"}, Layout(None, colour=True)),
    ],
)
def test_the_shell_decides_width_and_colour(terminal_: bool, environ: dict[str, str], expected: Layout) -> None:
    assert terminal_layout(_Stream(terminal_), environ) == expected


def test_no_standard_output_is_no_terminal() -> None:
    assert terminal._is_terminal(None) is False
    with open(os.devnull, "w") as closed:
        pass
    assert terminal._is_terminal(closed) is False


def test_wrap_never_cuts_a_word() -> None:
    word = "/sys/bus/pci/devices/0000:5e:00.4/driver_override"
    assert wrap(f"echo vfio-pci > {word}", 20, "  ", "    ") == ["  echo vfio-pci >", f"    {word}"]
    assert wrap("--sysfs-root and iommu-group", 14) == ["--sysfs-root", "and", "iommu-group"]  # no hyphen breaks


def test_a_long_host_step_stays_one_shell_command() -> None:
    """Continued with ` \\` at spaces outside single quotes: the shell reads the same words."""
    command = "echo 'a quoted  value with spaces' > '/sys/bus/pci/devices/0000:5e:00.4/driver_override' x y z"
    lines = _step_lines(command, "set it", 30)
    assert lines[0] == "  # set it"
    assert shlex.split(" ".join(line.removesuffix(" \\") for line in lines[1:])) == shlex.split(command)
    assert all(line.endswith(" \\") for line in lines[1:-1])


# -- piped output: what it always was -----------------------------------------------------------------------------


def test_piped_output_is_unchanged(cli: Callable[..., Run], registry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """No terminal, no COLUMNS: the natural tables, byte for byte (golden entries written before issue #14)."""
    outputs = {
        "check 5e:00.2": cli("--sysfs-root", DEMO, "check", "5e:00.2").out,
        "list": cli("--sysfs-root", DEMO, "list").out,
        "audit": cli("--sysfs-root", DEMO, "audit", "--registry", registry).out,
        "lint duplicate-chassis": _lint(cli, monkeypatch, "duplicate-chassis.args").out,
    }
    for key, text in outputs.items():
        assert "\x1b" not in text
        compare_entry("terminal", f"piped {key}", text.splitlines())


# -- narrow terminals -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [40, 60])
def test_narrow_outputs(cli: Callable[..., Run], registry: str, monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    """Exact text at COLUMNS=40 and 60 (piped: no colour), every line within the width."""
    monkeypatch.setenv("COLUMNS", str(width))
    runs = {
        "check 5e:00.2": cli("--sysfs-root", DEMO, "check", "5e:00.2"),
        "check 5e:00.4": cli("--sysfs-root", DEMO, "check", "5e:00.4"),
        "list": cli("--sysfs-root", DEMO, "list"),
        "audit": cli("--sysfs-root", DEMO, "audit", "--registry", registry),
        "lint duplicate-chassis": _lint(cli, monkeypatch, "duplicate-chassis.args"),
        "pair 5e:00.2": cli("--sysfs-root", DEMO, "pair", "5e:00.2"),
    }
    assert [run.code for run in runs.values()] == [0, 1, 0, 1, 1, 0]
    for key, run in runs.items():
        assert "\x1b" not in run.out
        _assert_fits(run.out, width)
        compare_entry("terminal", f"{key} COLUMNS={width}", run.out.splitlines())


@pytest.mark.parametrize("width", [30, 50, 80, 100, 120, 140])
def test_every_text_report_fits_every_width(
    cli: Callable[..., Run], registry: str, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    """The property at widths where the natural, the narrowed and the line forms are chosen (rules included)."""
    monkeypatch.setenv("COLUMNS", str(width))
    for args in (
        ("check", "5e:00.2"),
        ("check", "5e:00.4"),
        ("check", "00:1f.6"),
        ("list",),
        ("audit", "--registry", registry),
        ("audit", "--registry", registry, "--strict"),
        ("pair", "5e:00.4", "--force"),
        ("rules",),
    ):
        _assert_fits(cli("--sysfs-root", DEMO, *args).out, width)
    _assert_fits(_lint(cli, monkeypatch, "good-classic.args").out, width)


def test_a_wide_terminal_keeps_the_table(cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    """Wide enough for the table: the same table; only a headline wider than the terminal wraps."""
    piped = cli("--sysfs-root", DEMO, "check", "5e:00.2").out
    monkeypatch.setenv("COLUMNS", "176")
    assert cli("--sysfs-root", DEMO, "check", "5e:00.2").out == piped
    monkeypatch.setenv("COLUMNS", "174")
    wide = cli("--sysfs-root", DEMO, "check", "5e:00.2").out
    assert wide.splitlines()[3:] == piped.splitlines()[2:]  # the headline takes two lines, the table is the same
    monkeypatch.setenv("COLUMNS", "110")  # narrowed: message and fix columns wrapped, still a table
    assert cli("--sysfs-root", DEMO, "check", "5e:00.2").out.splitlines()[3].startswith("check ")


@pytest.mark.usefixtures("tty")
def test_hostile_names_stay_escaped_at_any_width(
    cli: Callable[..., Run], host_root: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Terminal escapes in a file name (lint's headline): escaped before wrapping and colouring; a 70-character
    device name and file name: whole, on lines of their own when narrow, never cut."""
    long_name = "X" * 70
    names = (*(n for n in DEMO_NAMES if n.device != CX5_VF), PciName(MELLANOX, CX5_VF, long_name, "VF"))
    root = str(host_root(replace(demo_host(), pci_names=names)))
    config = tmp_path / HOSTILE
    config.write_bytes((CORPUS / "duplicate-chassis.args").read_bytes())
    for width in ("40", "60", "400"):
        monkeypatch.setenv("COLUMNS", width)
        outputs = [cli("--sysfs-root", root, *args).out for args in (("check", "5e:00.2"), ("list",))]
        outputs.append(cli("--sysfs-root", root, "lint", "--qemu-args", str(config)).out)
        for out in outputs:
            assert PAINTED.sub("", out).count("\x1b") == 0
            assert long_name in out
            _assert_fits(out, int(width))
        assert "Evil\\x1b[2J\\x1b]0;owned\\x07" in outputs[2]
        assert "\x1b[1;31mFAIL\x1b[0m" in outputs[2]


# -- colour -----------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("tty")
def test_colour_on_a_terminal_and_none_with_no_color(
    cli: Callable[..., Run], registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAIL red, WARN yellow, unknown magenta, pass and ready green, the verdict coloured; NO_COLOR: the same
    text without a code; colour codes never count in widths."""
    for width in ("40", "200"):
        monkeypatch.setenv("COLUMNS", width)
        monkeypatch.delenv("NO_COLOR", raising=False)
        coloured = {
            "check": cli("--sysfs-root", DEMO, "check", "5e:00.4").out,
            "warn": cli("--sysfs-root", DEMO, "check", "5e:00.2").out,
            "list": cli("--sysfs-root", DEMO, "list").out,
            "audit": cli("--sysfs-root", DEMO, "audit", "--registry", registry).out,
            "lint": _lint(cli, monkeypatch, "duplicate-chassis.args").out,
        }
        monkeypatch.setenv("NO_COLOR", "1")
        plain = {
            "check": cli("--sysfs-root", DEMO, "check", "5e:00.4").out,
            "warn": cli("--sysfs-root", DEMO, "check", "5e:00.2").out,
            "list": cli("--sysfs-root", DEMO, "list").out,
            "audit": cli("--sysfs-root", DEMO, "audit", "--registry", registry).out,
            "lint": _lint(cli, monkeypatch, "duplicate-chassis.args").out,
        }
        for key, text in coloured.items():
            assert "\x1b" not in plain[key]
            assert strip_colour(text) == plain[key], key
            assert PAINTED.sub("", text).count("\x1b") == 0
            assert fits(text, int(width)) == fits(plain[key], int(width))
        assert "\x1b[1;31mFAIL\x1b[0m" in coloured["check"]
        assert "\x1b[1;31mnot ready: fix the FAIL rows\x1b[0m" in coloured["check"]
        assert "\x1b[33mWARN\x1b[0m" in coloured["warn"]
        assert "verdict: \x1b[32mready: this device can be the" in coloured["warn"]
        assert "\x1b[32mready\x1b[0m" in coloured["list"]
        assert "\x1b[1;31mnot-ready (driver,vf-mac)\x1b[0m" in coloured["list"]
        assert "\x1b[1;31mnot-ready\x1b[0m" in coloured["audit"]
        assert "\x1b[35munknown\x1b[0m" in coloured["lint"]
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.delenv("NO_COLOR")
    assert "\x1b" not in cli("--sysfs-root", DEMO, "check", "5e:00.4").out


@pytest.mark.usefixtures("tty")
def test_coloured_table_cells_keep_their_alignment(cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide terminal: the coloured table is the piped table plus colour codes, column for column."""
    monkeypatch.setenv("COLUMNS", "1000")
    coloured = cli("--sysfs-root", DEMO, "list").out
    monkeypatch.setenv("NO_COLOR", "x")
    assert strip_colour(coloured) == cli("--sysfs-root", DEMO, "list").out
    assert max(visible_len(line) for line in coloured.splitlines()) < max(len(line) for line in coloured.splitlines())


def test_json_never_asks_the_terminal() -> None:
    """`check --format json` imports neither the terminal decision nor the layout helpers."""
    modules = ("pcie_failover.cli.terminal", "pcie_failover.render.layout", "tabulate")
    code = (
        f"import sys; from pcie_failover.cli import main; main(['--sysfs-root', {DEMO!r}, 'check', '5e:00.2', "
        f"'--format', 'json']); print(sorted(m for m in {modules!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


# -- a real terminal --------------------------------------------------------------------------------------------


def _on_pty(args: list[str], columns: int, environ: dict[str, str]) -> str:
    """What the CLI writes to a pseudo-terminal `columns` wide (its line discipline's \\r removed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "TERM")}
    process = subprocess.Popen(
        [sys.executable, "-m", "pcie_failover", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**env, **environ},
        cwd=ROOT,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    _, err = process.communicate(timeout=60)
    assert err == b""
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_real_terminal_gives_its_width_and_colour() -> None:
    """Standard output on a pty of 50 columns, no COLUMNS: the line form, coloured; NO_COLOR: not coloured;
    COLUMNS wins over the window size."""
    check = ["--sysfs-root", DEMO, "check", "5e:00.4"]
    out = _on_pty(check, 50, {"TERM": "xterm"})
    assert "\x1b[1;31mFAIL\x1b[0m" in out
    assert "  driver ........... \x1b[1;31mFAIL\x1b[0m" in out
    _assert_fits(out, 50)
    assert max(visible_len(line) for line in out.splitlines()) > 40
    uncoloured = _on_pty(check, 50, {"TERM": "xterm", "NO_COLOR": "1"})
    assert uncoloured == strip_colour(out)
    narrower = _on_pty(check, 50, {"TERM": "xterm", "NO_COLOR": "1", "COLUMNS": "40"})
    _assert_fits(narrower, 40)
    assert narrower != uncoloured
