"""`prepare`: make a VF ready for failover (admin MAC, flags, vfio-pci, persistence), reversibly."""

from __future__ import annotations

import enum
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pcie_failover.cli.app import (
    FORMAT_OPTION,
    INTERNAL_EXIT_CODE,
    REGISTRY_OPTION,
    OutputFormat,
    emit,
    fail,
    global_options,
    note,
)
from pcie_failover.model.address import DeviceQuery, InputError, parse_unicast_mac
from pcie_failover.model.results import ExitCode
from pcie_failover.sysfs.root import LIVE_SYSFS

if TYPE_CHECKING:
    from pcie_failover.prepare.report import PrepareReport, Registration
    from pcie_failover.prepare.runner import Writer

PREPARE_EXIT_CODES = f"""Exit codes: 0 done: the VF is ready (or nothing was needed; with --undo: the
recorded state is back; with --dry-run: the steps were printed); 1 refused, nothing changed (in use:
its interface up, enslaved, with an upper device, addresses beyond link-local or routes, a macvlan's MAC
in its unicast filter, or in another network namespace; a userspace I/O driver; on vfio-pci, open
(enabled) or its VFIO files held by a process; a --mac of the PF or of another of its VFs; a PF; an
IOMMU group member prepare may not move, or one on a host driver without --group; a failing check
prepare does not fix; a name the writer would refuse; a rule file an undo record cannot keep), or not
ready when re-checked after the steps; 2 usage error or malformed input, not root, --sysfs-root other
than /sys, an unusable undo record or state directory, --register failed (with --format json: in the
document's `register`); 3 no PCI tree at /sys; 5 a step failed and every step taken was undone; 6 a
step failed and undoing failed too, or stopped before unbinding a host driver in use again (the report
names what; the undo record is kept); 7 --undo: the recorded device no longer exists (its VFs were
destroyed; the record is kept);
{INTERNAL_EXIT_CODE}."""


class Persistence(enum.Enum):
    """How the override survives reboots."""

    DRIVERCTL = "driverctl"
    UDEV = "udev"


class Switch(enum.Enum):
    """on or off."""

    ON = "on"
    OFF = "off"


STATE_DIR_OPTION = typer.Option(
    "--state-dir", envvar="PCIE_FAILOVER_STATE_DIR", help="Directory of undo records.", metavar="DIR"
)


commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(epilog=PREPARE_EXIT_CODES)
def prepare(
    device: Annotated[str, typer.Argument(help="The VF: PCI address (5e:00.2) or interface name.", metavar="DEVICE")],
    mac: Annotated[str | None, typer.Option("--mac", help="The VM's MAC: the VF's admin MAC (required).")] = None,
    spoofchk: Annotated[Switch | None, typer.Option("--spoofchk", help="Set the VF's spoofchk.")] = None,
    trust: Annotated[Switch | None, typer.Option("--trust", help="Set the VF's trust.")] = None,
    group: Annotated[
        bool, typer.Option("--group", help="Also move the IOMMU group's other unused members to vfio-pci (listed).")
    ] = False,
    persist: Annotated[
        Persistence | None,
        typer.Option("--persist", help="Keep vfio-pci across reboots: driverctl, or a udev rule (atomic)."),
    ] = None,
    undo: Annotated[bool, typer.Option("--undo", help="Restore the driver, override and MAC recorded before.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the steps as a shell script; change nothing.")
    ] = False,
    register: Annotated[
        str | None,
        typer.Option("--register", help="Then register the pair under NAME (as pair --save).", metavar="NAME"),
    ] = None,
    registry: Annotated[str, REGISTRY_OPTION] = "/etc/pcie-failover/pairs.d",
    state_dir: Annotated[str, STATE_DIR_OPTION] = "/var/lib/pcie-failover/prepare",
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
) -> int:
    """Make VF DEVICE ready to be a failover primary (as root), recording what it changes for --undo."""
    from pcie_failover.audit.record import RecordError as RegistryRecordError
    from pcie_failover.audit.record import validate_name
    from pcie_failover.prepare.plan import Request

    try:
        query = DeviceQuery.parse(device)
        if undo and (mac is not None or spoofchk or trust or group or persist or register):
            raise InputError("--undo takes only the device (and --dry-run, --state-dir, --format)")
        if not undo and mac is None:
            raise InputError("--mac is required: the VM's MAC, which the VF's admin MAC must carry")
        if register is not None:
            validate_name(register)
        request = (
            None
            if mac is None
            else Request(
                mac=parse_unicast_mac(mac),
                spoofchk=None if spoofchk is None else spoofchk is Switch.ON,
                trust=None if trust is None else trust is Switch.ON,
                group=group,
                persist=None if persist is None else persist.value,
            )
        )
    except (InputError, RegistryRecordError) as error:
        return fail("prepare", output, ExitCode.USAGE, "input", str(error))
    if os.path.realpath(global_options().sysfs_root) != LIVE_SYSFS:
        return fail(
            "prepare",
            output,
            ExitCode.USAGE,
            "usage",
            f"prepare changes the running host: --sysfs-root must be {LIVE_SYSFS}",
        )
    if not dry_run and os.geteuid() != 0:
        return fail("prepare", output, ExitCode.USAGE, "usage", "prepare needs root (--dry-run prints the steps)")
    from pcie_failover.adapters.programs import system_program
    from pcie_failover.adapters.writer import LiveWriter
    from pcie_failover.sysfs.host import NoHostError, open_root

    try:
        root = open_root(LIVE_SYSFS)
    except NoHostError as error:
        return fail("prepare", output, ExitCode.NO_HOST, "no-host", str(error))
    writer = LiveWriter()
    report = _run(root, query, request, writer, dry_run, state_dir, system_program("driverctl") is not None, output)
    if isinstance(report, int):
        return report
    if register is not None and report.exit_code == 0 and not dry_run and request is not None:
        report = replace(report, registration=_register(register, query, request, registry))
    emit(_render(report, writer, output))
    registration = report.registration
    if registration is not None and output is not OutputFormat.JSON:
        if registration.error is not None:
            return fail("prepare", output, ExitCode.USAGE, "input", f"--register: {registration.error}")
        note("prepare", f"registered {registration.name} -> {registration.path}")
    return report.exit_code


def _run(
    root: Any,
    query: DeviceQuery,
    request: Any,
    writer: Writer,
    dry_run: bool,
    state_dir: str,
    driverctl: bool,
    output: OutputFormat,
) -> PrepareReport | int:
    from pcie_failover.prepare.command import run_prepare, run_undo
    from pcie_failover.prepare.store import RecordError

    try:
        if request is None:
            return run_undo(root, query, writer, dry_run=dry_run, state_dir=state_dir, driverctl=driverctl)
        return run_prepare(root, query, request, writer, dry_run=dry_run, state_dir=state_dir, driverctl=driverctl)
    except (RecordError, InputError) as error:
        return fail("prepare", output, ExitCode.USAGE, "input", str(error))


def _register(name: str, query: DeviceQuery, request: Any, registry: str) -> Registration:
    """`pair --save`'s registration of the prepared VF: the file written, or the error (reported by the caller)."""
    from pcie_failover.audit.register import RegisterError, save
    from pcie_failover.model.check import Manager
    from pcie_failover.prepare.report import Registration
    from pcie_failover.sysfs.host import NoHostError, open_root

    try:
        saved = save(
            open_root(LIVE_SYSFS), name, query, mac=request.mac, manager=Manager.QEMU, vm=None, registry=registry
        )
    except (RegisterError, NoHostError) as error:
        return Registration(name, error=str(error))
    return Registration(name, path=str(saved.path))


def _render(report: PrepareReport, writer: Writer, output: OutputFormat) -> str:
    from pcie_failover.prepare.render import script
    from pcie_failover.prepare.report import render_json, render_text

    if output is OutputFormat.JSON:
        return render_json(report, writer.program, global_options().sysfs_root)
    if report.dry_run and report.plan.steps and not report.plan.refusals:
        return script(report.device, report.plan.steps, report.plan.kept, writer.program, report.undo)
    return render_text(report)
