"""Undo records, one per VF, under /var/lib/pcie-failover/prepare: written atomically, under the directory's lock.

The directory must be owned by root (or this user) and not writable by others, and is never reached through
a link (adapters/files.py); a record is read only when it is a regular file of bounded size, and every field
is validated, so a planted file can name no other path, driver or device than a real record could.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any

from pcie_failover.adapters.files import SafeDirectory, UnsafePathError
from pcie_failover.model import bounded_json
from pcie_failover.model.address import InputError, MacAddress, PciAddress, validate_ifname
from pcie_failover.prepare.model import GroupMemberState, Persist, UndoRecord

STATE_DIR = "/var/lib/pcie-failover/prepare"
RECORD_LIMIT = 64 * 1024
PREVIOUS_LIMIT = RECORD_LIMIT // 2  # bytes (UTF-8) of a rule file a record keeps, so the record fits RECORD_LIMIT
VERSION = 1
_DRIVER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_ORIGINS = ("admin", "vf-driver", "unproven", "zero")


class RecordError(Exception):
    """An undo record that cannot be used (unsafe, malformed); the message names it."""


def record_name(address: str) -> str:
    """`0000:5e:00.2.json`: from a parsed address only."""
    return f"{PciAddress.parse(address)}.json"


def _driver(value: object, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DRIVER.fullmatch(value):
        raise RecordError(f"{what} is not a driver name")
    return value


def _flag(value: object, what: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise RecordError(f"{what} is not true, false or null")


def _address(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"{what} is not a PCI address")
    try:
        return str(PciAddress.parse(value))
    except InputError as error:
        raise RecordError(f"{what}: {error}") from None


def _persist(value: object) -> Persist | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("kind") not in ("udev", "driverctl"):
        raise RecordError("persist is not a udev or driverctl record")
    path, previous = value.get("path"), value.get("previous")
    if value["kind"] == "udev":
        if not isinstance(path, str) or not re.fullmatch(
            r"/etc/udev/rules\.d/70-pcie-failover-[0-9a-f:.]+\.rules", path
        ):
            raise RecordError("persist.path is not a rule file prepare writes")
        if previous is not None and (not isinstance(previous, str) or len(previous.encode()) > PREVIOUS_LIMIT):
            raise RecordError(f"persist.previous is not text of at most {PREVIOUS_LIMIT} bytes")
        mode = value.get("previous_mode")
        if mode is not None and (
            not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o777 or previous is None
        ):
            raise RecordError("persist.previous_mode is not the permission bits of a previous rule")
        return Persist("udev", path, previous, mode)
    return Persist("driverctl")


def from_json(data: Any, address: str) -> UndoRecord:
    """A validated record; RecordError names the first bad field."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise RecordError(f"not a version {VERSION} undo record")
    device = _address(data.get("device"), "device")
    if device != address:
        raise RecordError(f"the record names {device}, not {address}")
    pf = data.get("pf_netdev")
    index = data.get("vf_index")
    try:
        pf = validate_ifname(pf if isinstance(pf, str) else "")
        admin_mac = data.get("admin_mac")
        mac = str(MacAddress.parse(admin_mac if isinstance(admin_mac, str) else ""))
    except InputError as error:
        raise RecordError(str(error)) from None
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 65536:
        raise RecordError("vf_index is not a VF index")
    if data.get("mac_origin") not in _ORIGINS:
        raise RecordError("mac_origin is not one of " + ", ".join(_ORIGINS))
    group = data.get("group", [])
    if not isinstance(group, list) or len(group) > 256:
        raise RecordError("group is not a list of members")
    members = []
    for i, member in enumerate(group):
        if not isinstance(member, dict):
            raise RecordError(f"group[{i}] is not a member")
        members.append(
            GroupMemberState(
                _address(member.get("device"), f"group[{i}].device"),
                _driver(member.get("driver"), f"group[{i}].driver"),
                _driver(member.get("driver_override"), f"group[{i}].driver_override"),
            )
        )
    return UndoRecord(
        device=device,
        pf_netdev=pf,
        vf_index=index,
        driver=_driver(data.get("driver"), "driver"),
        driver_override=_driver(data.get("driver_override"), "driver_override"),
        admin_mac=mac,
        mac_origin=str(data["mac_origin"]),
        spoofchk=_flag(data.get("spoofchk"), "spoofchk"),
        trust=_flag(data.get("trust"), "trust"),
        persist=_persist(data.get("persist")),
        group=tuple(members),
    )


