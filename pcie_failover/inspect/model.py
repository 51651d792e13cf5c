"""What QEMU reported (the live VM) and what `inspect` concluded (pairs, verdicts): frozen records."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pcie_failover.lint.model import HostFacts
from pcie_failover.lint.report import HostItem, LintReport
from pcie_failover.model.results import RuleResult

STANDBY_FEATURE = "VIRTIO_NET_F_STANDBY"
# query-migrate statuses of a migration in progress (QEMU 10's qapi/migration.json MigrationStatus: all but none,
# completed, failed and cancelled; postcopy-device and postcopy-setup came in 10.2): QEMU holds a failover primary
# unplugged for it (or, cancelling, until the cancel is over and it plugs it back)
MIGRATING = (
    "setup", "cancelling", "active", "postcopy-device", "postcopy-setup", "postcopy-active", "postcopy-paused",
    "postcopy-recover-setup", "postcopy-recover", "colo", "pre-switchover", "device", "wait-unplug",
)  # fmt: skip
RUNNING = "running"  # query-status: the one runstate in which the guest runs


class PairVerdict(enum.Enum):
    """One pair, now."""

    ACTIVE = "active"  # negotiated and the primary plugged: the fast path is there
    STANDBY_ONLY = "standby-only"  # traffic can only take the virtio-net standby
    NOT_CONFIGURED = "not-configured"  # a failover standby without any primary
    UNDETERMINED = "undetermined"  # QEMU did not say enough (no x-query-virtio-status)


@dataclass(frozen=True)
class Placement:
    """Where QEMU realized a PCI device: its parent bus's owner (a port id, or the root bus) and devfn."""

    bus: str | None
    slot: int | None
    function: int | None

    @property
    def text(self) -> str:
        """`rp1 slot 0.0`, as far as known."""
        where = self.bus or "?"
        return where if self.slot is None else f"{where} slot {self.slot}.{self.function or 0}"


@dataclass(frozen=True)
class LiveStandby:
    """A virtio-net device with failover on, as QEMU realized it."""

    id: str
    driver: str
    mac: str | None
    placement: Placement
    offered: bool | None  # STANDBY in the host features; None: x-query-virtio-status unavailable
    negotiated: bool | None  # STANDBY in the guest features; None: unavailable
    driver_ok: bool | None  # the guest driver set DRIVER_OK
    unknown_why: str | None  # why `negotiated` is None


@dataclass(frozen=True)
class LivePrimary:
    """A plugged device whose failover_pair_id names a standby."""

    id: str
    driver: str
    pair_id: str
    placement: Placement
    host: str | None  # vfio-pci `host`
    mac: str | None = None  # QOM `mac` (an emulated NIC); None for vfio-pci, whose MAC is the VF's admin MAC
    in_pci: bool | None = None  # listed by query-pci; None: query-pci not answered


@dataclass(frozen=True)
class LiveVm:
    """Everything the queries returned that `inspect` uses."""

    version: str
    runstate: str
    standbys: tuple[LiveStandby, ...]
    primaries: tuple[LivePrimary, ...]
    migration_status: str | None  # None: no migration since QEMU started
    capabilities: dict[str, bool]
    ports: frozenset[str] = frozenset()  # ids of the root and downstream ports (one slot each: device 0)
    migrated_out: bool = False  # this QEMU is the source of a completed migration (query-migrate's source stats)
    devices: tuple[tuple[str, str], ...] = ()  # (id, QOM type) of every device with an id (/machine/peripheral)

    def driver_of(self, device_id: str) -> str | None:
        """The QOM type of the device `device_id`; None: QEMU has no such device."""
        return next((driver for found, driver in self.devices if found == device_id), None)

    @property
    def migrating(self) -> bool:
        """A migration is under way (or the source finished one and stays paused)."""
        return self.migration_status in MIGRATING or self.runstate in ("inmigrate", "postmigrate", "finish-migrate")


@dataclass(frozen=True)
class LiveEvent:
    """A QMP event as QEMU sent it, validated: its name, data and timestamp (seconds since the epoch)."""

    name: str
    data: dict[str, object]
    seconds: float


@dataclass(frozen=True)
class Config:
    """The VM's own configuration as `lint` read it, or why it could not be read."""

    source: str | None
    lint: LintReport | None
    note: str | None
    facts: HostFacts = field(
        default_factory=HostFacts
    )  # what the host check read (VF admin MACs), for the per-pair rules


@dataclass(frozen=True)
class Migration:
    """What a migration started now would do to one pair."""

    unplugs: bool | None  # QEMU unplugs the primary at setup (UNPLUG_PRIMARY, wait-unplug); None: not known
    replugs: bool | None  # the destination plugs it back; None: the configuration is unknown
    why: str


@dataclass(frozen=True)
class PairState:
    """One standby, its primary (configured and live), and the verdict."""

    standby: LiveStandby
    primary_id: str | None  # the live primary's id, else the configured one's
    primary: LivePrimary | None  # the device QEMU holds; None: hidden, failed or removed
    plugged: bool  # in the guest's view: QEMU holds it and has not unplugged it for a migration
    configured_primary: str | None  # the primary the configuration names for this standby
    configured_at: Placement | None
    host: HostItem | None  # the host `check` of the configured primary's device
    migration: Migration
    checks: tuple[RuleResult, ...]  # lint's guest rules over the configuration scoped to this pair
    live_checks: tuple[RuleResult, ...]  # lint's slot-zero and mac-match over the pair as QEMU realized it
    verdict: PairVerdict
    reason: str
    runtime: bool = False  # the standby is not in the configuration (added at runtime): no configuration rules


@dataclass(frozen=True)
class OrphanPrimary:
    """A device whose failover_pair_id names no failover=on standby: no failover device listener hides it, and
    virtio_net_handle_migration_primary() (a standby's) never unplugs it for a migration."""

    primary: LivePrimary
    named: str | None  # the QOM type of the device its failover_pair_id names; None: QEMU has no such device
    reason: str
    verdict: PairVerdict = PairVerdict.NOT_CONFIGURED


@dataclass(frozen=True)
class InspectReport:
    """`inspect` of one VM."""

    target: str  # the socket path, or the libvirt domain's name
    pid: int | None  # the QEMU process behind the socket (None through libvirt)
    vm: LiveVm
    config: Config
    pairs: tuple[PairState, ...]
    via: str = "qmp"  # "qmp": target is a QMP socket; "domain": a libvirt domain, read through virsh
    orphans: tuple[OrphanPrimary, ...] = ()  # primaries of no failover=on standby

    @property
    def verdict(self) -> PairVerdict:
        """The worst over the pairs and the orphan primaries; not-configured when there is no pair."""
        found = {p.verdict for p in self.pairs} | {o.verdict for o in self.orphans}
        for worst in (PairVerdict.NOT_CONFIGURED, PairVerdict.STANDBY_ONLY, PairVerdict.UNDETERMINED):
            if worst in found:
                return worst
        return PairVerdict.ACTIVE if found else PairVerdict.NOT_CONFIGURED
