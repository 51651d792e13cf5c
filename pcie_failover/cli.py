"""Command-line shell: parse -> read -> rules -> render -> exit code. Nothing else lives here."""

from __future__ import annotations

import enum
import itertools
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated

import typer
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer 0.27-0.28 vendor click

from pcie_failover.model.address import DeviceQuery, InputError, MacAddress, parse_unicast_mac, validate_ifname
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.model.results import ExitCode, Status, exit_code_of
from pcie_failover.sysfs.host import NoHostError, open_root
from pcie_failover.sysfs.root import LIVE_SYSFS, SysfsRoot

if TYPE_CHECKING:
    from pcie_failover.pair.model import PairSpec

EXIT_CODES = """Exit codes: 0 ready; 1 not ready (a check failed, or with --strict warned);
2 usage error or malformed input; 3 the host cannot be inspected (no PCI tree at the
sysfs root); 4 undetermined (nothing failed, but a check that could fail is unknown)."""

LIST_EXIT_CODES = """Exit codes: 0 the devices were listed (whatever their readiness);
2 usage error; 3 the host cannot be inspected (no PCI tree at the sysfs root)."""


PAIR_EXIT_CODES = """Exit codes: 0 the spec was printed (warnings included); 1 refused: a check failed
(with --force the spec is printed anyway, with the failures in it); 2 usage error or malformed
input (ids, MAC, chassis/slot sets); 3 the host cannot be inspected (no PCI tree at the sysfs root)."""


COMMANDS = ("check", "list", "pair", "capture", "lint", "register", "unregister", "audit", "watch")


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
)


class _State:
    sysfs_root: str = LIVE_SYSFS


_state = _State()


@app.callback()
def _global_options(
    sysfs_root: Annotated[
        str,
        typer.Option(
            "--sysfs-root",
            envvar="PCIE_FAILOVER_SYSFS_ROOT",
            help="A directory laid out like /sys (a capture or fixture); every read goes through it.",
            metavar="PATH",
        ),
    ] = LIVE_SYSFS,
) -> None:
    _state.sysfs_root = sysfs_root


