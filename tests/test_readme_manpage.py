"""README.md is the manual (#14): its command sections and `--help` cannot drift apart.

For every command, its `### <command>` section of README.md holds each option as `--help` shows it
(`` `--for [qemu|libvirt]`: `` and the help text, defaults and environment variables included) and
an exit-status list that is its epilog, code by code and word by word. The synopsis names every
command, the global options read as `pcie-failover --help` shows them, and the environment section
names every variable the code reads.

`.venv/bin/python -m tests.test_readme_manpage [COMMAND]...` prints the sections' generated parts
(synopsis, arguments, options, exit status) as README.md wants them, to paste after a change.
"""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path

import pytest
from typer._click import Command, Context
from typer.core import TyperArgument, TyperGroup, TyperOption

from pcie_failover.cli.app import COMPLETE_VAR, PROG, build

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
GLOBAL_ONLY = {"--version", "--help-all", "--show-completion", "--install-completion"}  # before the command only


def _flat(text: str) -> str:
    return " ".join(text.split())


@cache
def _group() -> tuple[TyperGroup, Context]:
    group = build()
    return group, Context(group, info_name=PROG, **group.context_settings)


def _commands() -> list[str]:
    group, context = _group()
    return group.list_commands(context)


def _command(name: str) -> tuple[Command, Context]:
    group, context = _group()
    command = group.get_command(context, name)
    assert command is not None, name
    return command, Context(command, info_name=name, parent=context)


def _records(command: Command, context: Context, kind: type) -> list[tuple[str, str]]:
    """(declaration, help) of each parameter of `kind` as `--help` prints them, whitespace folded."""
    records = []
    for param in command.get_params(context):
        if isinstance(param, kind):
            record = param.get_help_record(context)
            if record is not None:
                records.append((record[0], _flat(record[1])))
    return records


def _usage(name: str) -> str:
    command, context = _command(name)
    return " ".join([PROG, name, *command.collect_usage_pieces(context)])


def _epilog_codes(epilog: str) -> dict[int, str]:
    """`Exit codes: 0 ready; 1 not ready (...); ...` as {0: "ready", 1: "not ready (...)", ...}."""
    body = _flat(epilog).partition(": ")[2].removesuffix(".")
    codes = {}
    for clause in re.split(r"; (?=\d+ )", body):
        code, _, meaning = clause.partition(" ")
        codes[int(code)] = meaning
    return codes


def _readme() -> str:
    return README.read_text()


def _section(heading: str, text: str | None = None) -> str:
    """The text under `heading` (a whole heading line) up to the next heading of its level or above."""
    text = _readme() if text is None else text
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    assert heading in lines, f"README.md has no {heading!r} heading"
    start = lines.index(heading) + 1
    end = next(
        (i for i in range(start, len(lines)) if re.match(rf"#{{1,{level}}} ", lines[i])),
        len(lines),
    )
    return "\n".join(lines[start:end])


def _exit_list(section: str) -> dict[int, str]:
    """The `#### Exit status` list of a command's section: `- **N** meaning` items (wrapped lines folded)."""
    listing = _section("#### Exit status", section)
    items: dict[int, str] = {}
    current: int | None = None
    for line in listing.splitlines():
        item = re.match(r"- \*\*(\d+)\*\* (.*)", line)
        if item:
            current = int(item.group(1))
            assert current not in items, f"exit status {current} listed twice"
            items[current] = item.group(2)
        elif current is not None and line.startswith("  ") and line.strip():
            items[current] += " " + line.strip()
        else:
            current = None
    return {code: _flat(meaning) for code, meaning in items.items()}


def _long_options(command: Command, context: Context) -> list[str]:
    return [
        opt
        for param in command.get_params(context)
        if isinstance(param, TyperOption)
        for opt in [*param.opts, *param.secondary_opts]
        if opt.startswith("--")
    ]


@pytest.mark.parametrize("name", _commands())
def test_every_long_option_is_in_the_commands_section(name: str) -> None:
    command, context = _command(name)
    section = _section(f"### {name}")
    missing = [o for o in _long_options(command, context) if not re.search(rf"(?<![\w-]){o}(?![\w-])", section)]
    assert missing == [], f"README.md's `### {name}` lacks {missing}"


