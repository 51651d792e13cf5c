"""The registry directory: one `<name>.json` per pair, root-owned, written atomically under a lock."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from pcie_failover.adapters.files import (
    UnsafePathError,
    atomic_write,
    check_file,
    ensure_directory,
    locked,
    read_bounded,
)
from pcie_failover.audit.record import PairRecord, RecordError, from_json, validate_name

DEFAULT_REGISTRY = "/etc/pcie-failover/pairs.d"
RECORD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Loaded:
    """The records that parsed, and one line for each file that did not."""

    records: tuple[PairRecord, ...]
    problems: tuple[str, ...]


class Registry:
    """A directory of pair records."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, f"{validate_name(name)}.json")

    def save(self, record: PairRecord, replace: bool = False) -> str:
        """Write a record; refuses to overwrite unless `replace`. Returns its path."""
        ensure_directory(self.directory)
        path = self._path(record.name)
        with locked(self.directory):
            if os.path.lexists(path) and not replace:
                raise RecordError(f"pair {record.name!r} is already registered ({path}); use --replace")
            atomic_write(path, (json.dumps(record.to_json(), indent=2) + "\n").encode(), 0o644)
        return path

    def remove(self, name: str) -> None:
        """Delete a record."""
        path = self._path(name)
        with locked(self.directory):
            check_file(path)
            try:
                os.unlink(path)
            except FileNotFoundError:
                raise RecordError(f"no pair {name!r} in {self.directory}") from None

    def load(self) -> Loaded:
        """Every record; a file that cannot be trusted or parsed is reported, not fatal."""
        if not os.path.isdir(self.directory):
            return Loaded((), ())
        records: list[PairRecord] = []
        problems: list[str] = []
        for entry in sorted(os.listdir(self.directory)):
            if not entry.endswith(".json") or entry.startswith("."):
                continue
            path = os.path.join(self.directory, entry)
            try:
                check_file(path)
                record = from_json(json.loads(read_bounded(path, RECORD_LIMIT)))
            except (UnsafePathError, RecordError, OSError, ValueError) as error:
                problems.append(f"{path}: {error}")
                continue
            if f"{record.name}.json" != entry:
                problems.append(f"{path}: holds pair {record.name!r}, not {entry[:-5]!r}")
                continue
            records.append(record)
        return Loaded(tuple(records), tuple(problems))
