"""QMP replies -> the live VM. No I/O: the replies come from a `Source` (the monitor, or a recording)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pcie_failover.inspect.model import STANDBY_FEATURE, LivePrimary, LiveStandby, LiveVm, Placement
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

    def next_event(self) -> dict[str, Any] | None:
        """The next QMP event; None when the monitor (or event stream) closed."""
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


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _must(source: Source, command: str, arguments: Mapping[str, object] | None = None) -> object:
    """A query every QEMU answers: an error reply is a ReplyError (the VM cannot be inspected)."""
    try:
        return source.ask(command, arguments)
    except QueryError as error:
        raise ReplyError(f"{command}: QEMU answered with an error: {error}") from None


def _get(source: Source, path: str, prop: str) -> object:
    """A QOM property, or None when QEMU has no such property (or device)."""
    try:
        return source.ask("qom-get", {"path": path, "property": prop})
    except QueryError:
        return None


def _placement(source: Source, path: str) -> Placement:
    """`parent_bus` (`/machine/peripheral/rp1/rp1` -> `rp1`, `/machine/q35/pcie.0` -> `pcie.0`) and `addr` (devfn)."""
    bus = _str(_get(source, path, "parent_bus"))
    devfn = _get(source, path, "addr")
    number = devfn if isinstance(devfn, int) and not isinstance(devfn, bool) and devfn >= 0 else None
    return Placement(
        None if bus is None else bus.rstrip("/").rsplit("/", 1)[-1],
        None if number is None else number >> 3,
        None if number is None else number & 7,
    )


def _features(status: dict[str, Any], which: str) -> list[str]:
    block = status.get(which)
    names = block.get("dev-features") if isinstance(block, dict) else None
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _has_standby(names: list[str]) -> bool:
    return any(n.split(":", 1)[0] == STANDBY_FEATURE for n in names)


def _standby(source: Source, device_id: str, driver: str) -> LiveStandby:
    path = f"{PERIPHERAL}/{device_id}"
    offered = negotiated = driver_ok = None
    why = None
    try:
        status = _dict(source.ask("x-query-virtio-status", {"path": f"{path}/virtio-backend"}), "x-query-virtio-status")
    except QueryError as error:
        why = (
            f"QEMU refused x-query-virtio-status (it needs 7.2 or later, without -compat unstable-input=reject): "
            f"{error.desc}"
            if error.error_class == "CommandNotFound"
            else f"x-query-virtio-status failed: {error}"
        )
    else:
        offered = _has_standby(_features(status, "host-features"))
        negotiated = _has_standby(_features(status, "guest-features"))
        statuses = status.get("status", {}).get("statuses", []) if isinstance(status.get("status"), dict) else []
        driver_ok = any(isinstance(s, str) and s.startswith("VIRTIO_CONFIG_S_DRIVER_OK") for s in statuses)
    return LiveStandby(
        id=device_id,
        driver=driver,
        mac=_str(_get(source, path, "mac")),
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
        kind = _str(entry.get("type")) if isinstance(entry, dict) else None
        name = _str(entry.get("name")) if isinstance(entry, dict) else None
        if name and kind and kind.startswith("child<") and kind.endswith(">"):
            found.append((name, kind[6:-1]))
    return found


def read_vm(source: Source) -> LiveVm:
    """Ask QEMU (queries only) for its version, run state, failover devices and migration."""
    version = _dict(_must(source, "query-version"), "query-version")
    qemu = version.get("qemu")
    if not isinstance(qemu, dict):
        raise ReplyError("query-version: no `qemu` version in the reply")
    text = ".".join(str(qemu.get(part, "?")) for part in ("major", "minor", "micro"))
    runstate = _str(_dict(_must(source, "query-status"), "query-status").get("status")) or "unknown"
    standbys: list[LiveStandby] = []
    primaries: list[LivePrimary] = []
    children = _children(source)
    for device_id, driver in children:
        path = f"{PERIPHERAL}/{device_id}"
        if driver.startswith("virtio-net-pci"):
            if _get(source, path, "failover") is True:
                standbys.append(_standby(source, device_id, driver))
            continue
        pair_id = _str(_get(source, path, "failover_pair_id"))
        if pair_id:
            host = _str(_get(source, path, "host")) if driver == "vfio-pci" else None
            primaries.append(LivePrimary(device_id, driver, pair_id, _placement(source, path), host))
    migrate = _dict(_must(source, "query-migrate"), "query-migrate")
    capabilities = {
        c["capability"]: c["state"] is True
        for c in _list(_must(source, "query-migrate-capabilities"), "query-migrate-capabilities")
        if isinstance(c, dict) and isinstance(c.get("capability"), str)
    }
    return LiveVm(
        version=text,
        runstate=runstate,
        standbys=tuple(standbys),
        primaries=tuple(primaries),
        migration_status=_str(migrate.get("status")),
        capabilities=capabilities,
        ports=frozenset(device_id for device_id, driver in children if driver in PORTS),
    )
