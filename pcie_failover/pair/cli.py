"""`pair`: the failover pair specification for a primary, and `--save`."""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from pcie_failover.cli.app import (
    FOR_OPTION,
    INTERNAL_EXIT_CODE,
    REGISTRY_OPTION,
    OutputFormat,
    emit,
    fail,
    global_options,
    guarded,
    note,
)
from pcie_failover.model.address import DeviceQuery, InputError, MacAddress, parse_unicast_mac
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.model.results import ExitCode
from pcie_failover.sysfs.root import SysfsRoot

if TYPE_CHECKING:
    from pcie_failover.pair.model import PairReport, PairSpec

PAIR_EXIT_CODES = f"""Exit codes: 0 the spec was printed (warnings included); 1 refused: a check failed
(with --force the spec is printed anyway, with the failures in it) or there is no such device, or
--save found the VF not ready for the spec's MAC (take the host steps first, or pass the VF's --mac);
2 usage error or malformed input (ids, MAC, chassis/slot sets, addresses, --pool without --for libvirt
or with --format qemu|qmp, a macvtap on the primary's VF or PF), no MAC to choose (pass --mac), or
--save could not register the pair; 3 the host cannot be inspected (no PCI tree at the sysfs root);
{INTERNAL_EXIT_CODE}."""


class PairFormat(enum.Enum):
    """What `pair` prints."""

    SUMMARY = "summary"
    QEMU = "qemu"
    QMP = "qmp"
    LIBVIRT = "libvirt"
    JSON = "json"


commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(epilog=PAIR_EXIT_CODES)
def pair(
    device: Annotated[str, typer.Argument(help="The primary: PCI address (5e:00.2) or interface name.")],
    for_: Annotated[Manager, FOR_OPTION] = Manager.QEMU,
    mac: Annotated[
        str | None, typer.Option("--mac", help="The VM's MAC (default: the VF's admin MAC, else derived).")
    ] = None,
    standby_id: Annotated[str, typer.Option("--standby-id", help="QEMU id of the virtio-net standby.")] = "net0",
    primary_id: Annotated[str, typer.Option("--primary-id", help="QEMU id of the primary.")] = "hostdev0",
    netdev: Annotated[
        str, typer.Option("--netdev", help="Standby backend: tap, bridge=NAME, macvtap=IF (its lower device) or user.")
    ] = "tap",
    used_chassis: Annotated[
        str, typer.Option("--used-chassis", help="CHASSIS/SLOT pairs the VM's root ports already use: 1/1,2/3.")
    ] = "",
    ports: Annotated[
        str, typer.Option("--ports", help="CHASSIS/SLOT of the standby's and primary's ports (default: free N/N).")
    ] = "",
    used_addr: Annotated[
        str, typer.Option("--used-addr", help="pcie.0 addresses the VM already uses: 00:02.0,00:03.0.")
    ] = "",
    pin_addr: Annotated[
        bool, typer.Option("--pin-addr", help="Give the root ports fixed free pcie.0 addresses (default: QEMU picks).")
    ] = False,
    pool: Annotated[
        str | None,
        typer.Option("--pool", help="libvirt: a hostdev network (forward mode='hostdev') to take a VF from."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Print the spec even when a check failed (exit 1).")] = False,
    output: Annotated[PairFormat, typer.Option("--format", help="summary, qemu, qmp, libvirt or json.")] = (
        PairFormat.SUMMARY
    ),
    save: Annotated[
        str | None, typer.Option("--save", help="Also register the pair under this name (see `audit`).", metavar="NAME")
    ] = None,
    vm: Annotated[str | None, typer.Option("--vm", help="With --save: the VM's name, for reports.")] = None,
    registry: Annotated[str, REGISTRY_OPTION] = "/etc/pcie-failover/pairs.d",
) -> int:
    """Print the standby + primary devices of a failover pair for DEVICE, after running every check."""
    from pcie_failover.audit.record import RecordError, validate_name, validate_vm
    from pcie_failover.pair.build import plan
    from pcie_failover.pair.ids import validate_alias_id, validate_id, validate_network_name
    from pcie_failover.pair.model import Backend, PairRequest
    from pcie_failover.pair.ports import parse_addresses, parse_chassis_slots

    errors = OutputFormat.JSON if output is PairFormat.JSON else OutputFormat.TABLE
    try:
        query = DeviceQuery.parse(device)
        backend = Backend.parse(netdev)
        request = PairRequest(
            mac=None if mac is None else parse_unicast_mac(mac),
            standby_id=validate_id(standby_id, "--standby-id"),
            primary_id=validate_id(primary_id, "--primary-id"),
            backend=backend,
            used_chassis=parse_chassis_slots(used_chassis, "--used-chassis"),
            ports=parse_chassis_slots(ports, "--ports"),
            used_addrs=parse_addresses(used_addr),
            pin_addr=pin_addr,
            pool=None if pool is None else validate_network_name(pool),
            force=force,
        )
        if pool is not None:
            _require_libvirt_output(for_, output)
        if output is PairFormat.LIBVIRT or for_ is Manager.LIBVIRT:
            validate_alias_id(standby_id, "--standby-id")
            validate_alias_id(primary_id, "--primary-id")
        if save is not None:  # checked before any file is read, not after the spec was printed
            validate_name(save)
        if vm is not None:
            if save is None:
                raise InputError("--vm names the VM of the pair --save registers: give --save NAME too")
            validate_vm(vm)
        layout = plan(request)
    except (InputError, RecordError) as error:  # the options as typed, nothing read yet
        return fail("pair", errors, ExitCode.USAGE, "input", str(error), hint=True)
    options = CheckOptions(manager=for_, mac=request.mac, standby_netdev=backend.device)

    def body(root: SysfsRoot) -> int:
        from pcie_failover.pair.command import run_pair

        try:
            report = run_pair(root, query, options, request, layout)
        except InputError as error:
            return fail("pair", errors, ExitCode.USAGE, "input", str(error))
        code = report.exit_code
        if output is PairFormat.JSON:
            from pcie_failover.pair.json_doc import render_pair

            emit(render_pair(report))
            return int(code)
        if report.spec is None:
            if not global_options().quiet:  # a refusal is a finding, not an error: -q leaves only the exit code
                sys.stderr.write(_refusal(report))
            return int(code)
        emit(_render_pair(report.spec, output))
        if save is not None and code is ExitCode.READY:
            return _save_pair(root, save, query, report.spec.mac, for_, vm, registry)
        return int(code)

    return guarded("pair", errors, body)


def _refusal(report: PairReport) -> str:
    """Why pair printed nothing: each failed check with its fix (`refused_failures`), laid out for the terminal
    standard error goes to (COLUMNS), fixes continued, never cut (`finding_lines`)."""
    from pcie_failover.cli.terminal import terminal_layout
    from pcie_failover.pair.build import refused_failures
    from pcie_failover.pair.notes import finding_lines
    from pcie_failover.render.layout import wrap

    width = terminal_layout(sys.stderr).width
    lines = [line for result in refused_failures(report.check) for line in finding_lines(result, width, "  ")]
    if not lines:
        lines = wrap(f"{report.check.query}: no such device", width, "  ", "    ")
    forced = "" if report.check.device is None else " (--force prints the spec anyway)"  # none to print
    head = wrap(f"pcie-failover pair: refused{forced}:", width, "", "  ")
    return "".join(f"{line}\n" for line in [*head, *lines])


def _require_libvirt_output(manager: Manager, output: PairFormat) -> None:
    """`--pool` is libvirt's: it picks the VF, binds it and sets its MAC; QEMU's forms need the VF's address."""
    if manager is not Manager.LIBVIRT:
        raise InputError("--pool needs --for libvirt: libvirt takes the VF from the hostdev network when the VM starts")
    if output in (PairFormat.QEMU, PairFormat.QMP):
        raise InputError(
            f"--pool has no --format {output.value} form: QEMU needs the VF's address (host=), which libvirt "
            "chooses from the pool at start; use --format libvirt, json or summary"
        )


def _save_pair(
    root: SysfsRoot, name: str, query: DeviceQuery, mac: MacAddress, manager: Manager, vm: str | None, registry: str
) -> int:
    """`pair --save`: register the pair just printed, as `register` would."""
    from pcie_failover.audit.register import RegisterError, save

    advice = "take the host steps above, then pair --save again (or: register NAME DEVICE --mac MAC --force)"
    try:  # pair --force prints a spec but never saves one: the advice is pair's
        saved = save(root, name, query, mac=mac, manager=manager, vm=vm, registry=registry, not_ready_advice=advice)
    except RegisterError as error:
        code = ExitCode.NOT_READY if error.not_ready else ExitCode.USAGE
        return fail("pair", OutputFormat.TABLE, code, "input", f"--save: {error}")
    note("pair", f"registered {name} -> {saved.path}")
    return int(ExitCode.READY)


def _render_pair(spec: PairSpec, output: PairFormat) -> str:
    if output is PairFormat.QEMU:
        from pcie_failover.pair.qemu_args import render_qemu

        return render_qemu(spec)
    if output is PairFormat.QMP:
        from pcie_failover.pair.qmp_cmds import qmp_notes, render_qmp

        _side_notes(qmp_notes(spec))
        return render_qmp(spec)
    if output is PairFormat.LIBVIRT:
        from pcie_failover.pair.libvirt_xml import render_libvirt
        from pcie_failover.pair.notes import note_lines

        _side_notes(note_lines(spec))
        return render_libvirt(spec)
    from pcie_failover.cli.terminal import terminal_layout
    from pcie_failover.pair.summary import render_summary

    return render_summary(spec, terminal_layout())


def _side_notes(lines: list[str]) -> None:
    """Notes beside a machine-read form (QMP commands, domain XML), on standard error: the output stays pure."""
    for line in lines:
        note("pair", line)
