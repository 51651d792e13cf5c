"""`register`, `unregister`, `audit` and `watch`: registered pairs, re-checked when the host changes."""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from pcie_failover.audit import DEFAULT_REGISTRY
from pcie_failover.cli.app import (
    FOR_OPTION,
    FORMAT_OPTION,
    INTERNAL_EXIT_CODE,
    REGISTRY_OPTION,
    OutputFormat,
    emit,
    fail,
    guarded,
    note,
)
from pcie_failover.model.address import DeviceQuery, InputError, PciAddress, parse_unicast_mac
from pcie_failover.model.check import Manager
from pcie_failover.model.results import ExitCode
from pcie_failover.render.escape import escape
from pcie_failover.sysfs.root import SysfsRoot

if TYPE_CHECKING:
    from pcie_failover.audit.registry import Registry

REGISTER_EXIT_CODES = f"""Exit codes: 0 registered; 1 refused: a check failed (--force registers it anyway);
2 usage error or malformed input, no such device, no usable admin MAC (pass --mac), a pair of that name
(--replace overwrites it), a primary another pair has (--force registers it, with a warning), a copied
--sysfs-root into the system registry, or an unsafe registry; 3 the host cannot be inspected (no PCI tree
at the sysfs root); {INTERNAL_EXIT_CODE}."""
UNREGISTER_EXIT_CODES = f"""Exit codes: 0 removed; 2 usage error, no such pair, or a registry that does not exist
or is unsafe; {INTERNAL_EXIT_CODE}."""
AUDIT_EXIT_CODES = f"""Exit codes (worst over all pairs): 0 every pair ready, or none registered (or, with
--coalesce, the running audit takes the request); 1 a pair is not ready: a check failed (or with
--strict warned), its primary is gone, or another pair has the same primary; 2 usage error, or an
unsafe registry, state or textfile directory; 3 no PCI tree at the sysfs root; 4 undetermined: an
unknown check, or a registry problem (a record unsafe, malformed or from a copied tree, or a --registry
that does not exist), reported and skipped; {INTERNAL_EXIT_CODE}."""
WATCH_EXIT_CODES = f"""Exit codes: 0 stopped by SIGTERM or SIGINT (findings go to the journal and the textfile,
never to the exit code); 2 usage error (not the live /sys), or an unsafe registry, state or textfile
directory; 3 no PCI tree at the sysfs root; {INTERNAL_EXIT_CODE}."""


_TEXTFILE = typer.Option(
    "--textfile-dir", help="Write pcie_failover.prom there (node_exporter textfile collector).", metavar="DIR"
)
_TEXTFILE_FORMAT = "--textfile-dir writes Prometheus text: it needs --format prometheus"
_TEXTFILE_OPTIONAL = typer.Option(
    "--textfile-dir-optional",
    help="A --textfile-dir that does not exist is skipped (no textfile, nothing on stdout), not an error.",
)
_TEXTFILE_OPTIONAL_ALONE = "--textfile-dir-optional needs --textfile-dir"
_JOURNAL = typer.Option("--journal", help="Log one line per pair on stderr, with syslog priorities.")
_STATE_DIR = typer.Option("--state-dir", help="Where audits keep their request mark and lock.", metavar="DIR")
_AUDITED_REGISTRY = typer.Option(
    "--registry",
    envvar="PCIE_FAILOVER_REGISTRY",
    help=f"Directory of registered pairs [default: {DEFAULT_REGISTRY}]; one named here must exist.",
    metavar="DIR",
    show_default=False,
)


class AuditFormat(enum.Enum):
    """How audit results are printed."""

    TABLE = "table"
    JSON = "json"
    PROMETHEUS = "prometheus"


_AUDIT_FORMAT = typer.Option("--format", help="table, json or prometheus.")


def _registry(directory: str | None) -> Registry:
    """The named registry (required to exist), else the default one (absent before the first `register`)."""
    from pcie_failover.audit.registry import Registry

    return Registry(directory or DEFAULT_REGISTRY, required=directory is not None)


def _auditor(
    root: SysfsRoot,
    registry: Registry,
    device: PciAddress | None,
    output: AuditFormat,
    textfile_dir: str | None,
    journal: bool,
    strict: bool,
    *,
    optional: bool = False,
    command: str = "audit",
) -> Callable[[], int]:
    """One audit with these options, as often as it is called (coalesced runs, watch).

    `optional`: when nothing is at `textfile_dir` (node_exporter not installed), that audit writes no
    textfile and prints no metrics (the journal lines still go out); said once on stderr. Looked at
    again by every audit, so a collector installed later is written at the next one.
    """
    from pcie_failover.audit.command import audit_once

    layout = None
    if output is AuditFormat.TABLE:
        from pcie_failover.cli.terminal import terminal_layout

        layout = terminal_layout()
    told = False

    def once() -> int:
        nonlocal told
        target: str | None = textfile_dir
        shown: Callable[[str], None] = emit
        if optional and target is not None and not os.path.lexists(target):
            if not told:
                note(command, f"{target} does not exist: no textfile written (--textfile-dir-optional)")
                told = True
            target, shown = None, _discard
        return audit_once(
            root,
            registry,
            device=device,
            output=output.value,
            textfile_dir=target,
            journal=journal,
            strict=strict,
            emit=shown,
            layout=layout,
        )

    return once


