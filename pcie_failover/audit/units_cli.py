"""`install-units`: install the packaged udev rule, systemd units and tmpfiles entry (what `make install-udev` runs)."""

from __future__ import annotations

from typing import Annotated

import typer

from pcie_failover.cli.app import INTERNAL_EXIT_CODE, OutputFormat, emit, fail, note
from pcie_failover.model.results import ExitCode
from pcie_failover.render.escape import escape

INSTALL_EXIT_CODES = f"""Exit codes: 0 installed (or already so); 1 the files are in place but telling systemd
or udev failed (run that command again); 2 usage error, a --bindir with no executable pcie-failover or
one the services' sandbox hides (/home, /root, /tmp; for the running system), a file that differs from
the packaged one (without --force), a destination that is not a regular file or cannot be written
(nothing is written then); {INTERNAL_EXIT_CODE}."""


_DIRECTORY_HELP = "Where {} is (default: pkg-config's, as for `make install-udev`)."
UDEVDIR_OPTION = typer.Option("--udevdir", help=_DIRECTORY_HELP.format("udev's directory"), metavar="DIR")
UNITDIR_OPTION = typer.Option("--unitdir", help=_DIRECTORY_HELP.format("systemd's unit directory"), metavar="DIR")
TMPFILESDIR_OPTION = typer.Option("--tmpfilesdir", help=_DIRECTORY_HELP.format("tmpfiles.d"), metavar="DIR")


commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(name="install-units", epilog=INSTALL_EXIT_CODES)
def install_units(
    destdir: Annotated[
        str,
        typer.Option(
            "--destdir",
            help="Install below DIR (packaging): systemd and udev are not told. Empty: the running system.",
            metavar="DIR",
        ),
    ] = "",
    bindir: Annotated[
        str | None,
        typer.Option(
            "--bindir",
            help="Where pcie-failover is, for ExecStart= (default: where this one runs from); "
            "for the running system it must hold an executable pcie-failover the units can see.",
            metavar="DIR",
        ),
    ] = None,
    udevdir: Annotated[str | None, UDEVDIR_OPTION] = None,
    unitdir: Annotated[str | None, UNITDIR_OPTION] = None,
    tmpfilesdir: Annotated[str | None, TMPFILESDIR_OPTION] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace files that differ from the packaged ones.")] = False,
) -> int:
    """Install the udev rule, the systemd units and the tmpfiles entry shipped in the package; as root, reload them."""
    from pcie_failover.audit.install_units import (
        InstallError,
        check_bindir,
        default_bindir,
        default_directory,
        install,
        plan,
        reload,
    )

    try:
        executables = bindir if bindir is not None else default_bindir()
        targets = plan(
            executables,
            udevdir or default_directory("udevdir"),
            unitdir or default_directory("unitdir"),
            tmpfilesdir or default_directory("tmpfilesdir"),
            destdir,
        )
        for warning in check_bindir(executables, destdir, targets):
            note("install-units", f"warning: {warning}")
        steps = install(targets, force)
    except InstallError as error:
        return fail("install-units", OutputFormat.TABLE, ExitCode.USAGE, "input", str(error), hint=error.usage)
    if not destdir:
        steps += reload(targets[1].path)
    emit("".join(f"{step.outcome} {escape(step.what)}\n" for step in steps))
    return int(ExitCode.NOT_READY) if any(step.outcome == "failed" for step in steps) else int(ExitCode.READY)