def _emit(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _fail(command: str, output: OutputFormat, code: ExitCode, kind: str, message: str) -> int:
    if output is OutputFormat.JSON:
        from pcie_failover.render.json_doc import render_error

        _emit(render_error(command, _state.sysfs_root, int(code), kind, message))
    else:
        sys.stderr.write(f"pcie-failover {command}: {message}\n")
    return int(code)


def _guarded(command: str, output: OutputFormat, body: Callable[[SysfsRoot], int]) -> int:
    """Open the root and run `body`; input and host errors become one line and an exit code."""
    try:
        root = open_root(_state.sysfs_root)
    except NoHostError as error:
        return _fail(command, output, ExitCode.NO_HOST, "no-host", str(error))
    return body(root)


class PairFormat(enum.Enum):
    """What `pair` prints."""

    SUMMARY = "summary"
    QEMU = "qemu"
    QMP = "qmp"
    LIBVIRT = "libvirt"
    JSON = "json"


_FOR = typer.Option("--for", help="Who binds vfio-pci and sets the MAC: qemu (you) or libvirt (managed='yes').")
_FORMAT = typer.Option("--format", help="table or json.")
_REGISTRY = typer.Option(
    "--registry", envvar="PCIE_FAILOVER_REGISTRY", help="Directory of registered pairs.", metavar="DIR"
)


@app.command(epilog=EXIT_CODES)
def check(
    device: Annotated[
        str, typer.Argument(help="PCI address (5e:00.2, 0000:5e:00.2) or interface name.", metavar="DEVICE")
    ],
    for_: Annotated[Manager, _FOR] = Manager.QEMU,
    mac: Annotated[str | None, typer.Option("--mac", help="The MAC the standby will carry.")] = None,
    allow_pf: Annotated[
        bool, typer.Option("--allow-pf", help="Accept a PF (warn) for a VM that never migrates.")
    ] = False,
    standby_netdev: Annotated[
        str | None, typer.Option("--standby-netdev", help="The standby's host backend (bridge, macvtap, tap).")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as failures.")] = False,
    output: Annotated[OutputFormat, _FORMAT] = OutputFormat.TABLE,
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
        return _fail("check", output, ExitCode.USAGE, "input", str(error))

    def body(root: SysfsRoot) -> int:
        from pcie_failover.commands.check import run_check

        report = run_check(root, query, options, strict)
        if output is OutputFormat.JSON:
            from pcie_failover.render.json_doc import render_check
        else:
            from pcie_failover.render.table import render_check
        _emit(render_check(report))
        return int(exit_code_of(report.verdict))

    return _guarded("check", output, body)


@app.command(name="list", epilog=LIST_EXIT_CODES)
def list_devices(
    for_: Annotated[Manager, _FOR] = Manager.QEMU,
    output: Annotated[OutputFormat, _FORMAT] = OutputFormat.TABLE,
) -> int:
    """List every network PCI function with its PF/VF relation, driver, group and readiness."""
    options = CheckOptions(manager=for_)

    def body(root: SysfsRoot) -> int:
        from pcie_failover.commands.listing import run_list

        report = run_list(root, options)
        if output is OutputFormat.JSON:
            from pcie_failover.render.json_doc import render_list
        else:
            from pcie_failover.render.table import render_list
        _emit(render_list(report))
        return int(ExitCode.READY)

    return _guarded("list", output, body)


@app.command(epilog=PAIR_EXIT_CODES)
def pair(
    device: Annotated[str, typer.Argument(help="The primary: PCI address (5e:00.2) or interface name.")],
    for_: Annotated[Manager, _FOR] = Manager.QEMU,
    mac: Annotated[
        str | None, typer.Option("--mac", help="The VM's MAC (default: the VF's admin MAC, else derived).")
    ] = None,
    standby_id: Annotated[str, typer.Option("--standby-id", help="QEMU id of the virtio-net standby.")] = "net0",
    primary_id: Annotated[str, typer.Option("--primary-id", help="QEMU id of the primary.")] = "hostdev0",
    netdev: Annotated[str, typer.Option("--netdev", help="Standby backend: tap, bridge=NAME or user.")] = "tap",
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
    registry: Annotated[str, _REGISTRY] = "/etc/pcie-failover/pairs.d",
) -> int:
    """Print the standby + primary devices of a failover pair for DEVICE, after running every check."""
    from pcie_failover.pair.build import plan
    from pcie_failover.pair.ids import validate_id, validate_network_name
    from pcie_failover.pair.model import Backend, BackendKind, PairRequest
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
        layout = plan(request)
    except InputError as error:
        return _fail("pair", errors, ExitCode.USAGE, "input", str(error))
    options = CheckOptions(
        manager=for_, mac=request.mac, standby_netdev=backend.bridge if backend.kind is BackendKind.BRIDGE else None
    )

    def body(root: SysfsRoot) -> int:
        from pcie_failover.commands.pair import run_pair

        try:
            report = run_pair(root, query, options, request, layout)
        except InputError as error:
            return _fail("pair", errors, ExitCode.USAGE, "input", str(error))
        code = ExitCode.NOT_READY if any(r.status is Status.FAIL for r in report.check.results) else ExitCode.READY
        if output is PairFormat.JSON:
            from pcie_failover.render.pair_json import render_pair

            _emit(render_pair(report))
            return int(code)
        if report.spec is None:
            from pcie_failover.render.pair_notes import finding_lines

            failed = [line for r in report.check.results if r.status is Status.FAIL for line in finding_lines(r)]
            reason = "\n  ".join(failed) or f"{report.check.query}: no such device"
            sys.stderr.write(f"pcie-failover pair: refused (--force prints the spec anyway):\n  {reason}\n")
            return int(code)
        _emit(_render_pair(report.spec, output))
        if save is not None and code is ExitCode.READY:
            return _save_pair(root, save, query, report.spec.mac, for_, vm, registry)
        return int(code)

    return _guarded("pair", errors, body)


def _save_pair(
    root: SysfsRoot, name: str, query: DeviceQuery, mac: MacAddress, manager: Manager, vm: str | None, registry: str
) -> int:
    """`pair --save`: register the pair just printed, as `register` would."""
    from pcie_failover.adapters.files import UnsafePathError
    from pcie_failover.audit.record import RecordError
    from pcie_failover.commands.register import RegisterError, run_register

    try:
        saved = run_register(
            root, name, query, mac=mac, manager=manager, vm=vm, registry=registry, replace=False, force=False
        )
    except (RegisterError, RecordError, UnsafePathError, OSError) as error:
        return _fail("pair", OutputFormat.TABLE, ExitCode.USAGE, "input", f"--save: {error}")
    sys.stderr.write(f"pcie-failover pair: registered {name} -> {saved.path}\n")
    return int(ExitCode.READY)


def _render_pair(spec: PairSpec, output: PairFormat) -> str:
    if output is PairFormat.QEMU:
        from pcie_failover.render.qemu_args import render_qemu

        return render_qemu(spec)
    if output is PairFormat.QMP:
        from pcie_failover.render.qmp_cmds import render_qmp

        return render_qmp(spec)
    if output is PairFormat.LIBVIRT:
        from pcie_failover.render.libvirt_xml import render_libvirt

        return render_libvirt(spec)
    from pcie_failover.render.pair_summary import render_summary

    return render_summary(spec)


CAPTURE_EXIT_CODES = """Exit codes: 0 the snapshot was written; 2 usage error, malformed address or
an output file that cannot be written; 3 the host cannot be inspected (no PCI tree)."""


@app.command(epilog=CAPTURE_EXIT_CODES)
def capture(
    devices: Annotated[
        list[str] | None,
        typer.Argument(
            help="PCI addresses or interface names (default: every network function).", metavar="[DEVICE]..."
        ),
    ] = None,
    output_file: Annotated[str, typer.Option("-o", "--output", help="The .tar.gz to write.", metavar="FILE")] = "",
    output: Annotated[OutputFormat, _FORMAT] = OutputFormat.TABLE,
) -> int:
    """Snapshot what the checks read (for a bug report); unpack it and pass its sysfs/ as --sysfs-root."""
    if not output_file:
        return _fail("capture", output, ExitCode.USAGE, "usage", "an output file is required (-o FILE.tar.gz)")
    try:
        queries = [DeviceQuery.parse(d) for d in devices or []]
    except InputError as error:
        return _fail("capture", output, ExitCode.USAGE, "input", str(error))

    def body(root: SysfsRoot) -> int:
        from pcie_failover.commands.capture import run_capture
        from pcie_failover.sysfs.check_input import locate

        addresses = []
        for query in queries:
            located = locate(root, query)
            address = getattr(located, "address", None)
            if address is None:
                problem = getattr(located, "problem", None) or str(located)
                return _fail("capture", output, ExitCode.USAGE, "input", problem)
            addresses.append(address)
        try:
            result = run_capture(root, addresses, output_file)
        except OSError as error:
            return _fail("capture", output, ExitCode.USAGE, "input", f"cannot write {output_file}: {error.strerror}")
        if output is OutputFormat.JSON:
            from pcie_failover.render.json_doc import render_capture

            _emit(render_capture(root.path, result))
        else:
            netlink = "with" if result.netlink else "without"
            _emit(f"{result.path}: {result.devices} devices, {result.entries} entries, {netlink} netlink facts\n")
        return int(ExitCode.READY)

    return _guarded("capture", output, body)


AUDIT_EXIT_CODES = """Exit codes (worst over all pairs): 0 every pair ready, or none registered;
1 a pair is not ready or its primary is gone; 2 usage error or an unsafe output path;
3 no PCI tree at the sysfs root; 4 undetermined (an unknown check, or an unreadable registry file)."""


class AuditFormat(enum.Enum):
    """How audit results are printed."""

    TABLE = "table"
    JSON = "json"
    PROMETHEUS = "prometheus"


@app.command(epilog=EXIT_CODES)
def register(
    name: Annotated[str, typer.Argument(help="A name for the pair (letters, digits, '_', '.', '-').")],
    device: Annotated[str, typer.Argument(help="The primary: PCI address or interface name.", metavar="DEVICE")],
    mac: Annotated[str | None, typer.Option("--mac", help="The VM's MAC (default: the VF's admin MAC).")] = None,
    for_: Annotated[Manager, _FOR] = Manager.QEMU,
    vm: Annotated[str | None, typer.Option("--vm", help="The VM's name, for reports.")] = None,
    registry: Annotated[str, _REGISTRY] = "/etc/pcie-failover/pairs.d",
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a pair of that name.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Register even if a check fails.")] = False,
    output: Annotated[OutputFormat, _FORMAT] = OutputFormat.TABLE,
) -> int:
    """Register a pair so that `audit` (and the udev rule) re-checks its primary when the host changes."""
    from pcie_failover.audit.record import RecordError, validate_name

    try:
        validate_name(name)
        query = DeviceQuery.parse(device)
        wanted = None if mac is None else parse_unicast_mac(mac)
        if vm is not None and not (vm.isprintable() and 0 < len(vm) <= 128):
            raise InputError(f"{vm!r} is not a usable VM name")
    except (InputError, RecordError) as error:
        return _fail("register", output, ExitCode.USAGE, "input", str(error))

    def body(root: SysfsRoot) -> int:
        from pcie_failover.adapters.files import UnsafePathError
        from pcie_failover.commands.register import RegisterError, run_register

        try:
            result = run_register(
                root, name, query, mac=wanted, manager=for_, vm=vm, registry=registry, replace=replace, force=force
            )
        except (RegisterError, RecordError, UnsafePathError, OSError) as error:
            code = ExitCode.NOT_READY if isinstance(error, RegisterError) and error.not_ready else ExitCode.USAGE
            return _fail("register", output, code, "input", str(error))
        if output is OutputFormat.JSON:
            from pcie_failover.render.json_doc import render_registered

            _emit(render_registered(root.path, result.path, result.record))
        else:
            record = result.record
            _emit(
                f"registered {record.name}: {record.primary.bdf}, MAC {record.mac}, for {for_.value} -> {result.path}\n"
            )
        return int(ExitCode.READY)

    return _guarded("register", output, body)


@app.command()
def unregister(
    name: Annotated[str, typer.Argument(help="The pair's name.")],
    registry: Annotated[str, _REGISTRY] = "/etc/pcie-failover/pairs.d",
) -> int:
    """Remove a registered pair."""
    from pcie_failover.adapters.files import UnsafePathError
    from pcie_failover.audit.record import RecordError
    from pcie_failover.audit.registry import Registry

    try:
        Registry(registry).remove(name)
    except (RecordError, UnsafePathError, OSError) as error:
        return _fail("unregister", OutputFormat.TABLE, ExitCode.USAGE, "input", str(error))
    return int(ExitCode.READY)


@app.command(epilog=AUDIT_EXIT_CODES)
def audit(
    device: Annotated[
        str | None, typer.Option("--device", help="Only pairs this device touches (primary, PF, IOMMU group).")
    ] = None,
    registry: Annotated[str, _REGISTRY] = "/etc/pcie-failover/pairs.d",
    output: Annotated[AuditFormat, typer.Option("--format", help="table, json or prometheus.")] = AuditFormat.TABLE,
    textfile_dir: Annotated[
        str | None,
        typer.Option(
            "--textfile-dir", help="Write pcie_failover.prom there (node_exporter textfile collector).", metavar="DIR"
        ),
    ] = None,
    journal: Annotated[
        bool, typer.Option("--journal", help="Log one line per pair on stderr, with syslog priorities.")
    ] = False,
    coalesce: Annotated[
        bool, typer.Option("--coalesce", help="Mark a request and run only if no audit is running (udev bursts).")
    ] = False,
    state_dir: Annotated[
        str, typer.Option("--state-dir", help="Where --coalesce keeps its mark and lock.", metavar="DIR")
    ] = "/run/pcie-failover",
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as failures.")] = False,
) -> int:
    """Re-check every registered pair from the host's current state."""
    json_errors = OutputFormat.JSON if output is AuditFormat.JSON else OutputFormat.TABLE
    try:
        only = None if device is None else DeviceQuery.parse(device).address
        if device is not None and only is None:
            raise InputError("--device takes a PCI address")
    except InputError as error:
        return _fail("audit", json_errors, ExitCode.USAGE, "input", str(error))

    def body(root: SysfsRoot) -> int:
        from pcie_failover.adapters.files import UnsafePathError
        from pcie_failover.commands.audit import audit_once

        def once() -> int:
            return audit_once(
                root,
                registry,
                device=only,
                output=output.value,
                textfile_dir=textfile_dir,
                journal=journal,
                strict=strict,
                emit=_emit,
            )

        try:
            if not coalesce:
                return once()
            from pcie_failover.audit.coalesce import coalesced

            done = coalesced(state_dir, once)
            return int(ExitCode.READY) if done.result is None else done.result
        except (UnsafePathError, OSError) as error:
            return _fail("audit", json_errors, ExitCode.USAGE, "input", str(error))

    return _guarded("audit", json_errors, body)


@app.command(epilog="Exit codes: 0 stopped by SIGTERM or SIGINT; 2 usage error; 3 no PCI tree at the sysfs root.")
def watch(
    registry: Annotated[str, _REGISTRY] = "/etc/pcie-failover/pairs.d",
    output: Annotated[AuditFormat, typer.Option("--format", help="table, json or prometheus.")] = AuditFormat.TABLE,
    textfile_dir: Annotated[
        str | None,
        typer.Option("--textfile-dir", help="Write pcie_failover.prom there after each audit.", metavar="DIR"),
    ] = None,
    journal: Annotated[
        bool, typer.Option("--journal", help="Log one line per pair on stderr, with syslog priorities.")
    ] = False,
    state_dir: Annotated[
        str, typer.Option("--state-dir", help="Where audits keep their mark and lock.", metavar="DIR")
    ] = "/run/pcie-failover",
) -> int:
    """Audit at start and whenever udev (PCI) or rtnetlink (links, VF settings) reports a change."""

    def body(root: SysfsRoot) -> int:
        if not root.live:
            return _fail("watch", OutputFormat.TABLE, ExitCode.USAGE, "usage", "watch needs the live /sys")
        from pcie_failover.adapters.events import LinkChanges, UdevPci
        from pcie_failover.commands.audit import audit_once
        from pcie_failover.commands.watch import watch as watch_events

        def once() -> int:
            return audit_once(
                root,
                registry,
                device=None,
                output=output.value,
                textfile_dir=textfile_dir,
                journal=journal,
                strict=False,
                emit=_emit,
            )

        return watch_events([UdevPci(), LinkChanges()], once, state_dir)

    return _guarded("watch", OutputFormat.TABLE, body)


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
    output: Annotated[OutputFormat, _FORMAT] = OutputFormat.TABLE,
) -> int:
    """Check a VM's failover configuration (QEMU command line or libvirt XML) and each primary's host device."""
    from pcie_failover.commands.lint import run_lint
    from pcie_failover.lint.model import ConfigKind

    source = qemu_args if qemu_args is not None else domain_xml
    if source is None or (qemu_args is not None and domain_xml is not None):
        return _fail("lint", output, ExitCode.USAGE, "usage", "give one of --qemu-args FILE or --domain-xml FILE")
    kind = ConfigKind.QEMU if qemu_args is not None else ConfigKind.LIBVIRT
    root: SysfsRoot | None = None
    why_not = "--no-host"
    if not no_host:
        try:
            root = open_root(_state.sysfs_root)
        except NoHostError as error:
            why_not = str(error)
    try:
        report = run_lint(_read_config(source), kind, source=source, root=root, why_not=why_not, version=qemu_version)
    except InputError as error:
        return _fail("lint", output, ExitCode.USAGE, "input", str(error))
    if output is OutputFormat.JSON:
        from pcie_failover.render.lint_json import render_lint
    else:
        from pcie_failover.render.lint_table import render_lint
    _emit(render_lint(report))
    return int(exit_code_of(report.verdict))


def _wants_json(args: Sequence[str]) -> bool:
    return "--format=json" in args or any(a == "--format" and b == "json" for a, b in itertools.pairwise(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run the app without click's standalone error handling."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="pcie-failover", standalone_mode=False)
    except NoArgsIsHelpError as error:
        sys.stderr.write(error.format_message() + "\n")
        return int(ExitCode.USAGE)
    except ClickException as error:
        name = next((a for a in args if a in COMMANDS), "pcie-failover")
        output = OutputFormat.JSON if _wants_json(args) else OutputFormat.TABLE
        return _fail(name, output, ExitCode.USAGE, "usage", error.format_message())
    except typer.Abort:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return result if isinstance(result, int) else 0
