"""Prometheus text exposition for node_exporter's textfile collector: pure, audit -> str.

Each state is one series whose labels say what it is, with the value 1: a pair's current verdict, each
check's current status, each other pair sharing its primary. A change is a label change (one series ends,
another starts) and no state is ever implied by a missing series, so an alert can match a status
(`pcie_failover_check_status{status="fail"}`) or a value (`pcie_failover_pair_ready == 0`), and
`absent()` still tells a pair that was not audited.
"""

from __future__ import annotations

from pcie_failover.audit.report import AuditReport
from pcie_failover.model.results import Verdict
from pcie_failover.render.escape import escape

PREFIX = "pcie_failover"


def _label(value: str) -> str:
    """Escaped (render.escape), then quoted as the exposition format wants (backslash, quote, newline)."""
    return escape(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


def _family(name: str, help_text: str, series: list[str]) -> list[str]:
    return [f"# HELP {PREFIX}_{name} {help_text}", f"# TYPE {PREFIX}_{name} gauge", *series]


def render_prometheus(report: AuditReport) -> str:
    """Per pair: readiness, its verdict, the status of each check, the pairs sharing its primary; then the audit's."""
    pairs = report.pairs
    ready = [
        f"{PREFIX}_pair_ready"
        + _labels(
            pair=p.record.name,
            vm=p.record.vm or "",
            primary="" if p.resolved.address is None else str(p.resolved.address),
        )
        + f" {int(p.verdict is Verdict.READY)}"
        for p in pairs
    ]
    verdicts = [f"{PREFIX}_pair_verdict{_labels(pair=p.record.name, verdict=p.verdict.value)} 1" for p in pairs]
    checks = [
        f"{PREFIX}_check_status{_labels(pair=p.record.name, check=r.rule_id, status=r.status.value)} 1"
        for p in pairs
        for r in (p.report.results if p.report is not None else ())
    ]
    shared = [
        f"{PREFIX}_pair_primary_shared{_labels(pair=p.record.name, other=other)} 1"
        for p in pairs
        for other in p.shared_with
    ]
    lines = [
        *_family(
            "pair_ready",
            "1 when the pair is ready (every host check passes, no other pair has its primary), else 0.",
            ready,
        ),
        *_family("pair_verdict", "The pair's verdict (ready, not-ready, undetermined) as a label; always 1.", verdicts),
        *_family("check_status", "Each host check of each pair: its current status as a label; always 1.", checks),
        *_family("pair_primary_shared", "Another pair registered with the same primary; always 1.", shared),
        *_family(
            "registry_problems",
            "Registry problems: files skipped, records of a copied tree, a named registry that does not exist.",
            [f"{PREFIX}_registry_problems {len(report.problems)}"],
        ),
        *_family(
            "audit_timestamp_seconds",
            "When the audit finished (Unix time).",
            [f"{PREFIX}_audit_timestamp_seconds {report.finished:.3f}"],
        ),
        *_family(
            "audit_duration_seconds",
            "How long the audit took.",
            [f"{PREFIX}_audit_duration_seconds {report.duration:.6f}"],
        ),
    ]
    return "\n".join(lines) + "\n"
