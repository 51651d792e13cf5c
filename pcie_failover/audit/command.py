"""`audit`: re-run every host rule for every registered pair, from the current state."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pcie_failover.adapters.files import SafeDirectory
from pcie_failover.assessment import assess
from pcie_failover.audit.record import PairRecord
from pcie_failover.audit.registry import Registry
from pcie_failover.audit.report import AuditReport, PairAudit
from pcie_failover.audit.resolve import foreign, resolve, shared
from pcie_failover.model.address import DeviceQuery, PciAddress
from pcie_failover.model.check import CheckOptions
from pcie_failover.sysfs.check_input import HostReader
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.iommu import group_of
from pcie_failover.sysfs.root import SysfsRoot

if TYPE_CHECKING:
    from pcie_failover.render.layout import Layout

TEXTFILE = "pcie_failover.prom"


def _touches(root: SysfsRoot, primary: PciAddress, pf: PciAddress | None, device: PciAddress) -> bool:
    """Whether `device` is the primary, its PF, or in the primary's IOMMU group."""
    return device in (primary, pf) or device in group_of(root, primary)


def run_audit(
    root: SysfsRoot, registry: Registry, device: PciAddress | None = None, strict: bool = False
) -> AuditReport:
    """Audit every registered pair (or those `device` touches); level-triggered: nothing comes from an event.

    Each call reads through a fresh root (`SysfsRoot.fresh`): no directory descriptor or link
    resolution of an earlier pass (watch, coalesced runs) survives into this one, so a
    directory the kernel removed and re-created, or a tree replaced meanwhile, is seen anew.
    """
    started = time.monotonic()
    root = root.fresh()
    loaded = registry.load()
    problems = list(loaded.problems)
    records: list[PairRecord] = []
    for record in loaded.records:
        if foreign(record, root):
            problems.append(
                f"{registry.path(record.name)}: registered from the copied tree {record.sysfs_root}, not this host:"
                " not audited (unregister it, or audit that tree with --sysfs-root)"
            )
        else:
            records.append(record)
    found = {record.name: resolve(root, record.primary) for record in records}
    sharing = shared(found)  # over every pair, also those --device leaves out
    reader = HostReader(root, netlink_for(root))
    pairs: list[PairAudit] = []
    for record in records:
        resolved = found[record.name]
        if device is not None:
            here = resolved.address or record.primary.bdf
            if not _touches(root, here, record.primary.pf_bdf, device):
                continue
        if resolved.address is None:
            pairs.append(PairAudit(record, resolved, None, sharing.get(record.name, ())))
            continue
        # a MAC register took from the VF is compared, as check does without --mac, not taken as an admin's
        options = CheckOptions(manager=record.manager, mac=record.mac, mac_asserted=not record.mac_from_vf)
        query = DeviceQuery(str(resolved.address), resolved.address, None)
        report = assess(reader.check_input(query, options, found=resolved.address), root.origin, strict=strict)
        pairs.append(PairAudit(record, resolved, report, sharing.get(record.name, ())))
    return AuditReport(
        sysfs_root=root.origin,
        registry=registry.directory,
        pairs=tuple(pairs),
        problems=tuple(problems),
        finished=time.time(),
        duration=time.monotonic() - started,
        device=device,
    )


def audit_once(
    root: SysfsRoot,
    registry: Registry,
    *,
    device: PciAddress | None,
    output: str,
    textfile_dir: str | None,
    journal: bool,
    strict: bool,
    emit: Callable[[str], None],
    layout: Layout | None = None,
) -> int:
    """One audit: render it (stdout, or the textfile collector's file), log it, return the exit code.

    `layout` lays the table out for a terminal (width, colour); None is the plain table.

    For the textfile, the audit and the write hold an flock on the textfile directory itself (no lock
    file is left where node_exporter reads), so a slower, older audit never replaces a newer one.
    """
    if output == "prometheus" and textfile_dir is not None:
        with SafeDirectory.open(textfile_dir) as directory, directory.locked():
            report = run_audit(root, registry, device, strict)
            data = _render(report, output).encode()
            directory.atomic_write(TEXTFILE, lambda out: out.write(data), 0o644)
    else:
        report = run_audit(root, registry, device, strict)
        emit(_render(report, output, layout))
    if journal:
        from pcie_failover.audit.text import render_journal

        sys.stderr.write(render_journal(report))
    return int(report.exit_code)


def _render(report: AuditReport, output: str, layout: Layout | None = None) -> str:
    if output == "prometheus":
        from pcie_failover.audit.prometheus import render_prometheus

        return render_prometheus(report)
    if output == "json":
        from pcie_failover.audit.json_doc import render_audit

        return render_audit(report)
    from pcie_failover.audit.text import render_audit_table

    return render_audit_table(report) if layout is None else render_audit_table(report, layout)
