"""`inspect`: is failover working in this running VM, now? (QMP queries, the VM's own command line, lint, check)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from pcie_failover.cli.app import FORMAT_OPTION, INTERNAL_EXIT_CODE, OutputFormat, app, emit, fail, state
from pcie_failover.model.results import ExitCode

if TYPE_CHECKING:  # the qemu.qmp client is imported only when inspect runs
    from pcie_failover.inspect.model import Config, InspectReport, PairVerdict
    from pcie_failover.inspect.read import Session
    from pcie_failover.sysfs.root import SysfsRoot

INSPECT_EXIT_CODES = f"""Exit codes: 0 every failover pair is active; 1 a pair is standby-only or not-configured, or
the VM has no failover pair; 2 usage error; 3 the VM cannot be inspected (no socket, not a QEMU QMP monitor, QEMU
hung up or did not answer; --domain: no virsh, virsh failed, e.g. no such domain or it is not running, printed
what virsh never prints, or did not answer); 4 undetermined (QEMU did not say enough to judge a pair, e.g. no
x-query-virtio-status); with --watch, 0 when QEMU closes the monitor (--domain: when virsh's event stream ends);
{INTERNAL_EXIT_CODE}."""
# QMP events after which --watch reads the VM again
WATCHED = frozenset({"FAILOVER_NEGOTIATED", "UNPLUG_PRIMARY", "DEVICE_DELETED", "MIGRATION", "RESET", "RESUME"})


def _exit(verdict: PairVerdict) -> int:
    from pcie_failover.inspect.model import PairVerdict

    return int(
        {
            PairVerdict.ACTIVE: ExitCode.READY,
            PairVerdict.STANDBY_ONLY: ExitCode.NOT_READY,
            PairVerdict.NOT_CONFIGURED: ExitCode.NOT_READY,
            PairVerdict.UNDETERMINED: ExitCode.UNDETERMINED,
        }[verdict]
    )


def _root(no_host: bool) -> tuple[SysfsRoot | None, str]:
    """The host for the `check` of each primary, or why there is none."""
    from pcie_failover.sysfs.host import NoHostError, open_root

    if no_host:
        return None, "--no-host"
    try:
        return open_root(state.sysfs_root), "--no-host"
    except NoHostError as error:
        return None, str(error)


def _config(pid: int | None, version: str, no_host: bool, qemu_args: str | None) -> Config:
    """QEMU's command line (its pid's, or `qemu_args`) through lint: guest rules, and `check` of each primary."""
    from pcie_failover.adapters.vm_config import read_config, read_pid
    from pcie_failover.commands.lint import run_lint
    from pcie_failover.inspect.model import Config
    from pcie_failover.lint.model import ConfigKind
    from pcie_failover.model.address import InputError

    if qemu_args is None and pid is None:
        return Config(None, None, "QEMU's pid is not visible from here (another pid namespace): give --qemu-args")
    source = qemu_args if qemu_args is not None else f"/proc/{pid}/cmdline"
    root, why_not = _root(no_host)
    try:
        text = read_config(qemu_args) if qemu_args is not None else read_pid(pid or 0)
        return Config(
            source, run_lint(text, ConfigKind.QEMU, source=source, root=root, why_not=why_not, version=version), None
        )
    except InputError as error:
        return Config(source, None, str(error))


def _domain_config(name: str, version: str, no_host: bool) -> Config:
    """The domain's XML (`virsh dumpxml -- NAME`, as `lint --domain` reads it) through lint."""
    from pcie_failover.adapters.vm_config import read_domain, virsh_command
    from pcie_failover.commands.lint import run_lint
    from pcie_failover.inspect.model import Config
    from pcie_failover.lint.model import ConfigKind
    from pcie_failover.model.address import InputError

    source = virsh_command(name)
    root, why_not = _root(no_host)
    try:
        text = read_domain(name)
        return Config(
            source, run_lint(text, ConfigKind.LIBVIRT, source=source, root=root, why_not=why_not, version=version), None
        )
    except InputError as error:
        return Config(source, None, str(error))


