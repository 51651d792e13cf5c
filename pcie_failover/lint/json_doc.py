"""The `lint` JSON document (schema: `$defs/lint`): pure, report -> str."""

from __future__ import annotations

from typing import Any

from pcie_failover.lint.guest_rules.base import pairs
from pcie_failover.lint.report import HostItem, LintReport
from pcie_failover.model.results import Verdict
from pcie_failover.render.json_doc import check_json, dump, envelope


def _host(item: HostItem) -> dict[str, Any]:
    return {
        "primary": item.primary,
        "device": item.device,
        "verdict": None if item.verdict is None else item.verdict.value,
        "note": item.note,
        "checks": [] if item.report is None else [check_json(r) for r in item.report.results],
    }


def render_lint(report: LintReport) -> str:
    """The `lint` document."""
    config = report.config
    document = envelope("lint", report.sysfs_root)
    document |= {
        "input": {
            "kind": config.kind.value,
            "file": report.source,
            "qemu_version": report.qemu_version,
            "host_check": report.sysfs_root is not None,
        },
        "vm": {
            "complete": config.complete,
            "machine": config.machine,
            "pairs": [
                {
                    "standby": standby.name,
                    "primary": primary.name,
                    "mac": standby.mac if standby.parsed_mac is None else str(standby.parsed_mac),
                    "host": None if primary.host is None else str(primary.host),
                }
                for primary, standby in pairs(config)
            ],
        },
        "verdict": report.verdict.value,
        "ready": report.verdict is Verdict.READY,
        "checks": [check_json(r) for r in report.results],
        "hosts": [_host(h) for h in report.hosts],
    }
    return dump(document)
