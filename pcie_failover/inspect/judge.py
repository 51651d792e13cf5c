"""The live VM and its configuration -> one verdict per failover pair: pure.

A pair is `active` only when QEMU and the guest say so (the VM running, negotiated, the primary plugged and in the
guest's PCI tree, no migration holding it out) and lint's rules pass for that pair: its own configuration (scoped to it,
inspect.scope) and the pair as QEMU realized it (slot-zero, mac-match over the live placement and MACs, and
standby-mac-unique over the live standbys).
"""

from __future__ import annotations

from pcie_failover.inspect.model import (
    RUNNING,
    Config,
    InspectReport,
    LivePrimary,
    LiveStandby,
    LiveVm,
    Migration,
    OrphanPrimary,
    PairState,
    PairVerdict,
    Placement,
)
from pcie_failover.inspect.scope import live_rules, pair_rules
from pcie_failover.lint.model import Device
from pcie_failover.lint.parse import parse_qemu_version
from pcie_failover.lint.report import HostItem
from pcie_failover.model.address import InputError
from pcie_failover.model.results import RuleResult, Severity, Status

# QEMU's hw/net/virtio-net.c: failover_hide_primary_device() hides a primary (from the command line or a
# device_add) until the standby negotiates, and a hidden device is in no query's reply (no QOM object yet).
HIDDEN_UNSEEN = "one added at runtime (device_add ... failover_pair_id={id}) stays hidden, in no QMP reply, until then"


def configured_primary(config: Config, standby: str) -> Device | None:
    """The first device of the configuration whose failover_pair_id names `standby`."""
    if config.lint is None:
        return None
    return next((d for d in config.lint.config.primaries if d.failover_pair_id == standby), None)


def _failing(results: tuple[RuleResult, ...]) -> list[str]:
    """The ids of the failing rules among `results`."""
    return [r.rule_id for r in results if r.status is Status.FAIL]


def _because(checks: tuple[RuleResult, ...]) -> str:
    failing = _failing(checks)
    return f"; the configuration fails {', '.join(failing)}" if failing else ""


def _plugged(vm: LiveVm, live: LivePrimary | None) -> bool:
    """In the guest's view: QEMU holds it, query-pci lists it (when asked), no migration unplugged it."""
    return live is not None and live.in_pci is not False and not vm.migrating and not vm.migrated_out


def _came_hidden(config: Config, standby: LiveStandby, live: LivePrimary | None, planned: Device | None,
                 checks: tuple[RuleResult, ...]) -> bool | None:  # fmt: skip
    """Whether QEMU hid the live primary until its standby negotiated (failover_hide_primary_device(): it was
    created after its standby): such a primary was plugged on a negotiation, and the flag that says so
    (failover_primary_hidden false) survives a device or guest reset. None: not known (no configuration).

    A configured primary came in hidden when the pair's `order` passes (standby first), and never when its standby
    is not in the configuration (added at runtime, after it); one added at runtime when its standby is in the
    configuration (it existed since QEMU started).
    """
    if live is None or config.lint is None:
        return None
    standby_configured = config.lint.config.device(standby.id) is not None
    if planned is not None and planned.name == live.id and not standby_configured:
        return False
    if planned is not None and planned.name == live.id:
        order = next((r for r in checks if r.rule_id == "order"), None)
        return None if order is None or order.status not in (Status.PASS, Status.FAIL) else order.status is Status.PASS
    return True if standby_configured else None


def _unplugs(plugged: bool, negotiated: bool | None, came_hidden: bool | None) -> bool | None:
    """virtio_net_handle_migration_primary() unplugs a plugged primary iff `!failover_primary_hidden`: cleared in
    virtio_net_set_features() on VIRTIO_NET_F_STANDBY (whatever the primary's creation order) and never set again
    (a reset leaves it). Negotiated now, or came in through hiding (plugged on a negotiation): it was cleared.
    Otherwise (a primary never hidden, not negotiated now) it was cleared iff the guest negotiated at some point
    since QEMU started, which no query tells: None."""
    if not plugged:
        return False
    if negotiated or came_hidden:
        return True
    return None


RUNTIME = "added at runtime: judged on what QEMU built (the configuration has not this pair's standby)"


def _never_hidden(name: str, came_hidden: bool | None) -> str:
    """A plugged primary, not negotiated now, not known to have come in through hiding: unplugs unknown."""
    origin = (
        "QEMU never hid it (it was created before its standby)"
        if came_hidden is False
        else "whether it came in through failover hiding is not known"
    )
    return (
        f"{name} is plugged, but {origin}, so whether QEMU unplugs it at migration setup is unknown: it does iff "
        "the guest negotiated VIRTIO_NET_F_STANDBY at some point since QEMU started (a reset does not undo that), "
        "which no query tells"
    )


