"""The live VM and its configuration -> one verdict per failover pair: pure."""

from __future__ import annotations

from pcie_failover.inspect.model import (
    Config,
    InspectReport,
    LivePrimary,
    LiveStandby,
    LiveVm,
    Migration,
    PairState,
    PairVerdict,
    Placement,
)
from pcie_failover.lint.model import Device
from pcie_failover.lint.report import HostItem
from pcie_failover.model.results import Status


def configured_primary(config: Config, standby: str) -> Device | None:
    """The first device of the configuration whose failover_pair_id names `standby`."""
    if config.lint is None:
        return None
    return next((d for d in config.lint.config.primaries if d.failover_pair_id == standby), None)


def _failing(config: Config) -> list[str]:
    """The ids of the configuration's failing guest rules (their messages are in the report's `config`)."""
    results = () if config.lint is None else config.lint.results
    return [r.rule_id for r in results if r.status is Status.FAIL]


def _because(config: Config) -> str:
    failing = _failing(config)
    return f"; the configuration fails {', '.join(failing)}" if failing else ""


def _migration(vm: LiveVm, live: LivePrimary | None, standby: LiveStandby, config: Config) -> Migration:
    unplugs = live is not None and not vm.migrating
    if standby.negotiated is False:
        return Migration(unplugs, False, "not negotiated: the destination keeps the primary hidden as well")
    if config.lint is None:
        return Migration(unplugs, None, f"the configuration is unknown ({config.note})")
    failing = _failing(config)
    if failing:
        return Migration(unplugs, False, f"the configuration fails {', '.join(failing)}")
    return Migration(unplugs, True, "the destination plugs the primary once the negotiated features arrive")


def _migrating(vm: LiveVm, primary: str, held: bool) -> str:
    if vm.runstate == "inmigrate":
        return f"incoming migration: {primary} is plugged once the guest's state has arrived and negotiated"
    status = vm.migration_status or vm.runstate
    if vm.runstate == "postmigrate":
        return f"{primary} unplugged for the migration, which is {status}: the VM runs on the destination now"
    kept = " (QEMU keeps the device, to plug it back should the migration fail)" if held else ""
    return f"{primary} unplugged for the migration in progress ({status}){kept}"


def _judge(
    vm: LiveVm, standby: LiveStandby, live: LivePrimary | None, planned: Device | None, config: Config
) -> tuple[PairVerdict, str]:
    name = live.id if live is not None else (planned.name if planned is not None else None)
    negotiated = standby.negotiated
    if name is None:
        if config.lint is None:
            return PairVerdict.UNDETERMINED, (
                f"no primary plugged, and a hidden one shows only in the unknown configuration ({config.note})"
            )
        return PairVerdict.NOT_CONFIGURED, f"no device has failover_pair_id={standby.id}"
    if vm.migrating:
        return PairVerdict.STANDBY_ONLY, _migrating(vm, name, live is not None)
    if live is not None:
        if negotiated is False:
            return PairVerdict.STANDBY_ONLY, (
                f"not negotiated: {name} is plugged but the guest's virtio-net driver has not (or not again, "
                "after a reset) acknowledged VIRTIO_NET_F_STANDBY, so no failover master pairs them"
            )
        at = live.placement
        if at.bus in vm.ports and at.slot:
            return PairVerdict.STANDBY_ONLY, (
                f"primary failed to plug where the guest can see it: QEMU plugged {name} at device {at.slot} of "
                f"port {at.bus}, but a Linux guest scans device 0 only below a root or downstream port"
                f"{_because(config)}"
            )
        return PairVerdict.ACTIVE, f"negotiated; {name} plugged at {at.text}"
    if negotiated is None:
        return PairVerdict.UNDETERMINED, f"{name} is not plugged and negotiation is unknown: {standby.unknown_why}"
    if not negotiated:
        return PairVerdict.STANDBY_ONLY, (
            f"not negotiated: the guest has not acknowledged VIRTIO_NET_F_STANDBY (virtio-net driver not "
            f"loaded, or without failover); QEMU keeps {name} hidden until it does"
        )
    return PairVerdict.STANDBY_ONLY, (
        f"primary failed to plug: negotiated, but QEMU has no device {name} (QEMU warned why on its "
        f"standard error; or it was removed){_because(config)}"
    )


def _host(config: Config, planned: Device | None) -> HostItem | None:
    if config.lint is None or planned is None:
        return None
    return next((h for h in config.lint.hosts if h.primary == planned.name), None)


def judge(target: str, pid: int | None, vm: LiveVm, config: Config, via: str = "qmp") -> InspectReport:
    """Every live failover standby as a pair with its primary (live and configured) and a verdict."""
    pairs = []
    for standby in vm.standbys:
        live = next((p for p in vm.primaries if p.pair_id == standby.id), None)
        planned = configured_primary(config, standby.id)
        verdict, reason = _judge(vm, standby, live, planned, config)
        pairs.append(
            PairState(
                standby=standby,
                primary_id=live.id if live is not None else (None if planned is None else planned.name),
                primary=live,
                plugged=live is not None and not vm.migrating,
                configured_primary=None if planned is None else planned.name,
                configured_at=None if planned is None else Placement(planned.bus, planned.slot, planned.function),
                host=_host(config, planned),
                migration=_migration(vm, live, standby, config),
                verdict=verdict,
                reason=reason,
            )
        )
    return InspectReport(target, pid, vm, config, tuple(pairs), via)
