"""`check`, `list` and `capture`: one device, every network device, a snapshot."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pcie_failover.cli.app import (
    EXIT_CODES,
    FOR_OPTION,
    FORMAT_OPTION,
    INTERNAL_EXIT_CODE,
    OutputError,
    OutputFormat,
    emit,
    fail,
    guarded,
    state,
)
from pcie_failover.model.address import DeviceQuery, InputError, parse_unicast_mac, validate_ifname
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.model.results import ExitCode
from pcie_failover.render.escape import escape
from pcie_failover.sysfs.root import SysfsRoot

LIST_EXIT_CODES = f"""Exit codes: 0 the devices were listed (whatever their readiness);
2 usage error, or --pf names no SR-IOV network PF; 3 the host cannot be inspected (no PCI tree
at the sysfs root); {INTERNAL_EXIT_CODE}."""


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
            from pcie_failover.render.json_doc import render_check

            emit(render_check(report))
        else:
            from pcie_failover.cli.terminal import terminal_layout
            from pcie_failover.render.table import render_check as render_table

            emit(render_table(report, terminal_layout()))
        return int(report.exit_code)

    return guarded("check", output, body)


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
            from pcie_failover.render.json_doc import render_list

            emit(render_list(report))
        else:
            from pcie_failover.cli.terminal import terminal_layout
            from pcie_failover.render.table import render_list as render_table

            emit(render_table(report, terminal_layout()))
        return int(report.exit_code)

    return guarded("list", output, body)


CAPTURE_EXIT_CODES = f"""Exit codes: 0 the snapshot was written; 2 usage error, malformed address, unknown
device (no such PCI function or interface), an output file that cannot be written or exists and is
not a regular file; 3 the host cannot be inspected (no PCI tree); {INTERNAL_EXIT_CODE}."""


@commands.command(epilog=CAPTURE_EXIT_CODES)
def capture(
    devices: Annotated[
        list[str] | None,
        typer.Argument(
            help="PCI addresses or interface names (default: every network function).", metavar="[DEVICE]..."
        ),
    ] = None,
    output_file: Annotated[
        str, typer.Option("-o", "--output", help="The .tar.gz to write; - for standard output.", metavar="FILE")
    ] = "",
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
) -> int:
    """Snapshot what the checks read (for a bug report); pass the .tar.gz itself as --sysfs-root to check it."""
    if not output_file:
        return fail("capture", output, ExitCode.USAGE, "usage", "an output file is required (-o FILE.tar.gz)")
    if output_file == "-" and sys.stdout is None:
        raise OutputError("standard output is closed")
    if output_file == "-" and sys.stdout.isatty():
        return fail("capture", output, ExitCode.USAGE, "usage", "refusing to write the archive to a terminal")
    try:
        queries = [DeviceQuery.parse(d) for d in devices or []]
    except InputError as error:
        return fail("capture", output, ExitCode.USAGE, "input", str(error))

    def body(root: SysfsRoot) -> int:
        from pcie_failover.adapters.files import UnsafePathError
        from pcie_failover.cli.progress import terminal_progress
        from pcie_failover.commands.capture import run_capture
        from pcie_failover.sysfs.check_input import locate

        addresses = []
        for query in queries:
            located = locate(root, query)
            address = getattr(located, "address", None)
            if address is None:
                problem = getattr(located, "problem", None) or str(located)
                return fail("capture", output, ExitCode.USAGE, "input", problem)
            addresses.append(address)
        progress = terminal_progress()
        try:
            sys.stdout.flush()
            result = run_capture(root, addresses, output_file, sys.stdout.buffer, progress)
        except UnsafePathError as error:
            return fail("capture", output, ExitCode.USAGE, "input", str(error))
        except OSError as error:
            if output_file == "-":  # standard output full or gone: the environment's, as for any report
                raise OutputError(str(error)) from None
            return fail("capture", output, ExitCode.USAGE, "input", f"cannot write {output_file}: {error.strerror}")
        finally:
            if progress is not None:
                progress.clear()
        if output is OutputFormat.JSON:
            from pcie_failover.render.json_doc import render_capture

            text = render_capture(root.origin, result)
        else:
            netlink = "with" if result.netlink else "without"
            devices = f"{result.devices} device{'' if result.devices == 1 else 's'}"
            entries = f"{result.entries} entr{'y' if result.entries == 1 else 'ies'}"
            text = f"{escape(result.path)}: {devices}, {entries}, {netlink} netlink facts\n"
        if output_file == "-":
            sys.stdout.buffer.flush()
            if not state.quiet:
                sys.stderr.write(text)  # standard output holds the archive
        else:
            emit(text)
        return int(ExitCode.READY)

    return guarded("capture", output, body)
