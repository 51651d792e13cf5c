"""QMP replies -> the live VM. No I/O: the replies come from a `Source` (the monitor, or a recording)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pcie_failover.inspect.model import STANDBY_FEATURE, LiveEvent, LivePrimary, LiveStandby, LiveVm, Placement
from pcie_failover.lint.qemu_parse import PORTS

PERIPHERAL = "/machine/peripheral"
# Everything `inspect` ever sends after the handshake: queries, nothing that changes the VM.
QUERIES = frozenset(
    {
        "query-version",
        "query-status",
        "query-migrate",
        "query-migrate-capabilities",
        "qom-list",
        "qom-get",
        "query-pci",
        "x-query-virtio-status",
    }
)


class QueryError(Exception):
    """QEMU answered a query with an error (its class and description)."""

    def __init__(self, error_class: str, desc: str) -> None:
        super().__init__(f"{error_class}: {desc}")
        self.error_class = error_class
        self.desc = desc


class ReplyError(Exception):
    """A reply is not what QEMU sends (a socket that is not QEMU, or a broken one): one line."""


class MonitorError(Exception):
    """The monitor cannot be reached (socket, or virsh), is not QEMU's, or hung up; the message is one line."""


class Idle(Exception):  # noqa: N818 (not an error: a wait that ended without an event)
    """No event arrived within the time `next_event` was given."""


class Source(Protocol):
    """Answers one query, or raises QueryError."""

    def ask(self, command: str, arguments: Mapping[str, object] | None = None) -> object:
        """The `return` value of `command`."""
        ...


