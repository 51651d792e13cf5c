"""Exit codes outside the findings: output that cannot be written, interrupts; one line on stderr each."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from pcie_failover.cli import main

DEMO = str(Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host")
CLI = [sys.executable, "-m", "pcie_failover", "--sysfs-root", DEMO]


def test_a_full_standard_output_is_74_not_an_internal_error() -> None:
    with open("/dev/full", "w") as full:
        run = subprocess.run([*CLI, "list"], stdout=full, stderr=subprocess.PIPE, text=True, check=False)
    assert (run.returncode, run.stderr) == (
        74,
        "pcie-failover list: cannot write the report: [Errno 28] No space left on device\n",
    )


def test_a_closed_standard_output_is_74_also_for_json() -> None:
    run = subprocess.run(
        [*CLI, "check", "5e:00.2", "--format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        pass_fds=(),
        preexec_fn=lambda: os.close(1),
    )
    assert (run.returncode, run.stderr) == (
        74,
        "pcie-failover check: cannot write the report: standard output is closed\n",
    )


def test_an_interrupt_is_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C (KeyboardInterrupt, or click's Abort) mid-run: 130, not a traceback and not a finding."""

    def interrupted(*_: object, **__: object) -> NoReturn:
        raise KeyboardInterrupt

    monkeypatch.setattr("pcie_failover.check.command.run_check", interrupted)
    assert main(["--sysfs-root", DEMO, "check", "5e:00.2"]) == 130
    assert capsys.readouterr().err == ""


def test_a_reader_that_went_away_ends_the_run_with_sigpipe_as_for_lspci() -> None:
    """`check X | grep -q ...` under pipefail: 141 in the shell (SIGPIPE), never 1, which reads as not ready."""
    for args in (["check", "5e:00.2"], ["capture", "5e:00.2", "-o", "-"], ["rules", "--format", "markdown"]):
        read, write = os.pipe()
        os.close(read)  # no reader at all: the first write raises SIGPIPE
        try:
            run = subprocess.run([*CLI, *args], stdout=write, stderr=subprocess.PIPE, text=True, check=False)
        finally:
            os.close(write)
        assert (run.returncode, run.stderr) == (-signal.SIGPIPE, ""), args


def test_capture_to_a_closed_standard_output_is_74() -> None:
    run = subprocess.run(
        [*CLI, "capture", "5e:00.2", "-o", "-"],
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        preexec_fn=lambda: os.close(1),
    )
    assert (run.returncode, run.stderr) == (
        74,
        "pcie-failover capture: cannot write the report: standard output is closed\n",
    )


def test_version_and_short_help(capsys: pytest.CaptureFixture[str]) -> None:
    """`--version` names the tool and its JSON schema; `-h` is `--help`, for the program and each command."""
    from pcie_failover import __version__
    from pcie_failover.model.report import SCHEMA_VERSION

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"pcie-failover {__version__} (JSON schema {SCHEMA_VERSION})\n"
    for args in (["-h"], ["check", "-h"]):
        assert main(args) == 0
        assert capsys.readouterr().out.startswith("Usage: pcie-failover")


