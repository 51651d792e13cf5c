"""`lint`: a VM's failover configuration, guest side and host side."""

from __future__ import annotations

from typing import Annotated

import typer

from pcie_failover.adapters.vm_config import read_config, read_domain, read_pid, virsh_command
from pcie_failover.cli.app import (
    FORMAT_OPTION,
    INTERNAL_EXIT_CODE,
    OutputFormat,
    emit,
    fail,
    global_options,
)
from pcie_failover.model.address import InputError
from pcie_failover.model.results import ExitCode
from pcie_failover.sysfs.host import NoHostError, open_root
from pcie_failover.sysfs.root import SysfsRoot

LINT_EXIT_CODES = f"""Exit codes: 0 the failover configuration works (warnings included); 1 a rule failed, or a
primary's host check failed; 2 usage error, a configuration that cannot be read or parsed (hostile XML
included), or virsh could not dump --domain; 4 undetermined (nothing failed, but a check that could fail
is unknown, e.g. no PCI tree); {INTERNAL_EXIT_CODE}."""


commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(epilog=LINT_EXIT_CODES)
def lint(
    qemu_args: Annotated[
        str | None, typer.Option("--qemu-args", help="A QEMU command line (`-`: stdin).", metavar="FILE")
    ] = None,
    domain_xml: Annotated[
        str | None, typer.Option("--domain-xml", help="A libvirt domain XML (`-`: stdin).", metavar="FILE")
    ] = None,
    domain: Annotated[
        str | None, typer.Option("--domain", help="A libvirt domain: its `virsh dumpxml NAME`.", metavar="NAME")
    ] = None,
    pid: Annotated[
        int | None, typer.Option("--pid", help="A running QEMU: its /proc/PID/cmdline.", metavar="PID")
    ] = None,
    qemu_version: Annotated[
        str | None, typer.Option("--qemu-version", help="The QEMU that runs the VM (e.g. 6.1.0).", metavar="VERSION")
    ] = None,
    no_host: Annotated[bool, typer.Option("--no-host", help="Skip the host check of each primary.")] = False,
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
) -> int:
    """Check a VM's failover configuration (QEMU command line or libvirt XML) and each primary's host device."""
    from pcie_failover.lint.command import run_lint
    from pcie_failover.lint.model import ConfigKind

    if sum(given is not None for given in (qemu_args, domain_xml, domain, pid)) != 1:
        message = "give one of --qemu-args FILE, --domain-xml FILE, --domain NAME, --pid PID"
        return fail("lint", output, ExitCode.USAGE, "usage", message)
    kind = ConfigKind.QEMU if domain_xml is None and domain is None else ConfigKind.LIBVIRT
    root: SysfsRoot | None = None
    why_not = "--no-host"
    if not no_host:
        try:
            root = open_root(global_options().sysfs_root)
        except NoHostError as error:
            why_not = str(error)
    try:
        if pid is not None:
            source, text = f"/proc/{pid}/cmdline", read_pid(pid)
        elif domain is not None:
            source, text = virsh_command(domain), read_domain(domain)
        else:
            source = next(given for given in (qemu_args, domain_xml) if given is not None)
            text = read_config(source)
        report = run_lint(text, kind, source=source, root=root, why_not=why_not, version=qemu_version)
    except InputError as error:
        return fail("lint", output, ExitCode.USAGE, "input", str(error))
    if output is OutputFormat.JSON:
        from pcie_failover.lint.json_doc import render_lint

        emit(render_lint(report))
    else:
        from pcie_failover.cli.terminal import terminal_layout
        from pcie_failover.lint.table import render_lint as render_table

        emit(render_table(report, terminal_layout()))
    return int(report.exit_code)
