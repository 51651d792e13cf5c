"""`inspect`: is failover working in this running VM, now? (QMP queries, the VM's own command line, lint, check)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from pcie_failover.cli.app import FORMAT_OPTION, INTERNAL_EXIT_CODE, OutputFormat, emit, fail, global_options
from pcie_failover.model.results import ExitCode

if TYPE_CHECKING:  # the qemu.qmp client is imported only when inspect runs
    from pcie_failover.inspect.model import Config, InspectReport, LiveEvent, PairVerdict
    from pcie_failover.inspect.read import Session
    from pcie_failover.sysfs.root import SysfsRoot

INSPECT_EXIT_CODES = f"""Exit codes: 0 every failover pair is active; 1 a pair is standby-only or not-configured, a
primary names no failover=on standby, or the VM has no failover pair; 2 usage error; 3 the VM cannot be inspected (no
socket, not a QEMU QMP monitor, QEMU hung up or did not answer, or replied something we can't read; --domain: no
virsh, virsh failed, e.g. no such domain or it is not running, printed what virsh never prints, or did not answer); 4
undetermined (QEMU did not say enough to judge a pair: the VM is not running, e.g. paused, or no
x-query-virtio-status, refused under -compat unstable-input=reject); with --watch, 0 when QEMU closes the monitor
(--domain: when virsh's event stream ends); {INTERNAL_EXIT_CODE}."""
# --watch reads the VM again after this many seconds without a watched event: QEMU changes some state without an
# event (it plugs the primary back after a failed or cancelled migration; an operator's device_add)
POLL = 5.0
# QMP events after which --watch reads the VM again
WATCHED = frozenset({"FAILOVER_NEGOTIATED", "UNPLUG_PRIMARY", "DEVICE_DELETED", "MIGRATION", "RESET", "RESUME", "STOP"})


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
        return open_root(global_options().sysfs_root), "--no-host"
    except NoHostError as error:
        return None, str(error)


def _config(pid: int | None, version: str, no_host: bool, qemu_args: str | None, target: str) -> Config:
    """QEMU's command line (its pid's, or `qemu_args`) through lint: guest rules, and `check` of each primary."""
    from pcie_failover.adapters.vm_config import read_config, read_qemu_cmdline
    from pcie_failover.inspect.model import Config
    from pcie_failover.lint.command import run_lint
    from pcie_failover.lint.model import ConfigKind
    from pcie_failover.model.address import InputError

    if qemu_args is None and pid is None:
        return Config(None, None, "QEMU's pid is not visible from here (another pid namespace): give --qemu-args")
    source = qemu_args if qemu_args is not None else f"/proc/{pid}/cmdline"
    root, why_not = _root(no_host)
    try:
        who = f"the process behind {target} (pid {pid})"
        text = read_config(qemu_args) if qemu_args is not None else read_qemu_cmdline(pid or 0, who)
        lint = run_lint(text, ConfigKind.QEMU, source=source, root=root, why_not=why_not, version=version)
        return Config(source, lint, None, lint.facts)
    except InputError as error:
        return Config(source, None, str(error))


def _domain_config(name: str, version: str, no_host: bool) -> Config:
    """The domain's XML (`virsh dumpxml -- NAME`, as `lint --domain` reads it) through lint."""
    from pcie_failover.adapters.vm_config import read_domain, virsh_command
    from pcie_failover.inspect.model import Config
    from pcie_failover.lint.command import run_lint
    from pcie_failover.lint.model import ConfigKind
    from pcie_failover.model.address import InputError

    source = virsh_command(name)
    root, why_not = _root(no_host)
    try:
        text = read_domain(name)
        lint = run_lint(text, ConfigKind.LIBVIRT, source=source, root=root, why_not=why_not, version=version)
        return Config(source, lint, None, lint.facts)
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
            config = _config(monitor.pid, vm.version, no_host, qemu_args, monitor.path)
    return judge(monitor.path, monitor.pid, vm, config, monitor.via), config


def _watch(monitor: Session, report: InspectReport, config: Config, since: float, as_json: bool) -> int:
    """Print each pair's state, then every watched event and each pair state it changed, until QEMU hangs up.

    Lines come out in time order: the events that arrived together (and those that arrived while the VM was
    read again) are sorted by QEMU's timestamp, arrival breaking ties; a pair line is stamped when the reading
    that found it began, but never before the events that caused it; each line is flushed (emit).
    """
    from pcie_failover.inspect.read import Idle, read_event
    from pcie_failover.inspect.render import (
        watch_closed_line,
        watch_event_line,
        watch_orphan_line,
        watch_pair_line,
    )

    seen: dict[str, tuple[object, ...]] = {}
    queue: list[tuple[float, int, str]] = []  # (time, arrival, line)

    def add(seconds: float, line: str) -> None:
        queue.append((seconds, len(queue), line))

    def changes(report: InspectReport, seconds: float) -> None:
        for pair in report.pairs:
            now = (pair.verdict, pair.reason, pair.plugged, pair.standby.negotiated)
            if seen.get(pair.standby.id) != now:
                seen[pair.standby.id] = now
                add(seconds, watch_pair_line(pair, seconds, as_json, report.vm.runstate))
        for orphan in report.orphans:
            key = f"orphan {orphan.primary.id}"
            state = (orphan.verdict, orphan.reason, orphan.primary.in_pci)
            if seen.get(key) != state:
                seen[key] = state
                add(seconds, watch_orphan_line(orphan, seconds, as_json, report.vm.runstate))

    def take(raw: list[dict[str, object]]) -> list[LiveEvent]:
        events = sorted((read_event(event) for event in raw), key=lambda e: e.seconds)
        watched = [event for event in events if event.name in WATCHED]
        for event in watched:
            add(event.seconds, watch_event_line(event, as_json))
        return watched

    def flush() -> None:
        for _, _, line in sorted(queue):
            emit(line)
        queue.clear()

    changes(report, since)
    caused = take(monitor.pending_events())  # arrived while the VM was read
    while True:
        while caused:  # read again until a reading saw no new watched event arrive
            latest = max(event.seconds for event in caused)
            start = time.time()
            report = _inspect(monitor, config, True, None)[0]
            caused = take(monitor.pending_events())
            changes(report, max(start, latest))
        flush()
        try:
            event = monitor.next_event(POLL)
        except Idle:  # no event for POLL seconds: read again; a line only for what changed
            start = time.time()
            report = _inspect(monitor, config, True, None)[0]
            caused = take(monitor.pending_events())
            changes(report, start)
            continue
        if event is None:
            break
        caused = take([event, *monitor.pending_events()])
    closed = "QEMU closed the monitor" if monitor.via == "qmp" else "virsh's event stream ended"
    emit(watch_closed_line(closed, as_json))
    return int(ExitCode.READY)


def _failed(output: OutputFormat, watch: bool, code: ExitCode, kind: str, message: str) -> int:
    """An error as `fail` reports it; with --watch --format json, a JSON line like every other line."""
    if watch and output is OutputFormat.JSON and not global_options().quiet:
        from pcie_failover.inspect.render import watch_error_line

        emit(watch_error_line(int(code), kind, message, as_json=True))
        return int(code)
    return fail("inspect", output, code, kind, message)


commands = typer.Typer()  # registered by name in cli.app.COMMANDS


@commands.command(epilog=INSPECT_EXIT_CODES)
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
        bool,
        typer.Option(
            "--watch",
            help="Then follow QMP events, and read again every 5 s without one: a line per event and per change.",
        ),
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
        return _failed(output, watch, ExitCode.USAGE, "usage", "give one of --qmp PATH, --domain NAME")
    monitor: Session
    if domain is not None:
        if qemu_args is not None:
            message = "--qemu-args goes with --qmp (--domain reads the configuration from virsh dumpxml)"
            return _failed(output, watch, ExitCode.USAGE, "usage", message)
        from pcie_failover.inspect.virsh import VirshMonitor

        monitor = VirshMonitor(domain, events=watch)
    else:
        from pcie_failover.inspect.qmp import Monitor

        monitor = Monitor(qmp or "")
    try:
        monitor.open()
        since = time.time()
        report, config = _inspect(monitor, None, no_host, qemu_args)
        if watch:
            return _watch(monitor, report, config, since, output is OutputFormat.JSON)
    except (MonitorError, ReplyError) as error:
        return _failed(output, watch, ExitCode.NO_HOST, "input", str(error))
    finally:
        monitor.close()
    if output is OutputFormat.JSON:
        from pcie_failover.inspect.render import render_json

        emit(render_json(report))
    else:
        from pcie_failover.cli.terminal import terminal_layout
        from pcie_failover.inspect.render import render_table

        emit(render_table(report, terminal_layout()))
    return _exit(report.verdict)
