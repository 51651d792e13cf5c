"""The typer app, its global options, and how every command reports errors and exits."""

from __future__ import annotations

import enum
import itertools
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.27-0.28 vendor click

from pcie_failover.model.results import ExitCode
from pcie_failover.render.escape import escape
from pcie_failover.sysfs.host import NoHostError, open_root
from pcie_failover.sysfs.root import LIVE_SYSFS, SysfsRoot

INTERNAL_EXIT_CODE = "70 internal error (a bug: one line names it)"
EXIT_CODES = f"""Exit codes: 0 ready; 1 not ready (a check failed, or with --strict warned);
2 usage error or malformed input; 3 the host cannot be inspected (no PCI tree at the
sysfs root); 4 undetermined (nothing failed, but a check that could fail is unknown);
{INTERNAL_EXIT_CODE}."""

COMMANDS = ("check", "list", "pair", "capture", "lint", "register", "unregister", "audit", "watch", "rules")


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
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _State:
    sysfs_root: str = LIVE_SYSFS


state = _State()


def _print_version(value: bool) -> None:
    if value:
        from pcie_failover import __version__
        from pcie_failover.model.report import SCHEMA_VERSION

        emit(f"pcie-failover {__version__} (JSON schema {SCHEMA_VERSION})\n")
        raise typer.Exit(int(ExitCode.READY))


@app.callback()
def global_options(
    sysfs_root: Annotated[
        str,
        typer.Option(
            "--sysfs-root",
            envvar="PCIE_FAILOVER_SYSFS_ROOT",
            help="A directory laid out like /sys (a capture or fixture); every read goes through it.",
            metavar="PATH",
        ),
    ] = LIVE_SYSFS,
    version: Annotated[  # noqa: ARG001 (handled eagerly by its callback)
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the tool's version and its JSON schema version, then exit.",
        ),
    ] = False,
) -> None:
    state.sysfs_root = sysfs_root


class OutputError(Exception):
    """Standard output could not take the report (full, closed, an I/O error): not a bug, not a finding."""


def emit(text: str) -> None:
    """Print a rendered report; OutputError when standard output cannot take it."""
    if sys.stdout is None:
        raise OutputError("standard output is closed")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as error:  # ValueError: write to a closed file
        raise OutputError(str(error)) from None


def fail(command: str, output: OutputFormat, code: ExitCode, kind: str, message: str) -> int:
    """Report an error as one line, escaped (or a JSON error document), and return its exit code."""
    if output is OutputFormat.JSON:
        from pcie_failover.render.json_doc import render_error

        emit(render_error(command, state.sysfs_root, int(code), kind, message))
    else:
        prefix = "pcie-failover" if command == "pcie-failover" else f"pcie-failover {command}"
        sys.stderr.write(f"{prefix}: {escape(message)}\n")
    return int(code)


def guarded(command: str, output: OutputFormat, body: Callable[[SysfsRoot], int]) -> int:
    """Open the root and run `body`; input and host errors become one line and an exit code."""
    try:
        root = open_root(state.sysfs_root)
    except NoHostError as error:
        return fail(command, output, ExitCode.NO_HOST, "no-host", str(error))
    return body(root)


FOR_OPTION = typer.Option("--for", help="Who binds vfio-pci and sets the MAC: qemu (you) or libvirt (managed='yes').")
FORMAT_OPTION = typer.Option("--format", help="table or json.")
REGISTRY_OPTION = typer.Option(
    "--registry", envvar="PCIE_FAILOVER_REGISTRY", help="Directory of registered pairs.", metavar="DIR"
)


def _wants_json(args: Sequence[str]) -> bool:
    return "--format=json" in args or any(a == "--format" and b == "json" for a, b in itertools.pairwise(args))


class Terminated(BaseException):
    """SIGTERM arrived: unwinds like KeyboardInterrupt, so every `finally` and cleanup runs."""


def _terminate(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the app without click's standalone error handling; SIGTERM unwinds (cleanup runs)."""
    args = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in args if a in COMMANDS), "pcie-failover")
    output = OutputFormat.JSON if _wants_json(args) else OutputFormat.TABLE
    previous = signal.signal(signal.SIGTERM, _terminate)
    # A reader of standard output that goes away ends the run as it ends lspci or grep: SIGPIPE, 141 in
    # the shell, never a code that reads as a finding. Not for `watch`, whose journal stream may reconnect.
    pipe = signal.signal(signal.SIGPIPE, signal.SIG_DFL if name != "watch" else signal.SIG_IGN)
    try:
        return _run(args, name, output)
    except Terminated:
        return int(ExitCode.TERMINATED)
    except OutputError as error:  # also when an error report itself cannot be written
        prefix = "pcie-failover" if name == "pcie-failover" else f"pcie-failover {name}"
        sys.stderr.write(f"{prefix}: cannot write the report: {escape(str(error))}\n")
        return int(ExitCode.OUTPUT_ERROR)
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGPIPE, pipe)


def _run(args: list[str], name: str, output: OutputFormat) -> int:
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="pcie-failover", standalone_mode=False)
    except NoArgsIsHelpError as error:
        sys.stderr.write(error.format_message() + "\n")
        return int(ExitCode.USAGE)
    except ClickException as error:
        # still one line: where to look next goes at its end (click would print a second one)
        program = "pcie-failover" if name == "pcie-failover" else f"pcie-failover {name}"
        message = error.format_message()
        if output is OutputFormat.TABLE:
            message = f"{message.rstrip('.')} (try '{program} --help')"
        return fail(name, output, ExitCode.USAGE, "usage", message)
    except (typer.Abort, KeyboardInterrupt):
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.BROKEN_PIPE)

    except OutputError:
        raise
    except Exception as error:  # a bug must not exit 1 ("not ready"), which the audit unit counts as success
        return fail(name, output, ExitCode.INTERNAL, "internal", f"internal error: {type(error).__name__}: {error}")
    return result if isinstance(result, int) else 0
