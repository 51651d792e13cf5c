"""The registry directory: one `<name>.json` per pair, root-owned, written atomically under a lock."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from pcie_failover.adapters.files import SafeDirectory, UnsafePathError
from pcie_failover.audit.record import PairRecord, RecordError, from_json, validate_name
from pcie_failover.model import bounded_json

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

    def save(self, record: PairRecord, replace: bool = False) -> str:
        """Write a record (checked as `load` will check it); refuses to overwrite unless `replace`. Returns its path."""
        document = record.to_json()
        from_json(document)
        name = f"{validate_name(record.name)}.json"
        data = (json.dumps(document, indent=2) + "\n").encode()
        with SafeDirectory.open(self.directory, create=True) as directory, directory.lock():
            if directory.lstat(name) is not None and not replace:
                raise RecordError(f"pair {record.name!r} is already registered ({directory.join(name)}); use --replace")
            directory.atomic_write(name, lambda out: out.write(data), 0o644)
            return directory.join(name)

    def remove(self, name: str) -> None:
        """Delete a record."""
        entry = f"{validate_name(name)}.json"
        with SafeDirectory.open(self.directory) as directory, directory.lock():
            directory.check_target(entry)
            if not directory.unlink(entry):
                raise RecordError(f"no pair {name!r} in {self.directory}")

    def load(self) -> Loaded:
        """Every record; UnsafePathError for an unsafe directory; a file that is unsafe or malformed is reported."""
        if not os.path.lexists(self.directory):
            return Loaded((), ())
        with SafeDirectory.open(self.directory) as directory:
            return _load(directory)


def _load(directory: SafeDirectory) -> Loaded:
    records: list[PairRecord] = []
    problems: list[str] = []
    for entry in directory.names():
        if not entry.endswith(".json") or entry.startswith("."):
            continue
        try:
            record = from_json(bounded_json.loads(directory.read_bounded(entry, RECORD_LIMIT)))
        except UnsafePathError as error:
            problems.append(str(error))  # it names the file already
            continue
        except OSError as error:
            problems.append(f"{directory.join(entry)}: {error.strerror or error}")
            continue
        except ValueError as error:
            problems.append(f"{directory.join(entry)}: {error}")
            continue
        if f"{record.name}.json" != entry:
            problems.append(f"{directory.join(entry)}: holds pair {record.name!r}, not {entry[:-5]!r}")
            continue
        records.append(record)
    return Loaded(tuple(records), tuple(problems))
