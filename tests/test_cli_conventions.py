"""Command-line conventions (#14): usage lines, --help-all, global options after the command, -q, shell completion."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer._click import Context

from pcie_failover.cli.app import COMMANDS, build
from tests.support.cli import Run

REPO = Path(__file__).resolve().parent.parent
DEMO = str(REPO / "fixtures_sysfs" / "demo-host")
BIN = Path(sys.executable).parent
USAGE = {
    "check": "check [OPTIONS] DEVICE",
    "list": "list [OPTIONS]",
    "pair": "pair [OPTIONS] DEVICE",
    "capture": "capture [OPTIONS] [DEVICE]...",
    "lint": "lint [OPTIONS]",
    "register": "register [OPTIONS] NAME DEVICE",
    "unregister": "unregister [OPTIONS] NAME",
    "audit": "audit [OPTIONS]",
    "watch": "watch [OPTIONS]",
    "rules": "rules [OPTIONS]",
    "install-units": "install-units [OPTIONS]",
}
ARTEFACT = re.compile(r"\{[A-Za-z_]+\}|<[a-z|_ -]+>")  # typer's own `{DEVICE}`, `{name}`, `<str>`, `<qemu|libvirt>`


def _commands() -> list[str]:
    group = build()
    return group.list_commands(Context(group, info_name="pcie-failover"))


@pytest.mark.parametrize("command", sorted(USAGE))
def test_usage_lines_are_man_page_style(cli: Callable[..., Run], command: str) -> None:
    run = cli(command, "--help")
    assert (run.code, run.out.splitlines()[0]) == (0, f"Usage: pcie-failover {USAGE[command]}")


def test_no_help_shows_typer_artefacts(cli: Callable[..., Run]) -> None:
    """Every command's help (also one added later): no `{DEVICE}`, `<str>`, `<a|b>` or lower-case argument names."""
    assert cli("--help").out.splitlines()[0] == "Usage: pcie-failover [OPTIONS] COMMAND [ARGS]..."
    for command in ["", *_commands()]:
        text = cli(*([command] if command else []), "--help").out
        assert ARTEFACT.findall(text) == [], command
        arguments = text.partition("Arguments:\n")[2].partition("\n\n")[0]
        assert re.findall(r"^  ([^ ]+)", arguments, re.MULTILINE) == re.findall(
            r"^  ([][A-Z.]+)", arguments, re.MULTILINE
        )
    pair = cli("pair", "--help").out
    for option in ("--for [qemu|libvirt]", "--mac MAC", "--standby-id STANDBY_ID", "--format [summary|qemu|qmp|"):
        assert option in pair


def test_help_all_is_every_help_in_one_text(cli: Callable[..., Run]) -> None:
    helps = [cli("--help").out] + [cli(command, "--help").out for command in _commands()]
    run = cli("--help-all")
    assert (run.code, run.out, run.err) == (0, "\n".join(helps), "")


def test_global_options_after_the_command(cli: Callable[..., Run], tmp_path: Path) -> None:
    """`--sysfs-root X` and `--sysfs-root=X` after the command, where they win; never after `--`."""
    before = cli("--sysfs-root", DEMO, "check", "5e:00.2", "--format", "json")
    for args in (["--sysfs-root", DEMO], [f"--sysfs-root={DEMO}"]):
        after = cli("check", "5e:00.2", *args, "--format", "json")
        assert (after.code, after.out) == (0, before.out)
    wins = cli("--sysfs-root", str(tmp_path), "check", "5e:00.2", "--sysfs-root", DEMO, "--format", "json")
    assert (wins.code, wins.out) == (0, before.out)
    ended = cli("--sysfs-root", DEMO, "check", "5e:00.2", "--", f"--sysfs-root={tmp_path}")
    assert (ended.code, ended.out, ended.err) == (
        2,
        "",
        f"pcie-failover check: Got unexpected extra argument(s) (--sysfs-root={tmp_path}) "
        "(try 'pcie-failover check --help')\n",
    )
    assert "--sysfs-root PATH" in cli("check", "--help").out


def test_quiet_prints_no_report_and_keeps_the_exit_code(cli: Callable[..., Run]) -> None:
    for args in (["-q", "--sysfs-root", DEMO, "check", "5e:00.4"], ["--sysfs-root", DEMO, "check", "5e:00.4", "-q"]):
        assert cli(*args) == Run(1, "", "")
    assert cli("--sysfs-root", DEMO, "--quiet", "list", "--format", "json") == Run(0, "", "")
    # errors: one line on stderr, also under --format json (no JSON error document)
    assert cli("-q", "--sysfs-root", DEMO, "check", "5e:00.9", "--format", "json") == Run(
        2,
        "",
        "pcie-failover check: '5e:00.9' is not a PCI address (expected [DDDD:]BB:DD.F, device 00-1f, function 0-7)"
        " (try 'pcie-failover check --help')\n",
    )
    assert cli("check", "--bogus", "-q", "--format", "json") == Run(
        2, "", "pcie-failover check: No such option: --bogus (try 'pcie-failover check --help')\n"
    )
    assert cli("--sysfs-root", "/nonexistent", "list", "-q") == Run(
        3, "", "pcie-failover list: no PCI device tree at /nonexistent/bus/pci/devices\n"
    )


