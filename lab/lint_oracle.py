"""QEMU as the oracle of `lint`: run every corpus configuration in QEMU 10 with a real guest.

    python -m lab.lint_oracle              # refresh tests/lint_corpus/outcomes.json (about 8-11 minutes)
    python -m lab.lint_oracle good-classic # only these (merged into the outcomes file)

Each `tests/lint_corpus/*.args` file is appended to a small q35 guest (the failover
initramfs of lab/failover.py; its `-machine` replaces the guest's). Recorded per config:
whether QEMU refused to start and with which message, QEMU's warnings, the guest's
net_failover registrations (master, standby, primary) and, for a config that pairs, a
migration to a second QEMU started with `-incoming`: `UNPLUG_PRIMARY`, `completed`,
`FAILOVER_NEGOTIATED` and whether the destination guest registers its primary again.
Boots run two at a time; migrations (two guests each) one at a time.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lab import failover
from lab.capture import CACHE, REPO, prepare
from lab.guest import Guest, GuestError
from lab.install import QEMU, Kernel, LabUnavailableError
from lab.qmp import Event
from pcie_failover.lint.qemu_words import split_command

CORPUS = REPO / "tests" / "lint_corpus"
OUTCOMES = CORPUS / "outcomes.json"
BOOT, PLUG, MIGRATE, REPLUG = 90.0, 20.0, 180.0, 60.0
_PREFIX = f"{QEMU}: "


@dataclass(frozen=True)
class OracleEnv:
    """The guest kernel and the failover initramfs."""

    kernel: Kernel
    initrd: Path


@dataclass(frozen=True)
class Config:
    """One corpus entry: its name, text, QEMU machine and the other arguments."""

    name: str
    text: str
    machine: str
    args: tuple[str, ...]

    @classmethod
    def load(cls, path: Path) -> Config:
        """Read `path`; its `-machine` becomes the guest's machine."""
        text = path.read_text()
        words = list(split_command(text).words)
        machine = "q35"
        if "-machine" in words:
            at = words.index("-machine")
            machine = words[at + 1]
            del words[at : at + 2]
        return cls(path.stem, text, machine, tuple(words))

    @property
    def digest(self) -> str:
        """sha256 of the corpus text: the test refuses outcomes recorded for another text."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def _guest(config: Config, workdir: Path, env: OracleEnv, extra: tuple[str, ...] = ()) -> Guest:
    spec = failover.spec(f"lint-{config.name}", workdir, env.kernel, env.initrd, [*config.args, *extra])
    return Guest(dataclasses.replace(spec, machine=config.machine, start_timeout=20.0))


def qemu_messages(log: str, args: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """QEMU's errors and warnings in its log, without the `-device VALUE: ` prefix that names the option."""
    options = [f"{option} {value}: " for option, value in itertools.pairwise(args)]
    errors: list[str] = []
    warnings: list[str] = []
    for line in log.splitlines():
        if not line.startswith(_PREFIX):
            continue
        rest = line.removeprefix(_PREFIX)
        rest = next((rest.removeprefix(o) for o in options if rest.startswith(o)), rest)
        if rest.startswith("warning: "):
            warnings.append(rest.removeprefix("warning: "))
        else:
            errors.append(rest)
    return errors, warnings


def _log(guest: Guest) -> str:
    path = guest.qemu_log
    return path.read_text(errors="replace") if path.exists() else ""


def _serial(guest: Guest) -> str:
    path = guest.spec.serial_log
    return path.read_text(errors="replace") if path.exists() else ""


def _registrations(serial: str) -> dict[str, str | None]:
    patterns = {"master": failover.MASTER, "standby": failover.STANDBY, "primary": failover.PRIMARY}
    found = {role: re.search(pattern, serial) for role, pattern in patterns.items()}
    return {role: match[1] if match else None for role, match in found.items()}


def _registered(guest: Guest) -> dict[str, str | None]:
    """After the init is ready, give a hidden primary PLUG seconds to be plugged and registered."""
    guest.wait_for(failover.READY, timeout=BOOT)
    deadline = time.monotonic() + PLUG
    while _registrations(_serial(guest))["primary"] is None and time.monotonic() < deadline:
        time.sleep(0.5)
    return _registrations(_serial(guest))


def boot(config: Config, env: OracleEnv, workdir: Path) -> dict[str, Any]:
    """Start the config; record a refusal, or what the guest registered."""
    guest = _guest(config, workdir, env)
    record: dict[str, Any] = {"digest": config.digest, "machine": config.machine}
    try:
        with guest:
            roles = _registered(guest)
    except GuestError as error:
        errors, warnings = qemu_messages(_log(guest), config.args)
        if not errors:
            raise GuestError(f"{config.name}: {error}") from error
        record.update(started=False, refused=errors[0], qemu_warnings=warnings)
        return record
    paired = all(roles.values()) and len(set(roles.values())) == 3
    warnings = qemu_messages(_log(guest), config.args)[1]
    record.update(started=True, refused=None, qemu_warnings=warnings, guest=roles, paired=paired)
    return record


