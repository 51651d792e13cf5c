"""`register`: check a primary and record the pair in the registry."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pcie_failover.audit import DEFAULT_REGISTRY
from pcie_failover.audit.record import PairRecord, identity_of
from pcie_failover.audit.registry import Registry
from pcie_failover.audit.resolve import foreign, resolve
from pcie_failover.check.command import checked
from pcie_failover.model.address import DeviceQuery, MacAddress
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.model.results import Status, Verdict
from pcie_failover.sysfs.root import SysfsRoot


class RegisterError(Exception):
    """The pair cannot be registered; `not_ready` when a check failed (exit 1), else bad input (exit 2)."""

    def __init__(self, message: str, not_ready: bool = False) -> None:
        super().__init__(message)
        self.not_ready = not_ready


@dataclass(frozen=True)
class Registered:
    """The record written and where; the other pairs with the same primary (only with `force`)."""

    record: PairRecord
    path: str
    shared_with: tuple[str, ...]


FIX_OR_FORCE = "fix it, or register with --force"


def run_register(
    root: SysfsRoot,
    name: str,
    query: DeviceQuery,
    *,
    mac: MacAddress | None,
    manager: Manager,
    vm: str | None,
    registry: str,
    replace: bool,
    force: bool,
    not_ready_advice: str = FIX_OR_FORCE,
) -> Registered:
    """Check the primary, then write the record; `force` registers a primary that fails a check or that another
    pair has (the same PCI function now, as `audit` finds each pair's primary).

    A pair from a copied tree records that tree, and never goes into the system registry, whose live audit
    would not audit it.
    """
    if not root.live and os.path.abspath(registry) == DEFAULT_REGISTRY:
        raise RegisterError(
            f"{root.origin} is a copied tree, not this host's /sys: register its pairs with --registry DIR,"
            f" not in {DEFAULT_REGISTRY} (the live audit would not audit them)"
        )
    check_input, report = checked(root, query, CheckOptions(manager=manager, mac=mac), strict=False)
    identity = identity_of(check_input)
    if identity is None:
        raise RegisterError(f"no PCI device {query.text!r} on this host")
    failing = [r.rule_id for r in report.results if r.status is Status.FAIL]
    if report.verdict is Verdict.NOT_READY and not force:
        raise RegisterError(f"{identity.bdf} is not ready ({', '.join(failing)}): {not_ready_advice}", True)
    from_vf = mac is None
    if mac is None:
        mac = check_input.admin_mac
        if mac is None or mac.is_zero or mac.is_multicast:
            raise RegisterError("--mac is required: the VF has no usable admin MAC to take the VM's MAC from")
    record = PairRecord(
        name=name,
        vm=vm,
        primary=identity,
        mac=mac,
        manager=manager,
        sysfs_root=None if root.live else root.origin,
        mac_from_vf=from_vf,
    )

    def same_primary(other: PairRecord) -> bool:
        return not foreign(other, root) and resolve(root, other.primary).address == identity.bdf

    saved = Registry(registry).save(record, replace=replace, same_primary=same_primary, shared_ok=force)
    return Registered(record, saved.path, saved.shared_with)


def save(
    root: SysfsRoot,
    name: str,
    query: DeviceQuery,
    *,
    mac: MacAddress | None,
    manager: Manager,
    vm: str | None,
    registry: str,
    not_ready_advice: str = FIX_OR_FORCE,
) -> Registered:
    """`run_register` as `pair --save` and `prepare --register` use it (no replace, no force): every refusal,
    the registry's included, is a RegisterError."""
    from pcie_failover.adapters.files import UnsafePathError
    from pcie_failover.audit.record import RecordError

    try:
        return run_register(
            root, name, query, mac=mac, manager=manager, vm=vm, registry=registry, replace=False, force=False,
            not_ready_advice=not_ready_advice,
        )  # fmt: skip
    except (RecordError, UnsafePathError, OSError) as error:
        raise RegisterError(str(error)) from None
