"""`lint`: a VM's failover configuration, guest side and host side."""

from __future__ import annotations

import shlex
import subprocess
import sys
from typing import Annotated

import typer

from pcie_failover.cli.app import (
    FORMAT_OPTION,
    INTERNAL_EXIT_CODE,
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

LINT_EXIT_CODES = f"""Exit codes: 0 the failover configuration works (warnings included); 1 a rule failed, or a
primary's host check failed; 2 usage error, a configuration that cannot be read or parsed (hostile XML
included), or virsh could not dump --domain; 4 undetermined (nothing failed, but a check that could fail
is unknown, e.g. no PCI tree); {INTERNAL_EXIT_CODE}."""
VIRSH_TIMEOUT = 60.0  # seconds for `virsh dumpxml`: a hung libvirtd is an error, not a hang


def _text(data: bytes, what: str) -> str:
    """`data` as text, when at most MAX_CONFIG_BYTES of UTF-8; raise InputError otherwise."""
    from pcie_failover.commands.lint import MAX_CONFIG_BYTES

    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{what} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise InputError(f"{what} is not UTF-8 text") from None


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
    return _text(data, path)


def virsh_command(name: str) -> str:
    """How the report names a domain read with virsh: the command, shell-quoted."""
    return f"virsh dumpxml {shlex.quote(name)}"


def read_domain(name: str) -> str:
    """Domain NAME's XML from `virsh dumpxml -- NAME` (NAME one argument, no shell); raise InputError otherwise."""
    command = virsh_command(name)
    try:
        done = subprocess.run(
            ["virsh", "dumpxml", "--", name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=VIRSH_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise InputError("--domain needs virsh (Debian: libvirt-clients), not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{command} did not finish within {VIRSH_TIMEOUT:.0f} s") from None
    except OSError as error:
        raise InputError(f"cannot run virsh: {error.strerror}") from None
    if done.returncode != 0:
        said = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise InputError(f"{command} failed (exit {done.returncode}): {'; '.join(said) or 'no message'}")
    return _text(done.stdout, command)


def _read_pid(pid: int) -> str:
    """The argv of QEMU process PID, from /proc/PID/cmdline; raise InputError when gone or not QEMU."""
    from pcie_failover.lint.qemu_words import is_qemu_binary

    if pid <= 0:
        raise InputError(f"--pid {pid} is not a process id")
    try:
        text = _read_config(f"/proc/{pid}/cmdline")
    except InputError:
        raise InputError(f"--pid {pid}: no such process (or its command line cannot be read)") from None
    command = text.partition("\0")[0]
    if not is_qemu_binary(command):
        raise InputError(f"--pid {pid} is not QEMU (its command is {command!r})")
    return text


@app.command(epilog=LINT_EXIT_CODES)
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
    from pcie_failover.commands.lint import run_lint
    from pcie_failover.lint.model import ConfigKind

    if sum(given is not None for given in (qemu_args, domain_xml, domain, pid)) != 1:
        message = "give one of --qemu-args FILE, --domain-xml FILE, --domain NAME, --pid PID"
        return fail("lint", output, ExitCode.USAGE, "usage", message)
    kind = ConfigKind.QEMU if domain_xml is None and domain is None else ConfigKind.LIBVIRT
    root: SysfsRoot | None = None
    why_not = "--no-host"
    if not no_host:
        try:
            root = open_root(state.sysfs_root)
        except NoHostError as error:
            why_not = str(error)
    try:
        if pid is not None:
            source, text = f"/proc/{pid}/cmdline", _read_pid(pid)
        elif domain is not None:
            source, text = virsh_command(domain), read_domain(domain)
        else:
            source = next(given for given in (qemu_args, domain_xml) if given is not None)
            text = _read_config(source)
        report = run_lint(text, kind, source=source, root=root, why_not=why_not, version=qemu_version)
    except InputError as error:
        return fail("lint", output, ExitCode.USAGE, "input", str(error))
    if output is OutputFormat.JSON:
        from pcie_failover.render.lint_json import render_lint

        emit(render_lint(report))
    else:
        from pcie_failover.cli.terminal import terminal_layout
        from pcie_failover.render.lint_table import render_lint as render_table

        emit(render_table(report, terminal_layout()))
    return int(exit_code_of(report.verdict))
