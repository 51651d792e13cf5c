"""A guest-side rule: stable id, severity, what it checks, the fact it mirrors, a pure check of a LintInput."""

from __future__ import annotations

from collections.abc import Iterable

from pcie_failover.lint.model import Device, LintInput, VmConfig
from pcie_failover.model.results import Status
from pcie_failover.model.rule import Finding, Rule

LintRule = Rule[LintInput]  # the host rules' `Rule`, over a parsed VM


def bus_of(config: VmConfig, device: Device) -> str:
    """The bus a device sits on: its `bus=`, else the machine's default bus."""
    return device.bus or config.root_bus


def standby_of(config: VmConfig, primary: Device) -> Device | None:
    """The standby a primary names, when that is a virtio-net device with failover on."""
    found = config.device(primary.failover_pair_id or "")
    return found if found is not None and found.is_standby else None


def pairs(config: VmConfig) -> list[tuple[Device, Device]]:
    """(primary, standby) for every primary that names a real standby."""
    return [(p, s) for p in config.primaries if (s := standby_of(config, p)) is not None]


def verdict(problems: Iterable[str], passed: str, hint: str | None = None, status: Status = Status.FAIL) -> Finding:
    """`status` with the problems joined by `; `, or pass with `passed`."""
    found = list(problems)
    if found:
        return Finding(status, "; ".join(found), hint)
    return Finding(Status.PASS, passed)


def no_primary() -> Finding:
    """What a per-primary rule says when there is none."""
    return Finding(Status.SKIP, "no failover primary (no device with failover_pair_id)")