def test_a_usage_error_is_one_line_naming_help_once(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--bogus"]) == 2
    assert capsys.readouterr().err == "pcie-failover: No such option: --bogus (try 'pcie-failover --help')\n"


def _listed_codes(epilog: str) -> set[int]:
    """The codes an `Exit codes:` epilog names: each number after `: ` or `; `."""
    import re

    return {int(code) for code in re.findall(r"(?:: |; )(\d+) ", " ".join(epilog.split()))}


PAIR_RUNS = {  # one run per code `pair` returns
    0: ["pair", "5e:00.2"],
    1: ["pair", "5e:00.4"],  # unbound, admin MAC all-zero: refused
    2: ["pair", "5e:00.2", "--pool", "p"],  # --pool without --for libvirt
    3: ["pair", "5e:00.2"],  # on an empty sysfs root
}
LINT_RUNS = {  # one run per code `lint` returns
    0: ["lint", "--qemu-args", "-"],  # a pair fragment
    1: ["lint", "--qemu-args", "-"],  # the same with its primary on pcie.0
    2: ["lint", "--domain-xml", "-"],  # a DTD
    4: ["lint", "--qemu-args", "-"],  # on an empty sysfs root: the host checks are unknown
}


def test_pair_and_lint_epilogs_list_only_their_own_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each code an epilog names is one the command returns (70 included), and no other: pair has no 4, lint no 3."""
    import io

    from pcie_failover.lint.cli import LINT_EXIT_CODES
    from pcie_failover.pair.cli import PAIR_EXIT_CODES

    pair_text = main(["--sysfs-root", DEMO, "pair", "5e:00.2", "--mac", "52:54:00:6f:55:cc", "--format", "qemu"])
    assert pair_text == 0
    fragment = capsys.readouterr().out
    stdins = {0: fragment, 1: fragment.replace("bus=rp-hostdev0", "bus=pcie.0"), 2: "<!DOCTYPE d><d/>", 4: fragment}
    seen: dict[str, set[int]] = {"pair": set(), "lint": set()}
    for command, runs in (("pair", PAIR_RUNS), ("lint", LINT_RUNS)):
        for code, args in runs.items():
            root = str(tmp_path) if code in (3, 4) else DEMO
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdins.get(code, "").encode())))
            seen[command].add(main(["--sysfs-root", root, *args]))
        with monkeypatch.context() as broken:
            module = {"pair": "pcie_failover.pair.command", "lint": "pcie_failover.lint.command"}[command]
            broken.setattr(f"{module}.run_{command}", lambda *_, **__: 1 / 0)
            seen[command].add(main(["--sysfs-root", DEMO, *runs[0]]))
    capsys.readouterr()
    assert seen == {"pair": {0, 1, 2, 3, 70}, "lint": {0, 1, 2, 4, 70}}
    assert (_listed_codes(PAIR_EXIT_CODES), _listed_codes(LINT_EXIT_CODES)) == (seen["pair"], seen["lint"])
    for command, epilog in (("pair", PAIR_EXIT_CODES), ("lint", LINT_EXIT_CODES)):
        assert main([command, "--help"]) == 0
        assert " ".join(epilog.split()) in " ".join(capsys.readouterr().out.split())


def _documented(command: str) -> set[int]:
    """The codes a command's epilog lists ("Exit codes: 0 ...; 1 ...; 70 ...")."""
    import re

    from pcie_failover.cli.app import build

    epilog = " ".join((build().commands[command].epilog or "").split())
    return {int(code) for code in re.findall(r"(?:\): |codes: |; )(\d+) ", epilog)}


def _crash(*_: object, **__: object) -> NoReturn:
    raise RuntimeError("boom")


def _codes(runs: list[list[str]], capsys: pytest.CaptureFixture[str]) -> set[int]:
    codes = {main(args) for args in runs}
    capsys.readouterr()
    return codes


def test_register_and_unregister_list_the_codes_they_exit_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not check's: no --strict, no 4 (an undetermined primary is registered)."""
    registry = str(tmp_path / "pairs.d")
    empty = tmp_path / "empty"
    empty.mkdir()
    register = ["--sysfs-root", DEMO, "register"]
    runs = [
        [*register, "web", "5e:00.2", "--registry", registry],  # 0
        [*register, "db", "5e:00.4", "--registry", registry],  # 1: a check fails
        [*register, "twin", "5e:00.2", "--registry", registry],  # 2: web has this primary
        ["--sysfs-root", str(empty), "register", "x", "5e:00.2", "--registry", registry],  # 3
    ]
    produced = _codes(runs, capsys)
    monkeypatch.setattr("pcie_failover.audit.register.run_register", _crash)
    produced |= _codes([[*register, "crash", "5e:00.2", "--registry", registry]], capsys)
    assert produced == _documented("register") == {0, 1, 2, 3, 70}
    runs = [["unregister", "web", "--registry", registry], ["unregister", "web", "--registry", registry]]
    produced = _codes(runs, capsys)
    monkeypatch.setattr("pcie_failover.audit.registry.Registry.remove", _crash)
    produced |= _codes([["unregister", "db", "--registry", registry]], capsys)
    assert produced == _documented("unregister") == {0, 2, 70}


def test_audit_lists_the_codes_it_exits_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = str(tmp_path / "pairs.d")
    empty = tmp_path / "empty"
    empty.mkdir()
    for name, vf in (("web", "5e:00.2"), ("vlan", "5e:00.5")):  # vlan: ready, with a warning
        assert main(["--sysfs-root", DEMO, "register", name, vf, "--registry", registry]) == 0
    audit = ["--sysfs-root", DEMO, "audit", "--registry", registry]
    runs = [
        audit,  # 0
        [*audit, "--strict"],  # 1
        [*audit, "--device", "eth0"],  # 2: --device takes a PCI address
        ["--sysfs-root", str(empty), "audit", "--registry", registry],  # 3
        ["--sysfs-root", DEMO, "audit", "--registry", str(tmp_path / "typo")],  # 4
    ]
    produced = _codes(runs, capsys)
    monkeypatch.setattr("pcie_failover.audit.command.run_audit", _crash)
    produced |= _codes([audit], capsys)
    assert produced == _documented("audit") == {0, 1, 2, 3, 4, 70}


@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="watch runs on the live /sys only")
def test_watch_lists_the_codes_it_exits_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """0 (stopped by SIGTERM): tests/test_watch.py::test_watch_reports_a_named_registry_that_does_not_exist."""
    empty = tmp_path / "empty"
    empty.mkdir()
    watch = ["watch", "--state-dir", str(tmp_path / "state")]
    runs = [["--sysfs-root", DEMO, *watch], ["--sysfs-root", str(empty), *watch]]  # 2: not the live /sys; 3
    produced = _codes(runs, capsys)
    monkeypatch.setattr("pcie_failover.audit.watch.watch", _crash)
    produced |= _codes([watch], capsys)
    assert produced | {0} == _documented("watch") == {0, 2, 3, 70}


def test_a_reader_that_went_away_leaves_no_copy_of_a_capture_archive(tmp_path: Path) -> None:
    """SIGPIPE still ends the run as it ends lspci, but only once the archive's private copy is removed."""
    archive = tmp_path / "demo.tar.gz"
    assert subprocess.run([*CLI, "capture", "-o", str(archive)], capture_output=True, check=False).returncode == 0
    private = tmp_path / "tmp"
    private.mkdir()
    for args in (["check", "5e:00.2"], ["list", "--format", "json"]):
        read, write = os.pipe()
        os.close(read)
        try:
            run = subprocess.run(
                [*CLI[:-2], "--sysfs-root", str(archive), *args],
                stdout=write,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
                env={**os.environ, "TMPDIR": str(private)},
            )
        finally:
            os.close(write)
        assert (run.returncode, run.stderr, list(private.iterdir())) == (-signal.SIGPIPE, "", []), args
