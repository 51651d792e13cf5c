"""`list`: every network PCI function, or one PF and its VFs, with its readiness as a primary."""

from __future__ import annotations

from typing import Annotated

import typer

from pcie_failover.cli.app import FOR_OPTION, FORMAT_OPTION, INTERNAL_EXIT_CODE, OutputFormat, emit, fail, guarded
from pcie_failover.model.address import DeviceQuery, InputError
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.model.results import ExitCode
from pcie_failover.sysfs.root import SysfsRoot

LIST_EXIT_CODES = f"""Exit codes: 0 the devices were listed (whatever their readiness);
2 usage error, or --pf names no SR-IOV network PF; 3 the host cannot be inspected (no PCI tree
at the sysfs root); {INTERNAL_EXIT_CODE}."""

commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(name="list", epilog=LIST_EXIT_CODES)
def list_devices(
    for_: Annotated[Manager, FOR_OPTION] = Manager.QEMU,
    pf: Annotated[
        str | None,
        typer.Option("--pf", help="Only this PF (address or interface name) and its VFs.", metavar="DEVICE"),
    ] = None,
    vfs: Annotated[bool, typer.Option("--vfs", help="Only VFs.")] = False,
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
) -> int:
    """List every network PCI function with its names, PF/VF relation, driver, MACs, group and readiness."""
    options = CheckOptions(manager=for_)
    try:
        pf_query = None if pf is None else DeviceQuery.parse(pf)
    except InputError as error:
        return fail("list", output, ExitCode.USAGE, "input", f"--pf: {error}")

    def body(root: SysfsRoot) -> int:
        from pcie_failover.listing.command import NoSuchPfError, run_list

        try:
            report = run_list(root, options, pf_query, vfs)
        except NoSuchPfError as error:
            return fail("list", output, ExitCode.USAGE, "input", str(error))
        if output is OutputFormat.JSON:
            from pcie_failover.listing.json_doc import render_list

            emit(render_list(report))
        else:
            from pcie_failover.cli.terminal import terminal_layout
            from pcie_failover.listing.table import render_list as render_table

            emit(render_table(report, terminal_layout()))
        return int(report.exit_code)

    return guarded("list", output, body)