@pytest.mark.parametrize("name", _commands())
def test_options_and_arguments_read_as_help_shows_them(name: str) -> None:
    """`` `DECLARATION`: help `` for each: the metavar, the words, `[default: ...]` and `[env var: ...]`."""
    command, context = _command(name)
    section = _flat(_section(f"### {name}"))
    records = _records(command, context, TyperOption) + _records(command, context, TyperArgument)
    missing = [f"`{declaration}`: {text}" for declaration, text in records if f"`{declaration}`: {text}" not in section]
    assert missing == [], f"README.md's `### {name}` should read (run python -m tests.test_readme_manpage {name})"


@pytest.mark.parametrize("name", _commands())
def test_exit_status_list_is_the_epilog(name: str) -> None:
    """Every code of `<command> --help`'s epilog, with its words, and no other code."""
    command, _ = _command(name)
    assert command.epilog, f"{name} --help lists no exit codes"
    assert _exit_list(_section(f"### {name}")) == _epilog_codes(command.epilog)


def test_synopsis_names_every_command_with_its_usage() -> None:
    synopsis = _section("## Synopsis")
    assert [name for name in _commands() if _usage(name) not in synopsis] == []
    sections = re.findall(r"^### (\S+)$", _section("## Commands"), re.MULTILINE)
    assert sections == _commands()  # one section each, in the order of `pcie-failover --help`


def test_global_options_read_as_help_shows_them() -> None:
    group, context = _group()
    section = _flat(_section("## Global options"))
    records = _records(group, context, TyperOption)
    assert [f"`{d}`: {t}" for d, t in records if f"`{d}`: {t}" not in section] == []
    assert set(_long_options(group, context)) >= GLOBAL_ONLY
    for name in _commands():  # the two also accepted after the command are in each command's own list
        command, context = _command(name)
        assert set(_long_options(command, context)) >= {"--sysfs-root", "--quiet", "--help"}, name


def _variables_read() -> set[str]:
    """Every environment variable the package reads: `environ.get("X")`, `envvar="X"`, and completion's."""
    names = {COMPLETE_VAR}
    for path in (REPO / "pcie_failover").rglob("*.py"):
        text = path.read_text()
        names |= set(re.findall(r"""environ(?:\.get\(|\[)\s*["']([A-Z_][A-Z0-9_]*)["']""", text))
        names |= set(re.findall(r"""envvar=["']([A-Z_][A-Z0-9_]*)["']""", text))
        names |= set(re.findall(r"""getenv\(\s*["']([A-Z_][A-Z0-9_]*)["']""", text))
    return names


def test_environment_names_every_variable_the_code_reads() -> None:
    variables = _variables_read()
    assert {"PCIE_FAILOVER_SYSFS_ROOT", "PCIE_FAILOVER_REGISTRY", "NO_COLOR", "COLUMNS", "TERM"} <= variables
    environment = _section("## Environment")
    assert sorted(v for v in variables if f"`{v}`" not in environment) == []


def test_the_json_claim_names_the_commands_without_json() -> None:
    """The description says which commands take `--format json`, from their --format choices."""
    without = []
    for name in _commands():
        command, context = _command(name)
        formats = [p for p in command.get_params(context) if isinstance(p, TyperOption) and "--format" in p.opts]
        if not formats or "json" not in formats[0].get_help_record(context)[0]:  # type: ignore[index]
            without.append(f"`{name}`")
    assert without == ["`install-units`"]
    assert f"Every command but {', '.join(without)} takes `--format json`" in _flat(_section("## Description"))


def _generated(name: str) -> str:
    """The parts of `### name` that come from the code, in README.md's form."""
    command, context = _command(name)
    lines = [f"### {name}", "", "```", _usage(name), "```", "", _flat(command.help or ""), ""]
    arguments = _records(command, context, TyperArgument)
    if arguments:
        lines += ["#### Arguments", "", *(f"- `{d}`: {t}" for d, t in arguments), ""]
    lines += ["#### Options", "", *(f"- `{d}`: {t}" for d, t in _records(command, context, TyperOption)), ""]
    lines += ["#### Exit status", ""]
    lines += [f"- **{code}** {meaning}" for code, meaning in _epilog_codes(command.epilog or "").items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for wanted in sys.argv[1:] or _commands():
        sys.stdout.write(_generated(wanted) + "\n")