def to_json(record: UndoRecord) -> dict[str, Any]:
    """The record as stored."""
    persist = record.persist
    return {
        "version": VERSION,
        "device": record.device,
        "pf_netdev": record.pf_netdev,
        "vf_index": record.vf_index,
        "driver": record.driver,
        "driver_override": record.driver_override,
        "admin_mac": record.admin_mac,
        "mac_origin": record.mac_origin,
        "spoofchk": record.spoofchk,
        "trust": record.trust,
        "persist": None
        if persist is None
        else {
            "kind": persist.kind,
            "path": persist.path,
            "previous": persist.previous,
            "previous_mode": persist.previous_mode,
        },
        "group": [
            {"device": m.address, "driver": m.driver, "driver_override": m.driver_override} for m in record.group
        ],
    }


def encode(record: UndoRecord) -> bytes:
    """The record as written."""
    return (json.dumps(to_json(record), indent=2, sort_keys=True) + "\n").encode()


def oversize(record: UndoRecord) -> str | None:
    """Why the record could not be kept (larger than --undo reads), or None."""
    size = len(encode(record))
    if size <= RECORD_LIMIT:
        return None
    previous = record.persist.path if record.persist is not None else None
    what = f": {previous}, which it keeps to restore, is too large" if previous else ""
    return f"the undo record would be {size} bytes, more than the {RECORD_LIMIT} --undo reads{what}"


def _make(path: str) -> None:
    """Create the state directory (see UndoStore.opened); an entry already there is left for the open to judge."""
    parent = os.path.dirname(os.path.normpath(path)) or "."
    try:
        if os.path.normpath(path) == STATE_DIR:
            os.makedirs(path, mode=0o755, exist_ok=True)
        elif not os.path.isdir(parent):
            raise UnsafePathError(f"{path}: its parent {parent} does not exist (prepare makes only the directory)")
        else:
            os.mkdir(path, 0o755)
    except FileExistsError:
        return
    except OSError as error:
        raise UnsafePathError(f"cannot create {path}: {error.strerror or error}") from None


class UndoStore:
    """The records in one directory, used while its lock is held (see `opened`)."""

    def __init__(self, directory: SafeDirectory) -> None:
        self.directory = directory

    @classmethod
    @contextlib.contextmanager
    def opened(cls, path: str = STATE_DIR, create: bool = False) -> Iterator[UndoStore | None]:
        """The store, locked for the whole run; None when it does not exist and `create` is off.

        `create` makes the directory (0755) when a record is about to be written: only the directory itself, whose
        parent must exist, except under the default /var/lib/pcie-failover, which is made too.
        """
        try:
            if create:
                _make(path)
            with SafeDirectory.open(path) as directory, directory.lock():
                yield cls(directory)
        except UnsafePathError as error:
            if not create and str(error).endswith("does not exist"):
                yield None
                return
            raise RecordError(str(error)) from None

    def path(self, address: str) -> str:
        return self.directory.join(record_name(address))

    def load(self, address: str) -> UndoRecord | None:
        """The VF's record, or None when there is none."""
        name = record_name(address)
        if self.directory.lstat(name) is None:
            return None
        try:
            data = bounded_json.loads(self.directory.read_bounded(name, RECORD_LIMIT))
        except (UnsafePathError, OSError) as error:
            raise RecordError(f"{self.directory.join(name)}: {error}") from None
        except ValueError as error:
            raise RecordError(f"{self.directory.join(name)}: not valid JSON ({error})") from None
        try:
            return from_json(data, str(PciAddress.parse(address)))
        except RecordError as error:
            raise RecordError(f"{self.directory.join(name)}: {error}") from None

    def save(self, record: UndoRecord) -> str:
        """Write the record atomically (mode 0600); returns its path."""
        name = record_name(record.device)
        too_large = oversize(record)
        if too_large is not None:
            raise RecordError(f"cannot write {self.directory.join(name)}: {too_large}")
        data = encode(record)

        def write(out: Any) -> None:
            out.write(data)

        try:
            self.directory.atomic_write(name, write, 0o600)
        except (UnsafePathError, OSError) as error:
            raise RecordError(f"cannot write {self.directory.join(name)}: {error}") from None
        return self.directory.join(name)

    def remove(self, address: str) -> bool:
        """Remove the VF's record; False when there was none."""
        name = record_name(address)
        try:
            self.directory.check_target(name)
            return self.directory.unlink(name)
        except (UnsafePathError, OSError) as error:
            raise RecordError(f"cannot remove {self.directory.join(name)}: {error}") from None