class Session(Source, Protocol):
    """A live VM's monitor: qmp.Monitor (a QMP socket) or virsh.VirshMonitor (a libvirt domain)."""

    via: str  # how reports name the target: "qmp" (a socket path) or "domain" (a libvirt domain)
    path: str  # the target
    pid: int | None  # QEMU's pid, when known

    def open(self) -> None:
        """Connect; MonitorError otherwise."""
        ...

    def next_event(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next QMP event; None when the monitor (or event stream) closed; Idle when `timeout` seconds
        passed without one."""
        ...

    def pending_events(self) -> list[dict[str, Any]]:
        """The events received so far and not yet returned, oldest first; never waits."""
        ...

    def close(self) -> None:
        """Release the connection; safe to call twice."""
        ...


def key(command: str, arguments: Mapping[str, object] | None) -> str:
    """How a recording names one query."""
    return json.dumps([command, dict(arguments or {})], sort_keys=True)


@dataclass
class Recorder:
    """A source that keeps every reply (or error) it passes on, for fixtures."""

    source: Source
    replies: dict[str, Any] = field(default_factory=dict)

    def ask(self, command: str, arguments: Mapping[str, object] | None = None) -> object:
        """Ask `source` and keep the answer."""
        try:
            value = self.source.ask(command, arguments)
        except QueryError as error:
            self.replies[key(command, arguments)] = {"error": {"class": error.error_class, "desc": error.desc}}
            raise
        self.replies[key(command, arguments)] = {"return": value}
        return value


@dataclass(frozen=True)
class Replay:
    """A source answering from a recording."""

    replies: Mapping[str, Any]

    def ask(self, command: str, arguments: Mapping[str, object] | None = None) -> object:
        """The recorded answer; a query never recorded is QEMU's CommandNotFound."""
        reply = self.replies.get(key(command, arguments))
        if reply is None:
            raise QueryError("CommandNotFound", f"The command {command} has not been found")
        if "error" in reply:
            raise QueryError(reply["error"]["class"], reply["error"]["desc"])
        return reply["return"]


def _dict(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReplyError(f"{what}: the reply is not a JSON object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ReplyError(f"{what}: the reply is not a JSON array")
    return value


_JSON_TYPES = {
    bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "an object", list: "an array",
}  # fmt: skip


def _typed(value: object, kind: type, what: str, optional: bool = True) -> Any:
    """`value` when it is a `kind` (None when absent and `optional`); ReplyError for anything else."""
    if value is None and optional:
        return None
    if isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
        return value
    found = "missing" if value is None else _JSON_TYPES.get(type(value), "another JSON value")
    raise ReplyError(f"{what}: {found} where QEMU sends {_JSON_TYPES[kind]}")


def _must(source: Source, command: str, arguments: Mapping[str, object] | None = None) -> object:
    """A query every QEMU answers: an error reply is a ReplyError (the VM cannot be inspected)."""
    try:
        return source.ask(command, arguments)
    except QueryError as error:
        raise ReplyError(f"{command}: QEMU answered with an error: {error}") from None


def _get(source: Source, path: str, prop: str, kind: type) -> Any:
    """A QOM property of type `kind`, or None when QEMU has no such property (or device); ReplyError for a
    value of another type, null included (QEMU's qom-get answers with the property's own type)."""
    try:
        value = source.ask("qom-get", {"path": path, "property": prop})
    except QueryError:
        return None
    if value is None:
        raise ReplyError(f"qom-get {path} {prop}: null where QEMU sends {_JSON_TYPES[kind]}")
    return _typed(value, kind, f"qom-get {path} {prop}")


def _placement(source: Source, path: str) -> Placement:
    """`parent_bus` (`/machine/peripheral/rp1/rp1` -> `rp1`, `/machine/q35/pcie.0` -> `pcie.0`) and `addr` (devfn)."""
    bus = _get(source, path, "parent_bus", str)
    devfn = _get(source, path, "addr", int)
    if devfn is not None and not 0 <= devfn <= 0xFF:
        raise ReplyError(f"qom-get {path} addr: {devfn} is not a devfn (0 to 255)")
    return Placement(
        None if bus is None else bus.rstrip("/").rsplit("/", 1)[-1],
        None if devfn is None else devfn >> 3,
        None if devfn is None else devfn & 7,
    )


def _features(status: dict[str, Any], which: str) -> list[str]:
    what = f"x-query-virtio-status {which}"
    block = _dict(status.get(which, {}), what)
    return [_typed(n, str, what, optional=False) for n in _list(block.get("dev-features", []), what)]


def _has_standby(names: list[str]) -> bool:
    return any(n.split(":", 1)[0] == STANDBY_FEATURE for n in names)


def unknown_negotiation(error: QueryError) -> str:
    """Why negotiation is unknown, from QEMU's refusal of x-query-virtio-status (one behaviour: never inferred)."""
    if "disabled by policy" in error.desc:  # qapi/qmp-dispatch.c: -compat unstable-input=reject
        return (
            "QEMU refuses the unstable x-query-virtio-status under -compat unstable-input=reject "
            f"({error.desc}), and inspect does not guess"
        )
    if error.error_class == "CommandNotFound":
        return f"this QEMU has no x-query-virtio-status (it came in 7.2): {error.desc}"
    return f"x-query-virtio-status failed: {error}"


def _standby(source: Source, device_id: str, driver: str) -> LiveStandby:
    path = f"{PERIPHERAL}/{device_id}"
    offered = negotiated = driver_ok = None
    why = None
    try:
        reply = source.ask("x-query-virtio-status", {"path": f"{path}/virtio-backend"})
    except QueryError as error:
        why = unknown_negotiation(error)
    else:
        status = _dict(reply, "x-query-virtio-status")
        offered = _has_standby(_features(status, "host-features"))
        negotiated = _has_standby(_features(status, "guest-features"))
        block = _dict(status.get("status", {}), "x-query-virtio-status status")
        statuses = _list(block.get("statuses", []), "x-query-virtio-status status")
        names = [_typed(s, str, "x-query-virtio-status status", optional=False) for s in statuses]
        driver_ok = any(s.startswith("VIRTIO_CONFIG_S_DRIVER_OK") for s in names)
    return LiveStandby(
        id=device_id,
        driver=driver,
        mac=_get(source, path, "mac", str),
        placement=_placement(source, path),
        offered=offered,
        negotiated=negotiated,
        driver_ok=driver_ok,
        unknown_why=why,
    )


def _children(source: Source) -> list[tuple[str, str]]:
    """(id, QOM type) of every device with an id: `child<TYPE>` entries of /machine/peripheral."""
    found = []
    for entry in _list(_must(source, "qom-list", {"path": PERIPHERAL}), "qom-list"):
        item = _dict(entry, "qom-list entry")
        name = _typed(item.get("name"), str, "qom-list entry name", optional=False)
        kind = _typed(item.get("type"), str, "qom-list entry type", optional=False)
        if name and kind.startswith("child<") and kind.endswith(">"):
            found.append((name, kind[6:-1]))
    return found


def _pci_ids(reply: object) -> frozenset[str]:
    """The `qdev_id` of every device query-pci lists, behind bridges and ports included."""
    found: set[str] = set()
    pending = list(_list(reply, "query-pci"))
    while pending:
        bus = _dict(pending.pop(), "query-pci bus")
        for entry in _list(bus.get("devices", []), "query-pci devices"):
            device = _dict(entry, "query-pci device")
            qdev_id = _typed(device.get("qdev_id"), str, "query-pci qdev_id")
            if qdev_id:
                found.add(qdev_id)
            bridge = device.get("pci_bridge")
            if bridge is not None:
                below = _dict(bridge, "query-pci pci_bridge").get("devices")
                if below is not None:
                    pending.append({"devices": below})
    return frozenset(found)


def _capabilities(reply: object) -> dict[str, bool]:
    what = "query-migrate-capabilities"
    found: dict[str, bool] = {}
    for entry in _list(reply, what):
        item = _dict(entry, f"{what} entry")
        name = _typed(item.get("capability"), str, f"{what} capability", optional=False)
        found[name] = _typed(item.get("state"), bool, f"{what} {name} state", optional=False)
    return found


# query-migrate's members that only the source of a migration fills (migration.c fill_source_migration_info())
SOURCE_STATS = ("total-time", "ram", "downtime", "setup-time")


def read_vm(source: Source) -> LiveVm:
    """Ask QEMU (queries only) for its version, run state, failover devices, PCI devices and migration."""
    version = _dict(_must(source, "query-version"), "query-version")
    qemu = version.get("qemu")
    if not isinstance(qemu, dict):
        raise ReplyError("query-version: no `qemu` version in the reply")
    parts = [_typed(qemu.get(part), int, f"query-version {part}", optional=False) for part in ("major", "minor")]
    micro = _typed(qemu.get("micro"), int, "query-version micro")
    text = ".".join(str(part) for part in (*parts, "?" if micro is None else micro))
    status = _dict(_must(source, "query-status"), "query-status")
    runstate = _typed(status.get("status"), str, "query-status status", optional=False)
    standbys: list[LiveStandby] = []
    found: list[tuple[str, str, str, Placement, str | None, str | None]] = []
    children = _children(source)
    for device_id, driver in children:
        path = f"{PERIPHERAL}/{device_id}"
        if driver.startswith("virtio-net-pci") and _get(source, path, "failover", bool) is True:
            standbys.append(_standby(source, device_id, driver))
            continue
        pair_id = _get(source, path, "failover_pair_id", str)
        if pair_id:
            host = _get(source, path, "host", str) if driver == "vfio-pci" else None
            mac = None if driver == "vfio-pci" else _get(source, path, "mac", str)
            found.append((device_id, driver, pair_id, _placement(source, path), host, mac))
    migrate = _dict(_must(source, "query-migrate"), "query-migrate")
    migration_status = _typed(migrate.get("status"), str, "query-migrate status")
    pci: frozenset[str] | None = None
    if found:
        try:
            pci = _pci_ids(source.ask("query-pci"))
        except QueryError:
            pci = None
    primaries = [
        LivePrimary(device_id, driver, pair_id, at, host, mac, None if pci is None else device_id in pci)
        for device_id, driver, pair_id, at, host, mac in found
    ]
    capabilities = _capabilities(_must(source, "query-migrate-capabilities"))  # the last query of a reading
    return LiveVm(
        version=text,
        runstate=runstate,
        standbys=tuple(standbys),
        primaries=tuple(primaries),
        migration_status=migration_status,
        capabilities=capabilities,
        ports=frozenset(device_id for device_id, driver in children if driver in PORTS),
        migrated_out=migration_status == "completed" and any(k in migrate for k in SOURCE_STATS),
        devices=tuple(children),
    )


def read_event(raw: object) -> LiveEvent:
    """One QMP event as QEMU sends it (`event`, `data`, `timestamp` {seconds, microseconds}); ReplyError else."""
    event = _dict(raw, "QMP event")
    name = _typed(event.get("event"), str, "QMP event name", optional=False)
    data = _dict(event.get("data", {}), f"QMP event {name} data")
    stamp = _dict(event.get("timestamp"), f"QMP event {name} timestamp")
    seconds = _typed(stamp.get("seconds"), int, f"QMP event {name} timestamp seconds", optional=False)
    micros = _typed(stamp.get("microseconds"), int, f"QMP event {name} timestamp microseconds", optional=False)
    if seconds < -1 or not -1 <= micros < 1_000_000:  # QEMU sends -1/-1 when the clock cannot be read
        raise ReplyError(f"QMP event {name}: timestamp {seconds}.{micros} is not one QEMU sends")
    return LiveEvent(name, data, seconds + micros / 1e6)