def test_show_completion_prints_the_script(cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    script = cli("--show-completion", "bash")
    assert script.code == 0
    assert script.out.endswith("complete -o default -F _pcie_failover_completion pcie-failover\n")
    assert "_PCIE_FAILOVER_COMPLETE=complete_bash" in script.out
    assert cli("--show-completion=bash") == script
    # no shell named: the one this runs in, else the login shell ($SHELL)
    monkeypatch.setattr("typer._completion_shared._get_shell_name", lambda: "sh")
    monkeypatch.setenv("SHELL", "/usr/bin/zsh")
    zsh = cli("--show-completion")
    assert (zsh.code, zsh.out.splitlines()[0]) == (0, "#compdef pcie-failover")
    monkeypatch.setenv("SHELL", "/bin/tcsh")
    assert cli("--show-completion") == Run(
        2,
        "",
        "pcie-failover: Invalid value for '--show-completion': no shell to complete for (this one: sh, login: tcsh): "
        "name one of bash, zsh, fish, powershell, pwsh (try 'pcie-failover --help')\n",
    )


def test_a_completion_request_answers_through_main(cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_PCIE_FAILOVER_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "pcie-failover ch")
    monkeypatch.setenv("COMP_CWORD", "1")
    assert cli() == Run(0, "check\n", "")
    monkeypatch.setenv("COMP_WORDS", "pcie-failover --version check --st")
    monkeypatch.setenv("COMP_CWORD", "3")
    assert cli("--version") == Run(0, "--standby-netdev\n--strict\n", "")  # no version printed meanwhile


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_with_the_shown_script(tmp_path: Path) -> None:
    """The script as bash runs it: a new process per request, with the environment protocol."""
    script = tmp_path / "completion.bash"
    done = subprocess.run(
        [BIN / "pcie-failover", "--show-completion", "bash"], capture_output=True, text=True, check=True
    )
    script.write_text(done.stdout)
    probe = (
        f"source {script}; COMP_WORDS=(pcie-failover ch); COMP_CWORD=1; "
        '_pcie_failover_completion pcie-failover; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}
    completed = subprocess.run(["bash", "--norc", "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert completed.stdout == "check\n"


def test_completion_costs_nothing_on_the_normal_path() -> None:
    """No completion classes registered (nor shell detection run) unless a shell asked."""
    code = (
        f"from pcie_failover.cli import main; main(['--sysfs-root', {DEMO!r}, 'check', '5e:00.2', '--format', 'json']);"
        "from typer._click.shell_completion import _available_shells as shells; import sys;"
        "print(sorted(shells), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "[]\n"  # typer's five are registered only for a completion request
    env = {
        **os.environ,
        "_PCIE_FAILOVER_COMPLETE": "complete_bash",
        "COMP_WORDS": "pcie-failover li",
        "COMP_CWORD": "1",
    }
    done = subprocess.run([sys.executable, "-m", "pcie_failover"], capture_output=True, text=True, env=env, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "list\nlint\n", "")


def test_every_command_is_in_the_registry_once() -> None:
    """COMMANDS names each command its module defines, and nothing else: a command cannot be left out of it."""
    defined: list[str] = []
    for module in dict.fromkeys(COMMANDS.values()):
        commands = importlib.import_module(module).commands
        names = [
            info.name or typer.main.get_command_name(getattr(info.callback, "__name__", ""))
            for info in commands.registered_commands
        ]
        assert names == [name for name, where in COMMANDS.items() if where == module], module
        defined += names
    assert sorted(defined) == sorted(COMMANDS)
    assert _commands() == list(COMMANDS)


def test_a_run_imports_only_its_command() -> None:
    """`check` loads the module of `check` alone (start-up time); --help loads every command's."""
    others = sorted({module for name, module in COMMANDS.items() if module != COMMANDS["check"]})
    code = (
        f"from pcie_failover.cli import main; main(['--sysfs-root', {DEMO!r}, 'check', '5e:00.2', '--format', 'json']);"
        f"import sys; print([m for m in {others!r} if m in sys.modules], file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "[]\n"
    code = (
        f"from pcie_failover.cli import main; main(['--help']); import sys; print(set({others!r}) <= set(sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.endswith("True\n")


_HELPS = tuple(f"{name} --help" for name in COMMANDS)


@pytest.mark.parametrize("columns", ["50", "80"])
def test_help_never_cuts_a_word(cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    """click's wrapper breaks at hyphens (`virsh qemu-` / `monitor-command`, `/etc/pcie-` / `failover`)."""
    monkeypatch.setenv("COLUMNS", "200")
    whole = {command: set(cli(*command.split()).out.split()) for command in ("--help-all", *_HELPS)}
    monkeypatch.setenv("COLUMNS", columns)
    for command, words in whole.items():
        text = cli(*command.split()).out
        cut = [line for line in text.splitlines() if re.search(r"[A-Za-z0-9]-$", line)]
        assert cut == [], command
        # no word split in two (`P` / `CIE_FAILOVER_STATE_D`): every word is one of the wide help's (click
        # shortens a command's summary in a listing, ending it in `...`)
        assert {w.removesuffix("...") for w in text.split()} <= {w.removesuffix("...") for w in words}, command
