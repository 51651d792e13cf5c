"""The registry directory: one `<name>.json` per pair, root-owned, written atomically under a lock."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from pcie_failover.adapters.files import SafeDirectory, UnsafePathError
from pcie_failover.audit.record import PairRecord, RecordError, from_json, validate_name
from pcie_failover.model import bounded_json

RECORD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Loaded:
    """The records that parsed, and one line for each file that did not."""

    records: tuple[PairRecord, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Saved:
    """Where the record was written, and the other pairs that have the same primary (allowed by `shared_ok`)."""

    path: str
    shared_with: tuple[str, ...]


def quoted_pairs(names: tuple[str, ...]) -> str:
    """`pair 'a'` or `pairs 'a', 'b'`, for messages."""
    return ("pair " if len(names) == 1 else "pairs ") + ", ".join(repr(name) for name in names)


class Registry:
    """A directory of pair records; `required`: named by the user, so its absence is a problem, not "no pairs"."""

    def __init__(self, directory: str, required: bool = False) -> None:
        self.directory = directory
        self.required = required

    def path(self, name: str) -> str:
        """Where the record of pair `name` is, for messages."""
        return os.path.join(self.directory, f"{name}.json")

    def save(
        self,
        record: PairRecord,
        *,
        replace: bool,
        same_primary: Callable[[PairRecord], bool],
        shared_ok: bool,
    ) -> Saved:
        """Write a record (checked as `load` will check it), under the lock.

        Refuses to overwrite a pair of that name unless `replace`, and to give another pair's
        primary (`same_primary` of that pair's record) to this one unless `shared_ok`.
        """
        document = record.to_json()
        from_json(document)
        name = f"{validate_name(record.name)}.json"
        data = (json.dumps(document, indent=2) + "\n").encode()
        with SafeDirectory.open(self.directory, create=True) as directory, directory.lock():
            if directory.lstat(name) is not None and not replace:
                raise RecordError(f"pair {record.name!r} is already registered ({directory.join(name)}); use --replace")
            others = tuple(r.name for r in _load(directory).records if r.name != record.name and same_primary(r))
            if others and not shared_ok:
                raise RecordError(
                    f"{record.primary.bdf} is already the primary of {quoted_pairs(others)} (one VF serves one VM):"
                    " unregister it, or register with --force"
                )
            directory.atomic_write(name, lambda out: out.write(data), 0o644)
            return Saved(directory.join(name), others)

    def remove(self, name: str) -> None:
        """Delete a record."""
        entry = f"{validate_name(name)}.json"
        with SafeDirectory.open(self.directory) as directory, directory.lock():
            directory.check_target(entry)
            if not directory.unlink(entry):
                raise RecordError(f"no pair {name!r} in {self.directory}")

    def load(self) -> Loaded:
        """Every record; UnsafePathError for an unsafe directory; a file that is unsafe or malformed is reported.

        A directory that does not exist holds no pairs; when `required` that is reported too.
        """
        if not os.path.lexists(self.directory):
            missing = f"{self.directory} does not exist: no pair is audited"
            return Loaded((), (missing,) if self.required else ())
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