RESET = (
    "the guest negotiated VIRTIO_NET_F_STANDBY before a reset and no longer does: QEMU still unplugs {name} at "
    "migration setup (a reset does not hide it again), and the destination keeps it hidden until the guest "
    "negotiates: a migration now loses the primary for good"
)


def _migration(
    vm: LiveVm, standby: LiveStandby, *, name: str | None, live: LivePrimary | None, checks: tuple[RuleResult, ...],
    config: Config, hot_added: bool, came_hidden: bool | None, runtime: bool,
) -> Migration:  # fmt: skip
    """What a migration started now would do to this pair: only its own rules count.

    QEMU unplugs at migration setup only a primary whose standby negotiated at some point
    (virtio_net_handle_migration_primary(): `!failover_primary_hidden`, cleared in virtio_net_set_features() on
    VIRTIO_NET_F_STANDBY and not reset): a plugged primary that came in through hiding, or any plugged primary of
    a standby negotiated now.
    """
    negotiated = standby.negotiated
    plugged = _plugged(vm, live)
    unplugs = _unplugs(plugged, negotiated, came_hidden)
    if name is None:
        return Migration(False, False, "no primary for this standby")
    if negotiated is None and unplugs:
        return Migration(
            unplugs,
            None,
            f"negotiation unknown ({standby.unknown_why}), but {name} came in through failover hiding, so its "
            "standby negotiated once and QEMU unplugs it; the destination plugs it back only if the guest "
            "negotiates now",
        )
    if negotiated is None:
        return Migration(
            unplugs,
            None,
            f"negotiation unknown ({standby.unknown_why}): QEMU unplugs a primary for a migration, and the "
            "destination plugs it back, only for a standby that negotiated",
        )
    if not negotiated and plugged and came_hidden:
        return Migration(unplugs, False, RESET.format(name=name))
    if not negotiated and plugged and unplugs is None:
        return Migration(
            None,
            False,
            f"not negotiated: {_never_hidden(name, came_hidden)}; the destination keeps it hidden until the guest "
            "negotiates",
        )
    if not negotiated:
        held = f"{name} is plugged, but " if plugged else ""
        return Migration(
            unplugs,
            False,
            f"not negotiated: {held}QEMU unplugs a primary at migration setup only once its standby negotiated "
            "VIRTIO_NET_F_STANDBY, and the destination keeps it hidden as well",
        )
    if runtime:
        return Migration(
            unplugs,
            None,
            f"the pair {standby.id} + {name} was added at runtime (its standby is not in the configuration): the "
            "destination plugs the primary back only if its own command line (or a device_add there) has the pair",
        )
    if hot_added:
        return Migration(
            unplugs,
            None,
            f"{name} was added at runtime (not in the configuration): the destination plugs it back only if its "
            "own command line (or a device_add there) has it",
        )
    if config.lint is None:
        return Migration(unplugs, None, f"the configuration is unknown ({config.note})")
    failing = _failing(checks)
    if failing:
        return Migration(unplugs, False, f"the pair's configuration fails {', '.join(failing)}")
    return Migration(unplugs, True, "the destination plugs the primary once the negotiated features arrive")


def _migrating(vm: LiveVm, primary: str, held: bool) -> str:
    if vm.runstate == "inmigrate":
        return f"incoming migration: {primary} is plugged once the guest's state has arrived and negotiated"
    status = vm.migration_status or vm.runstate
    if vm.runstate == "postmigrate":
        return f"{primary} unplugged for the migration, which is {status}: the VM runs on the destination now"
    if vm.migrated_out:
        return (
            f"{primary} was unplugged for a migration that completed: QEMU plugs it back only when a migration "
            f"fails, so this source QEMU (now {vm.runstate}) keeps it out of the guest"
        )
    kept = " (QEMU keeps the device, to plug it back should the migration fail)" if held else ""
    if status == "wait-unplug":
        return f"{primary} is being unplugged for the migration (wait-unplug: QEMU waits for the guest to release it)"
    return f"{primary} unplugged for the migration in progress ({status}){kept}"


def _not_running(vm: LiveVm, standby: LiveStandby, live: LivePrimary | None, name: str | None) -> str:
    """A VM that is not running (paused, shut down, panicked, stopped on an error): no verdict, QEMU's view."""
    if name is None:
        primary = "no primary shows"
    elif _plugged(vm, live) and live is not None:
        primary = f"{name} plugged at {live.placement.text}"
    else:
        primary = f"{name} not plugged"
    negotiated = {None: "unknown", True: "yes", False: "no"}[standby.negotiated]
    return (
        f"the VM is {vm.runstate}: its guest does not run, so no path carries traffic and inspect does not judge "
        f"failover (QEMU's view now: negotiated {negotiated}; {primary})"
    )


