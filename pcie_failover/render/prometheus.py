"""Prometheus text exposition for node_exporter's textfile collector: pure, audit -> str."""

from __future__ import annotations

from pcie_failover.audit.report import AuditReport
from pcie_failover.model.results import Status, Verdict
from pcie_failover.render.escape import escape

PREFIX = "pcie_failover"


def _label(value: str) -> str:
    """Escaped (render.escape), then quoted as the exposition format wants (backslash, quote, newline)."""
    return escape(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


def render_prometheus(report: AuditReport) -> str:
    """Gauges per pair (readiness, verdict) and per pair and check (one series per status)."""
    lines = [
        f"# HELP {PREFIX}_pair_ready 1 when the pair's primary passes every host check, else 0.",
        f"# TYPE {PREFIX}_pair_ready gauge",
    ]
    for pair in report.pairs:
        primary = "" if pair.resolved.address is None else str(pair.resolved.address)
        labels = _labels(pair=pair.record.name, vm=pair.record.vm or "", primary=primary)
        lines.append(f"{PREFIX}_pair_ready{labels} {int(pair.verdict is Verdict.READY)}")
    lines += [
        f"# HELP {PREFIX}_pair_verdict The pair's verdict: one series per verdict, 1 for the current one.",
        f"# TYPE {PREFIX}_pair_verdict gauge",
    ]
    for pair in report.pairs:
        for verdict in Verdict:
            labels = _labels(pair=pair.record.name, verdict=verdict.value)
            lines.append(f"{PREFIX}_pair_verdict{labels} {int(pair.verdict is verdict)}")
    lines += [
        f"# HELP {PREFIX}_check_status Each host check of each pair: one series per status, 1 for the current one.",
        f"# TYPE {PREFIX}_check_status gauge",
    ]
    for pair in report.pairs:
        for result in pair.report.results if pair.report is not None else ():
            for status in Status:
                labels = _labels(pair=pair.record.name, check=result.rule_id, status=status.value)
                lines.append(f"{PREFIX}_check_status{labels} {int(result.status is status)}")
    lines += [
        f"# HELP {PREFIX}_registry_problems Registry files that could not be read or parsed.",
        f"# TYPE {PREFIX}_registry_problems gauge",
        f"{PREFIX}_registry_problems {len(report.problems)}",
        f"# HELP {PREFIX}_audit_timestamp_seconds When the audit finished (Unix time).",
        f"# TYPE {PREFIX}_audit_timestamp_seconds gauge",
        f"{PREFIX}_audit_timestamp_seconds {report.finished:.3f}",
        f"# HELP {PREFIX}_audit_duration_seconds How long the audit took.",
        f"# TYPE {PREFIX}_audit_duration_seconds gauge",
        f"{PREFIX}_audit_duration_seconds {report.duration:.6f}",
    ]
    return "\n".join(lines) + "\n"
