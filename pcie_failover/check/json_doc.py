"""The `check` JSON document: pure, report -> str."""

from __future__ import annotations

from pcie_failover.model.report import CheckReport
from pcie_failover.model.results import Verdict
from pcie_failover.render.json_doc import check_json, device_json, dump, envelope, options_json


def render_check(report: CheckReport) -> str:
    """The `check` document."""
    document = envelope("check", report.sysfs_root)
    document["input"] = {"device": report.query, **options_json(report.options), "strict": report.strict}
    document["device"] = None if report.device is None else device_json(report.device)
    document["pf_netdev"] = report.pf_netdev
    document["verdict"] = report.verdict.value
    document["ready"] = report.verdict is Verdict.READY
    document["checks"] = [check_json(r) for r in report.results]
    return dump(document)