def _pci_netdev(driver: str) -> bool:
    """A device whose guest network interface is a PCI device's: not a virtio one (its netdev hangs off the
    virtio bus, below the PCI function)."""
    return not driver.startswith("virtio-")


def _no_primary(standby: LiveStandby, config: Config) -> tuple[PairVerdict, str]:
    """No primary held by QEMU, none configured: what negotiation tells."""
    unseen = HIDDEN_UNSEEN.format(id=standby.id)
    where = (
        "the configuration names none" if config.lint is not None else f"the configuration is unknown ({config.note})"
    )
    if standby.negotiated is False:
        return PairVerdict.STANDBY_ONLY, (
            f"not negotiated: the guest has not acknowledged VIRTIO_NET_F_STANDBY; no primary shows: {where}, "
            f"and {unseen}"
        )
    if standby.negotiated is None:
        return PairVerdict.UNDETERMINED, f"negotiation unknown ({standby.unknown_why}); no primary shows: {where}"
    if config.lint is None:
        return PairVerdict.UNDETERMINED, (
            f"negotiated, but QEMU holds no primary for {standby.id}; {where}: none, or it failed to plug"
        )
    return PairVerdict.NOT_CONFIGURED, (
        f"no device has failover_pair_id={standby.id}: none in the configuration, and none added at runtime "
        "(negotiated: QEMU would have plugged it)"
    )


def _judge(
    vm: LiveVm,
    standby: LiveStandby,
    live: LivePrimary | None,
    *,
    name: str | None,
    checks: tuple[RuleResult, ...],
    live_checks: tuple[RuleResult, ...],
    came_hidden: bool | None,
    runtime: bool,
) -> tuple[PairVerdict, str]:
    negotiated = standby.negotiated
    assert name is not None
    if vm.migrating or vm.migrated_out:
        return PairVerdict.STANDBY_ONLY, _migrating(vm, name, live is not None)
    plugged = _plugged(vm, live)
    if negotiated is None:
        state = f"{name} is plugged at {live.placement.text}" if plugged and live else f"{name} is not plugged"
        return PairVerdict.UNDETERMINED, f"negotiation unknown ({standby.unknown_why}); {state}"
    if plugged and live is not None:
        if not negotiated and came_hidden:
            return PairVerdict.STANDBY_ONLY, (
                f"not negotiated since a reset: {name} is plugged (QEMU plugged it when the guest negotiated), but "
                "the guest no longer acknowledges VIRTIO_NET_F_STANDBY, so no failover master pairs them; "
                + RESET.format(name=name).split(": ", 1)[1]
            )
        if not negotiated:
            return PairVerdict.STANDBY_ONLY, (
                f"not negotiated: the guest's virtio-net driver has not (or not again, after a reset) acknowledged "
                f"VIRTIO_NET_F_STANDBY, so no failover master pairs them; {_never_hidden(name, came_hidden)}"
            )
        if not _pci_netdev(live.driver):
            return PairVerdict.STANDBY_ONLY, (
                f"the guest does not pair them: {name} is a {live.driver}, and net_failover takes only a PCI "
                "network device as primary (net_failover_slave_pre_register(): the netdev's parent must be a PCI "
                "device; a virtio-net's is its virtio device)"
            )
        at = live.placement
        results = {r.rule_id: r for r in live_checks}
        if results["slot-zero"].status is Status.FAIL:
            return PairVerdict.STANDBY_ONLY, (
                f"primary failed to plug where the guest can see it: QEMU plugged {name} at device {at.slot} of "
                f"port {at.bus}, but a Linux guest scans device 0 only below a root or downstream port"
                f"{_because(checks)}"
            )
        if results["mac-match"].status is Status.FAIL:
            return PairVerdict.STANDBY_ONLY, f"the guest does not pair them: {results['mac-match'].message}"
        if results["standby-mac-unique"].status is Status.FAIL:
            return PairVerdict.STANDBY_ONLY, (
                f"the guest cannot tell the pairs apart: {results['standby-mac-unique'].message}"
            )
        unknown = [r for r in live_checks if r.status is Status.UNKNOWN and r.severity is Severity.FAIL]
        if unknown:  # e.g. a vfio-pci primary whose VF's MAC nobody read (added at runtime, or --no-host)
            return PairVerdict.UNDETERMINED, (
                f"negotiated and {name} plugged at {at.text}, but {unknown[0].rule_id} could not be checked: "
                f"{unknown[0].message}"
            )
        failing = _failing(checks)
        if failing:
            return PairVerdict.STANDBY_ONLY, (
                f"negotiated and {name} plugged at {at.text}, but the pair's configuration fails "
                f"{', '.join(failing)}: failover is not dependable for this pair"
            )
        added = f"; {RUNTIME}" if runtime else ""
        return PairVerdict.ACTIVE, f"negotiated; {name} plugged at {at.text}{added}"
    if live is not None and live.in_pci is False:
        return PairVerdict.STANDBY_ONLY, f"QEMU holds {name}, but it is not in the guest's PCI tree (query-pci)"
    if not negotiated:
        return PairVerdict.STANDBY_ONLY, (
            f"not negotiated: the guest has not acknowledged VIRTIO_NET_F_STANDBY (virtio-net driver not "
            f"loaded, or without failover); QEMU keeps {name} hidden until it does"
        )
    return PairVerdict.STANDBY_ONLY, (
        f"primary failed to plug: negotiated, but QEMU has no device {name} (QEMU warned why on its "
        f"standard error; or it was removed){_because(checks)}"
    )


