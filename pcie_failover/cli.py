"""Command-line shell: parse -> read -> rules -> render -> exit code. Nothing else lives here."""

from __future__ import annotations

import enum
import itertools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.27-0.28 vendor click

from pcie_failover.model.address import DeviceQuery, InputError, parse_unicast_mac, validate_ifname
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.model.results import ExitCode, exit_code_of
from pcie_failover.sysfs.host import NoHostError, open_root
from pcie_failover.sysfs.root import LIVE_SYSFS, SysfsRoot

EXIT_CODES = """Exit codes: 0 ready; 1 not ready (a check failed, or with --strict warned);
2 usage error or malformed input; 3 the host cannot be inspected (no PCI tree at the
sysfs root); 4 undetermined (nothing failed, but a check that could fail is unknown)."""

LIST_EXIT_CODES = """Exit codes: 0 the devices were listed (whatever their readiness);
2 usage error; 3 the host cannot be inspected (no PCI tree at the sysfs root)."""


class OutputFormat(enum.Enum):
    """How results are printed."""

    TABLE = "table"
    JSON = "json"


app = typer.Typer(
    name="pcie-failover",
    help="Preflight checks for QEMU virtio-net failover primaries (SR-IOV VFs on vfio-pci).",
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
)


class _State:
    sysfs_root: str = LIVE_SYSFS


_state = _State()


@app.callback()
def _global_options(
    sysfs_root: Annotated[
        str,
        typer.Option(
            "--sysfs-root",
            envvar="PCIE_FAILOVER_SYSFS_ROOT",
            help="A directory laid out like /sys (a capture or fixture); every read goes through it.",
            metavar="PATH",
        ),
    ] = LIVE_SYSFS,
) -> None:
    _state.sysfs_root = sysfs_root


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _fail(command: str, output: OutputFormat, code: ExitCode, kind: str, message: str) -> int:
    if output is OutputFormat.JSON:
        from pcie_failover.render.json_doc import render_error

        _emit(render_error(command, _state.sysfs_root, int(code), kind, message))
    else:
        sys.stderr.write(f"pcie-failover {command}: {message}\n")
    return int(code)


def _guarded(command: str, output: OutputFormat, body: Callable[[SysfsRoot], int]) -> int:
    """Open the root and run `body`; input and host errors become one line and an exit code."""
    try:
        root = open_root(_state.sysfs_root)
    except NoHostError as error:
        return _fail(command, output, ExitCode.NO_HOST, "no-host", str(error))
    return body(root)


_FOR = typer.Option("--for", help="Who binds vfio-pci and sets the MAC: qemu (you) or libvirt (managed='yes').")
_FORMAT = typer.Option("--format", help="table or json.")


@app.command(epilog=EXIT_CODES)
def check(
    device: Annotated[
        str, typer.Argument(help="PCI address (5e:00.2, 0000:5e:00.2) or interface name.", metavar="DEVICE")
    ],
    for_: Annotated[Manager, _FOR] = Manager.QEMU,
    mac: Annotated[str | None, typer.Option("--mac", help="The MAC the standby will carry.")] = None,
    allow_pf: Annotated[
        bool, typer.Option("--allow-pf", help="Accept a PF (warn) for a VM that never migrates.")
    ] = False,
    standby_netdev: Annotated[
        str | None, typer.Option("--standby-netdev", help="The standby's host backend (bridge, macvtap, tap).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as failures.")] = False,
    output: Annotated[OutputFormat, _FORMAT] = OutputFormat.TABLE,
) -> int:
    """Check whether DEVICE can be the primary of a virtio-net failover pair."""
    try:
        query = DeviceQuery.parse(device)
        options = CheckOptions(
            manager=for_,
            mac=None if mac is None else parse_unicast_mac(mac),
            allow_pf=allow_pf,
            standby_netdev=None if standby_netdev is None else validate_ifname(standby_netdev),
        )
    except InputError as error:
        return _fail("check", output, ExitCode.USAGE, "input", str(error))

    def body(root: SysfsRoot) -> int:
        from pcie_failover.commands.check import run_check

        report = run_check(root, query, options, strict)
        if output is OutputFormat.JSON:
            from pcie_failover.render.json_doc import render_check
        else:
            from pcie_failover.render.table import render_check
        _emit(render_check(report))
        return int(exit_code_of(report.verdict))

    return _guarded("check", output, body)


@app.command(name="list", epilog=LIST_EXIT_CODES)
def list_devices(
    for_: Annotated[Manager, _FOR] = Manager.QEMU,
    output: Annotated[OutputFormat, _FORMAT] = OutputFormat.TABLE,
) -> int:
    """List every network PCI function with its PF/VF relation, driver, group and readiness."""
    options = CheckOptions(manager=for_)

    def body(root: SysfsRoot) -> int:
        from pcie_failover.commands.listing import run_list

        report = run_list(root, options)
        if output is OutputFormat.JSON:
            from pcie_failover.render.json_doc import render_list
        else:
            from pcie_failover.render.table import render_list
        _emit(render_list(report))
        return int(ExitCode.READY)

    return _guarded("list", output, body)


def _wants_json(args: Sequence[str]) -> bool:
    return "--format=json" in args or any(a == "--format" and b == "json" for a, b in itertools.pairwise(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the app without click's standalone error handling."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="pcie-failover", standalone_mode=False)
    except NoArgsIsHelpError as error:
        sys.stderr.write(error.format_message() + "\n")
        return int(ExitCode.USAGE)
    except ClickException as error:
        name = next((a for a in args if a in ("check", "list")), "pcie-failover")
        output = OutputFormat.JSON if _wants_json(args) else OutputFormat.TABLE
        return _fail(name, output, ExitCode.USAGE, "usage", error.format_message())
    except typer.Abort:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return result if isinstance(result, int) else 0