def _discard(_text: str) -> None:
    """The metrics of an audit whose optional textfile directory is absent: the journal lines are the report."""


def _unusable_textfile_dir(textfile_dir: str | None, optional: bool) -> str | None:
    """Why --textfile-dir cannot be written (named, so that a bare path in the message says what it is)."""
    from pcie_failover.adapters.files import SafeDirectory, UnsafePathError

    if textfile_dir is None or (optional and not os.path.lexists(textfile_dir)):
        return None
    try:
        with SafeDirectory.open(textfile_dir):
            return None
    except (UnsafePathError, OSError) as error:
        return f"--textfile-dir: {error}"


def _device(root: SysfsRoot, query: DeviceQuery) -> PciAddress | str:
    """--device's address: as given (a device removed since still names its pairs), or an interface's; else why not."""
    if query.address is not None:
        return query.address
    from pcie_failover.sysfs.check_input import locate

    located = locate(root, query)
    address = getattr(located, "address", None)
    if isinstance(address, PciAddress):
        return address
    return getattr(located, "problem", None) or str(located)


commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(epilog=REGISTER_EXIT_CODES)
def register(
    name: Annotated[str, typer.Argument(help="A name for the pair (letters, digits, '_', '.', '-').")],
    device: Annotated[str, typer.Argument(help="The primary: PCI address or interface name.", metavar="DEVICE")],
    mac: Annotated[str | None, typer.Option("--mac", help="The VM's MAC (default: the VF's admin MAC).")] = None,
    for_: Annotated[Manager, FOR_OPTION] = Manager.QEMU,
    vm: Annotated[str | None, typer.Option("--vm", help="The VM's name, for reports.")] = None,
    registry: Annotated[str, REGISTRY_OPTION] = DEFAULT_REGISTRY,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a pair of that name.")] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Register even if a check fails, or another pair has this primary (with a warning)."
        ),
    ] = False,
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
) -> int:
    """Register a pair so that `audit` (and the udev rule) re-checks its primary when the host changes."""
    from pcie_failover.audit.record import RecordError, validate_name, validate_vm

    try:
        validate_name(name)
        query = DeviceQuery.parse(device)
        wanted = None if mac is None else parse_unicast_mac(mac)
        if vm is not None:
            validate_vm(vm)
    except (InputError, RecordError) as error:  # the arguments as typed
        return fail("register", output, ExitCode.USAGE, "input", str(error), hint=True)

    def body(root: SysfsRoot) -> int:
        from pcie_failover.adapters.files import UnsafePathError
        from pcie_failover.audit.register import RegisterError, run_register

        try:
            result = run_register(
                root, name, query, mac=wanted, manager=for_, vm=vm, registry=registry, replace=replace, force=force
            )
        except (RegisterError, RecordError, UnsafePathError, OSError) as error:
            code = ExitCode.NOT_READY if isinstance(error, RegisterError) and error.not_ready else ExitCode.USAGE
            return fail("register", output, code, "input", str(error))
        if result.shared_with:
            from pcie_failover.audit.registry import quoted_pairs

            sys.stderr.write(
                f"pcie-failover register: warning: {result.record.primary.bdf} is also the primary of"
                f" {quoted_pairs(result.shared_with)}: audit reports each of them not ready\n"
            )
        if result.record.mac_from_vf:
            note(
                "register",
                f"the MAC {result.record.mac} is the VF's own, which nothing shows an administrator set: audit"
                " warns as check does (pass --mac to assert it; pair would derive another and set it)",
            )
        if output is OutputFormat.JSON:
            from pcie_failover.audit.json_doc import render_registered

            emit(render_registered(root.origin, result.path, result.record))
        else:
            record = result.record
            emit(
                f"registered {record.name}: {record.primary.bdf}, MAC {record.mac}, for {for_.value}"
                f" -> {escape(result.path)}\n"
            )
        return int(ExitCode.READY)

    return guarded("register", output, body)


@commands.command(epilog=UNREGISTER_EXIT_CODES)
def unregister(
    name: Annotated[str, typer.Argument(help="The pair's name.")],
    registry: Annotated[str, REGISTRY_OPTION] = DEFAULT_REGISTRY,
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
) -> int:
    """Remove a registered pair."""
    from pcie_failover.adapters.files import UnsafePathError
    from pcie_failover.audit.record import RecordError
    from pcie_failover.audit.registry import Registry

    try:
        Registry(registry).remove(name)
    except (RecordError, UnsafePathError, OSError) as error:
        return fail("unregister", output, ExitCode.USAGE, "input", str(error))
    if output is OutputFormat.JSON:
        from pcie_failover.audit.json_doc import render_unregistered

        emit(render_unregistered(registry, name))
    else:
        emit(f"unregistered {name} from {escape(registry)}\n")
    return int(ExitCode.READY)