def _status(value: str) -> Callable[[Event], bool]:
    def where(event: Event) -> bool:
        data = event.get("data")
        return isinstance(data, dict) and data.get("status") == value

    return where


def migrate(config: Config, env: OracleEnv, workdir: Path) -> dict[str, Any]:
    """Boot the config, migrate it to a second QEMU, and see whether the destination gets its primary back."""
    socket = workdir / "migrate.sock"
    source = _guest(config, workdir / "src", env)
    target = _guest(config, workdir / "dst", env, ("-incoming", f"unix:{socket}"))
    result: dict[str, Any] = {"unplug_primary": None, "completed": False, "failover_negotiated": None}
    with source, target:
        if _registered(source)["primary"] is None:
            return result
        for guest in (source, target):
            guest.qmp.execute("migrate-set-capabilities", {"capabilities": [{"capability": "events", "state": True}]})
        source.qmp.execute("migrate-set-parameters", {"max-bandwidth": 1 << 34})
        source.qmp.execute("migrate", {"uri": f"unix:{socket}"})
        try:
            source.qmp.wait_event("MIGRATION", timeout=MIGRATE, where=_status("completed"))
            result["completed"] = True
        except TimeoutError:
            return result
        unplugs = [e for e in source.qmp.events() if e["event"] == "UNPLUG_PRIMARY"]
        result["unplug_primary"] = [e["data"] for e in unplugs] or None
        try:
            result["failover_negotiated"] = target.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=REPLUG)["data"]
        except TimeoutError:
            result["failover_negotiated"] = None
        wanted = len(re.findall(failover.PRIMARY, _serial(source)))  # one per pair that was plugged
        deadline = time.monotonic() + REPLUG
        while len(re.findall(failover.PRIMARY, _serial(target))) < wanted and time.monotonic() < deadline:
            time.sleep(0.5)
        result["primary_back"] = len(re.findall(failover.PRIMARY, _serial(target))) >= wanted
    return result


def outcome(record: dict[str, Any]) -> str:
    """refused, unpaired, lost-primary (migrated without an unplug and re-plug) or works."""
    if not record["started"]:
        return "refused"
    if not record["paired"]:
        return "unpaired"
    migration = record.get("migration") or {}
    works = migration.get("completed") and migration.get("unplug_primary") and migration.get("primary_back")
    return "works" if works else "lost-primary"


def refresh(names: list[str], jobs: int) -> int:
    """Run the named configs (all when empty) and merge their records into the outcomes file."""
    paths = sorted(CORPUS.glob("*.args"))
    unknown = set(names) - {p.stem for p in paths}
    if unknown:
        print(f"not in {CORPUS}: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    parts = prepare()
    env = OracleEnv(parts.kernel, failover.build_initramfs(parts.kernel, parts.cache))
    configs = [Config.load(p) for p in paths if not names or p.stem in names]
    work = CACHE / "lint-oracle"
    shutil.rmtree(work, ignore_errors=True)
    started = time.monotonic()

    def one(config: Config) -> tuple[str, dict[str, Any]]:
        record = boot(config, env, work / config.name)
        print(f"{config.name}: {'refused' if not record['started'] else record['paired']}", file=sys.stderr)
        return config.name, record

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        records = dict(pool.map(one, configs))
    for config in configs:
        record = records[config.name]
        if record.get("paired"):
            record["migration"] = migrate(config, env, work / config.name / "migration")
            print(f"{config.name}: migration {record['migration']}", file=sys.stderr)
        record["outcome"] = outcome(record)
    stored = json.loads(OUTCOMES.read_text()) if OUTCOMES.exists() and names else {"configs": {}}
    live = {p.stem for p in paths}
    configs_out = {k: v for k, v in {**stored["configs"], **records}.items() if k in live}
    document = {
        "qemu_version": _qemu_version(),
        "guest_kernel": env.kernel.version,
        "refreshed": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started),
        "configs": dict(sorted(configs_out.items())),
    }
    OUTCOMES.write_text(json.dumps(document, indent=1) + "\n")
    summary: dict[str, int] = {}
    for record in configs_out.values():
        summary[record["outcome"]] = summary.get(record["outcome"], 0) + 1
    print(f"{len(records)} configs in {document['seconds']} s: {summary}", file=sys.stderr)
    return 0


def _qemu_version() -> str:
    out = subprocess.run([QEMU, "--version"], check=True, capture_output=True, text=True, timeout=30).stdout
    return out.splitlines()[0].removeprefix("QEMU emulator version ").strip()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and refresh."""
    parser = argparse.ArgumentParser(prog="python -m lab.lint_oracle", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help="corpus entries (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="guests booted at once (default: 2)")
    args = parser.parse_args(argv)
    try:
        return refresh(args.names, args.jobs)
    except LabUnavailableError as error:
        print(f"lab unavailable: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
