"""`capture`: the typer command that writes a snapshot of what the commands read."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pcie_failover.cli.app import (
    FORMAT_OPTION,
    INTERNAL_EXIT_CODE,
    OutputError,
    OutputFormat,
    emit,
    fail,
    global_options,
    guarded,
)
from pcie_failover.model.address import DeviceQuery, InputError
from pcie_failover.model.results import ExitCode
from pcie_failover.render.escape import escape
from pcie_failover.sysfs.root import SysfsRoot

commands = typer.Typer()  # registered by name in cli.app.COMMANDS


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
        from pcie_failover.capture.command import run_capture
        from pcie_failover.capture.progress import terminal_progress
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
        problem = None
        try:
            sys.stdout.flush()
            result = run_capture(root, addresses, output_file, sys.stdout.buffer, progress)
        except UnsafePathError as error:
            problem = str(error)
        except OSError as error:
            if output_file == "-":  # standard output full or gone: the environment's, as for any report
                raise OutputError(str(error)) from None
            problem = f"cannot write {output_file}: {error.strerror}"
        finally:
            if progress is not None:
                progress.clear()  # before any error line: it starts a line of its own
        if problem is not None:
            return fail("capture", output, ExitCode.USAGE, "input", problem)
        if output is OutputFormat.JSON:
            from pcie_failover.capture.json_doc import render_capture

            text = render_capture(root.origin, result)
        else:
            netlink = "with" if result.netlink else "without"
            devices = f"{result.devices} device{'' if result.devices == 1 else 's'}"
            entries = f"{result.entries} entr{'y' if result.entries == 1 else 'ies'}"
            text = f"{escape(result.path)}: {devices}, {entries}, {netlink} netlink facts\n"
        if output_file == "-":
            sys.stdout.buffer.flush()
            if not global_options().quiet:
                sys.stderr.write(text)  # standard output holds the archive
        else:
            emit(text)
        return int(ExitCode.READY)

    return guarded("capture", output, body)
