"""`lint`: a VM's failover configuration, guest side and host side."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pcie_failover.cli.app import (
    FORMAT_OPTION,
    OutputFormat,
    app,
    emit,
    fail,
    state,
)
from pcie_failover.model.address import InputError
from pcie_failover.model.results import ExitCode, exit_code_of
from pcie_failover.sysfs.host import NoHostError, open_root
from pcie_failover.sysfs.root import SysfsRoot

LINT_EXIT_CODES = """Exit codes: 0 the failover configuration works (warnings included); 1 a rule failed, or a
primary's host check failed; 2 usage error, or a configuration that cannot be parsed (hostile XML
included); 4 undetermined (nothing failed, but a check that could fail is unknown, e.g. no PCI tree)."""


def _read_config(path: str) -> str:
    """The text of FILE (`-`: stdin), at most MAX_CONFIG_BYTES; raise InputError otherwise."""
    from pcie_failover.commands.lint import MAX_CONFIG_BYTES

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_CONFIG_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None


@app.command(epilog=LINT_EXIT_CODES)
def lint(
    qemu_args: Annotated[
        str | None, typer.Option("--qemu-args", help="A QEMU command line (`-`: stdin).", metavar="FILE")
    ] = None,
    domain_xml: Annotated[
        str | None, typer.Option("--domain-xml", help="A libvirt domain XML (`-`: stdin).", metavar="FILE")
    ] = None,
    qemu_version: Annotated[
        str | None, typer.Option("--qemu-version", help="The QEMU that runs the VM (e.g. 6.1.0).", metavar="VERSION")
    ] = None,
    no_host: Annotated[bool, typer.Option("--no-host", help="Skip the host check of each primary.")] = False,
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
) -> int:
    """Check a VM's failover configuration (QEMU command line or libvirt XML) and each primary's host device."""
    from pcie_failover.commands.lint import run_lint
    from pcie_failover.lint.model import ConfigKind

    source = qemu_args if qemu_args is not None else domain_xml
    if source is None or (qemu_args is not None and domain_xml is not None):
        return fail("lint", output, ExitCode.USAGE, "usage", "give one of --qemu-args FILE or --domain-xml FILE")
    kind = ConfigKind.QEMU if qemu_args is not None else ConfigKind.LIBVIRT
    root: SysfsRoot | None = None
    why_not = "--no-host"
    if not no_host:
        try:
            root = open_root(state.sysfs_root)
        except NoHostError as error:
            why_not = str(error)
    try:
        report = run_lint(_read_config(source), kind, source=source, root=root, why_not=why_not, version=qemu_version)
    except InputError as error:
        return fail("lint", output, ExitCode.USAGE, "input", str(error))
    if output is OutputFormat.JSON:
        from pcie_failover.render.lint_json import render_lint
    else:
        from pcie_failover.render.lint_table import render_lint
    emit(render_lint(report))
    return int(exit_code_of(report.verdict))