@commands.command(epilog=AUDIT_EXIT_CODES)
def audit(
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            help="Only pairs this device (PCI address or interface name) touches (primary, PF, IOMMU group).",
            metavar="DEVICE",
        ),
    ] = None,
    registry: Annotated[str | None, _AUDITED_REGISTRY] = None,
    output: Annotated[AuditFormat, _AUDIT_FORMAT] = AuditFormat.TABLE,
    textfile_dir: Annotated[str | None, _TEXTFILE] = None,
    textfile_dir_optional: Annotated[bool, _TEXTFILE_OPTIONAL] = False,
    journal: Annotated[bool, _JOURNAL] = False,
    coalesce: Annotated[
        bool, typer.Option("--coalesce", help="Mark a request and run only if no audit is running (udev bursts).")
    ] = False,
    state_dir: Annotated[str, _STATE_DIR] = "/run/pcie-failover",
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as failures.")] = False,
) -> int:
    """Re-check every registered pair from the host's current state."""
    json_errors = OutputFormat.JSON if output is AuditFormat.JSON else OutputFormat.TABLE
    if textfile_dir is not None and output is not AuditFormat.PROMETHEUS:
        return fail("audit", json_errors, ExitCode.USAGE, "usage", _TEXTFILE_FORMAT)
    if textfile_dir_optional and textfile_dir is None:
        return fail("audit", json_errors, ExitCode.USAGE, "usage", _TEXTFILE_OPTIONAL_ALONE)
    try:
        query = None if device is None else DeviceQuery.parse(device)
    except InputError as error:
        return fail("audit", json_errors, ExitCode.USAGE, "input", f"--device: {error}", hint=True)

    def body(root: SysfsRoot) -> int:
        from pcie_failover.adapters.files import UnsafePathError

        only = None if query is None else _device(root, query)
        if isinstance(only, str):
            return fail("audit", json_errors, ExitCode.USAGE, "input", f"--device: {only}")
        refused = _unusable_textfile_dir(textfile_dir, textfile_dir_optional)
        if refused is not None:
            return fail("audit", json_errors, ExitCode.USAGE, "input", refused)
        once = _auditor(
            root, _registry(registry), only, output, textfile_dir, journal, strict, optional=textfile_dir_optional
        )
        try:
            if not coalesce:
                return once()
            from pcie_failover.audit.coalesce import coalesced

            done = coalesced(state_dir, once)
            return int(ExitCode.READY) if done.result is None else done.result
        except (UnsafePathError, OSError) as error:
            return fail("audit", json_errors, ExitCode.USAGE, "input", str(error))

    return guarded("audit", json_errors, body)


@commands.command(epilog=WATCH_EXIT_CODES)
def watch(
    registry: Annotated[str | None, _AUDITED_REGISTRY] = None,
    output: Annotated[AuditFormat, _AUDIT_FORMAT] = AuditFormat.TABLE,
    textfile_dir: Annotated[str | None, _TEXTFILE] = None,
    textfile_dir_optional: Annotated[bool, _TEXTFILE_OPTIONAL] = False,
    journal: Annotated[bool, _JOURNAL] = False,
    state_dir: Annotated[str, _STATE_DIR] = "/run/pcie-failover",
) -> int:
    """Audit at start and whenever udev (PCI) or rtnetlink (links, VF settings) reports a change."""
    if textfile_dir is not None and output is not AuditFormat.PROMETHEUS:
        return fail("watch", OutputFormat.TABLE, ExitCode.USAGE, "usage", _TEXTFILE_FORMAT)
    if textfile_dir_optional and textfile_dir is None:
        return fail("watch", OutputFormat.TABLE, ExitCode.USAGE, "usage", _TEXTFILE_OPTIONAL_ALONE)

    def body(root: SysfsRoot) -> int:
        if not root.live:
            return fail("watch", OutputFormat.TABLE, ExitCode.USAGE, "usage", "watch needs the live /sys")
        from pcie_failover.adapters.events import LinkChanges, UdevPci
        from pcie_failover.adapters.files import UnsafePathError
        from pcie_failover.audit.watch import watch as watch_events

        once = _auditor(
            root,
            _registry(registry),
            None,
            output,
            textfile_dir,
            journal,
            False,
            optional=textfile_dir_optional,
            command="watch",
        )
        refused = _unusable_textfile_dir(textfile_dir, textfile_dir_optional)  # now, not at the first audit's end
        if refused is not None:
            return fail("watch", OutputFormat.TABLE, ExitCode.USAGE, "input", refused)
        try:
            return watch_events([UdevPci(), LinkChanges()], once, state_dir)
        except (UnsafePathError, OSError) as error:
            return fail("watch", OutputFormat.TABLE, ExitCode.USAGE, "input", str(error))

    return guarded("watch", OutputFormat.TABLE, body)
