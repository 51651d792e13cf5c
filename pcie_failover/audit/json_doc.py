"""The `audit`, `register` and `unregister` JSON documents: pure, report -> str."""

from __future__ import annotations

from pcie_failover.audit.record import PairRecord
from pcie_failover.audit.report import AuditReport
from pcie_failover.render.json_doc import check_json, dump, envelope


def render_audit(report: AuditReport) -> str:
    """The `audit` document."""
    document = envelope("audit", report.sysfs_root)
    document["registry"] = report.registry
    document["verdict"] = report.verdict.value
    document["problems"] = list(report.problems)
    document["pairs"] = [
        {
            "name": pair.record.name,
            "vm": pair.record.vm,
            "for": pair.record.manager.value,
            "mac": str(pair.record.mac),
            "registered_bdf": str(pair.record.primary.bdf),
            "primary": None if pair.resolved.address is None else str(pair.resolved.address),
            "found": pair.resolved.note,
            "verdict": pair.verdict.value,
            "shared_with": list(pair.shared_with),
            "checks": [] if pair.report is None else [check_json(r) for r in pair.report.results],
        }
        for pair in report.pairs
    ]
    return dump(document)


def render_registered(sysfs_root: str, path: str, record: PairRecord) -> str:
    """The `register` document: the record as written, and where."""
    document = envelope("register", sysfs_root)
    document["path"] = path
    document["pair"] = record.to_json()
    return dump(document)


def render_unregistered(registry: str, name: str) -> str:
    """The `unregister` document."""
    document = envelope("unregister", None)
    document["registry"] = registry
    document["removed"] = name
    return dump(document)
