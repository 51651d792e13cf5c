"""`check`: whether one device can be the primary of a virtio-net failover pair."""

from __future__ import annotations

from typing import Annotated

import typer

from pcie_failover.cli.app import EXIT_CODES, FOR_OPTION, FORMAT_OPTION, OutputFormat, emit, fail, guarded
from pcie_failover.model.address import DeviceQuery, InputError, parse_unicast_mac, validate_ifname
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.model.results import ExitCode
from pcie_failover.sysfs.root import SysfsRoot

commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(epilog=EXIT_CODES)
def check(
    device: Annotated[
        str, typer.Argument(help="PCI address (5e:00.2, 0000:5e:00.2) or interface name.", metavar="DEVICE")
    ],
    for_: Annotated[Manager, FOR_OPTION] = Manager.QEMU,
    mac: Annotated[str | None, typer.Option("--mac", help="The MAC the standby will carry.")] = None,
    allow_pf: Annotated[
        bool, typer.Option("--allow-pf", help="Accept a PF (warn) for a VM that never migrates.")
    ] = False,
    standby_netdev: Annotated[
        str | None, typer.Option("--standby-netdev", help="The standby's host backend (bridge, macvtap, tap).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as failures.")] = False,
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
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
        return fail("check", output, ExitCode.USAGE, "input", str(error))

    def body(root: SysfsRoot) -> int:
        from pcie_failover.check.command import run_check

        report = run_check(root, query, options, strict)
        if output is OutputFormat.JSON:
            from pcie_failover.check.json_doc import render_check

            emit(render_check(report))
        else:
            from pcie_failover.check.table import render_check as render_table
            from pcie_failover.cli.terminal import terminal_layout

            emit(render_table(report, terminal_layout()))
        return int(report.exit_code)

    return guarded("check", output, body)