def _host(config: Config, planned: Device | None) -> HostItem | None:
    if config.lint is None or planned is None:
        return None
    return next((h for h in config.lint.hosts if h.primary == planned.name), None)


def _version(config: Config) -> tuple[int, int, int] | None:
    text = None if config.lint is None else config.lint.qemu_version
    try:
        return None if text is None else parse_qemu_version(text)
    except InputError:
        return None


def _orphans(vm: LiveVm) -> tuple[OrphanPrimary, ...]:
    """Every primary whose failover_pair_id names no failover=on standby: QEMU registers the failover device
    listener (hiding) and the migration unplug only for a virtio-net with failover=on, so such a primary is plugged
    at once and stays plugged through a migration; a vfio-pci with failover_pair_id gets no vfio migration blocker
    either (QEMU leaves that to failover)."""
    standbys = {s.id for s in vm.standbys}
    found = []
    for primary in vm.primaries:
        if primary.pair_id in standbys:
            continue
        named = vm.driver_of(primary.pair_id)
        if named is None:
            what = f"this VM has no device {primary.pair_id}"
        elif named.startswith("virtio-net-pci"):
            what = f"{primary.pair_id} is a {named} with failover=off"
        else:
            what = f"{primary.pair_id} is a {named}, not a virtio-net-pci with failover=on"
        blocker = (
            "; being a vfio-pci with failover_pair_id, it has no vfio migration blocker, so a migration is not "
            "refused and carries no failover"
            if primary.driver == "vfio-pci"
            else ""
        )
        reason = (
            f"no failover standby: {primary.id} ({primary.driver}) has failover_pair_id={primary.pair_id}, but "
            f"{what}: QEMU never hides it and never unplugs it for a migration, and no guest failover master "
            f"pairs it{blocker}"
        )
        found.append(OrphanPrimary(primary, named, reason))
    return tuple(found)


def judge(target: str, pid: int | None, vm: LiveVm, config: Config, via: str = "qmp") -> InspectReport:
    """Every live failover standby as a pair with its primary (live and configured) and a verdict."""
    pairs = []
    for standby in vm.standbys:
        live = next((p for p in vm.primaries if p.pair_id == standby.id), None)
        planned = configured_primary(config, standby.id)
        name = live.id if live is not None else (planned.name if planned is not None else None)
        # a standby added at runtime (device_add): the configuration's rules do not describe this pair
        runtime = config.lint is not None and config.lint.config.device(standby.id) is None
        checks = (
            ()
            if config.lint is None or runtime
            else pair_rules(config.lint.config, _version(config), config.facts, standby.id)
        )
        live_checks = () if live is None else live_rules(vm, standby, live, config.facts)
        hot_added = live is not None and config.lint is not None and (planned is None or planned.name != live.id)
        came_hidden = _came_hidden(config, standby, live, planned, checks)
        migration = _migration(
            vm,
            standby,
            name=name,
            live=live,
            checks=checks,
            config=config,
            hot_added=hot_added,
            came_hidden=came_hidden,
            runtime=runtime,
        )
        if vm.runstate != RUNNING and not (vm.migrating or vm.migrated_out):
            verdict, reason = PairVerdict.UNDETERMINED, _not_running(vm, standby, live, name)
        elif name is None:
            verdict, reason = _no_primary(standby, config)
        else:
            verdict, reason = _judge(
                vm, standby, live, name=name, checks=checks, live_checks=live_checks, came_hidden=came_hidden,
                runtime=runtime,
            )  # fmt: skip
        pairs.append(
            PairState(
                standby=standby,
                primary_id=name,
                primary=live,
                plugged=_plugged(vm, live),
                configured_primary=None if planned is None else planned.name,
                configured_at=None if planned is None else Placement(planned.bus, planned.slot, planned.function),
                host=_host(config, planned),
                migration=migration,
                checks=checks,
                live_checks=live_checks,
                verdict=verdict,
                reason=reason,
                runtime=runtime,
            )
        )
    return InspectReport(target, pid, vm, config, tuple(pairs), via, _orphans(vm))