def _inspect(
    monitor: Session, config: Config | None, no_host: bool, qemu_args: str | None
) -> tuple[InspectReport, Config]:
    from pcie_failover.inspect.judge import judge
    from pcie_failover.inspect.read import read_vm

    vm = read_vm(monitor)
    if config is None:
        if monitor.via == "domain":
            config = _domain_config(monitor.path, vm.version, no_host)
        else:
            config = _config(monitor.pid, vm.version, no_host, qemu_args)
    return judge(monitor.path, monitor.pid, vm, config, monitor.via), config


def _watch(monitor: Session, report: InspectReport, config: Config, as_json: bool) -> int:
    """Print each pair's state, then every watched event and each pair state it changed, until QEMU hangs up."""
    from pcie_failover.inspect.render import watch_event_line, watch_pair_line

    seen: dict[str, tuple[object, ...]] = {}

    def changes(report: InspectReport, seconds: float) -> None:
        for pair in report.pairs:
            now = (pair.verdict, pair.reason, pair.plugged, pair.standby.negotiated)
            if seen.get(pair.standby.id) != now:
                seen[pair.standby.id] = now
                emit(watch_pair_line(pair, seconds, as_json))

    changes(report, time.time())
    while (event := monitor.next_event()) is not None:
        if event.get("event") in WATCHED:
            emit(watch_event_line(event, as_json))
            changes(_inspect(monitor, config, True, None)[0], time.time())
    closed = "QEMU closed the monitor" if monitor.via == "qmp" else "virsh's event stream ended"
    emit('{"kind": "closed"}\n' if as_json else f"{closed}\n")
    return int(ExitCode.READY)


@app.command(epilog=INSPECT_EXIT_CODES)
def inspect(
    qmp: Annotated[
        str | None,
        typer.Option("--qmp", help="The VM's QMP unix socket (a monitor no other client holds).", metavar="PATH"),
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option(
            "--domain",
            help="A running libvirt domain, through `virsh qemu-monitor-command` (queries only).",
            metavar="NAME",
        ),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Then follow QMP events: one line per event and per change.")
    ] = False,
    qemu_args: Annotated[
        str | None,
        typer.Option(
            "--qemu-args",
            help="The VM's command line (`-`: stdin), when QEMU's /proc/PID/cmdline cannot be read here.",
            metavar="FILE",
        ),
    ] = None,
    no_host: Annotated[bool, typer.Option("--no-host", help="Skip the host check of each primary.")] = False,
    output: Annotated[OutputFormat, FORMAT_OPTION] = OutputFormat.TABLE,
) -> int:
    """Read a running VM (QMP queries only): each failover pair's negotiation, primary, configuration and verdict."""
    from pcie_failover.inspect.read import MonitorError, ReplyError

    if (qmp is None) == (domain is None):
        return fail("inspect", output, ExitCode.USAGE, "usage", "give one of --qmp PATH, --domain NAME")
    monitor: Session
    if domain is not None:
        if qemu_args is not None:
            message = "--qemu-args goes with --qmp (--domain reads the configuration from virsh dumpxml)"
            return fail("inspect", output, ExitCode.USAGE, "usage", message)
        from pcie_failover.inspect.virsh import VirshMonitor

        monitor = VirshMonitor(domain, events=watch)
    else:
        from pcie_failover.inspect.qmp import Monitor

        monitor = Monitor(qmp or "")
    try:
        monitor.open()
        report, config = _inspect(monitor, None, no_host, qemu_args)
        if watch:
            return _watch(monitor, report, config, output is OutputFormat.JSON)
    except (MonitorError, ReplyError) as error:
        return fail("inspect", output, ExitCode.NO_HOST, "input", str(error))
    finally:
        monitor.close()
    if output is OutputFormat.JSON:
        from pcie_failover.inspect.render import render_json as render
    else:
        from pcie_failover.inspect.render import render_table as render
    emit(render(report))
    return _exit(report.verdict)
