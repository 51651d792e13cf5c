"""A PrepareReport as text or as the schema's `prepare` document."""

from __future__ import annotations

from typing import Any

from pcie_failover.model.results import Status
from pcie_failover.prepare.command import PrepareReport, step_rows
from pcie_failover.prepare.model import Outcome
from pcie_failover.prepare.render import Programs, document, step_json, text_report
from pcie_failover.render.json_doc import check_json, envelope


def _final_lines(report: PrepareReport) -> list[str]:
    final = report.final
    if final is None:
        return []
    if report.outcome in (Outcome.REFUSED, Outcome.DRY_RUN, Outcome.DEVICE_GONE):
        return []
    failing = [f"{r.rule_id}: {r.message}" for r in final.results if r.status is Status.FAIL]
    lines = [f"now (re-checked): {final.verdict.value}"]
    return lines + [f"  fails {line}" for line in failing]


def render_text(report: PrepareReport) -> str:
    """The outcome, every step and what became of it, the undo record, the final state."""
    what = "prepare --undo" if report.undo else "prepare"
    word = "gone" if report.outcome is Outcome.DEVICE_GONE else "refused"
    lines = [f"{word}: {r}" for r in report.plan.refusals]
    lines += [f"already so: {k}" for k in report.plan.kept]
    lines += [f"--group changes: {c}" for c in report.plan.group_changes]
    if report.record_path is not None:
        lines.append(f"undo record: {report.record_path}")
    lines += [*report.notes, *_final_lines(report)]
    registration = report.registration
    if registration is not None and registration.error is None:
        lines.append(f"registered {registration.name}: {registration.path}")
    return text_report(f"pcie-failover {what} {report.device}", report.outcome, step_rows(report), lines)


def render_json(report: PrepareReport, program: Programs, sysfs_root: str) -> str:
    """The `prepare` document (schema: $defs/prepare)."""
    final: dict[str, Any] | None = None
    if report.final is not None and report.outcome not in (Outcome.REFUSED, Outcome.DRY_RUN, Outcome.DEVICE_GONE):
        final = {"verdict": report.final.verdict.value, "checks": [check_json(r) for r in report.final.results]}
    assessed = None
    if report.final is not None and report.outcome in (Outcome.REFUSED, Outcome.DRY_RUN, Outcome.UNCHANGED):
        assessed = report.final.verdict.value
    body = {
        "device": report.device,
        "undo": report.undo,
        "dry_run": report.dry_run,
        "outcome": report.outcome.value,
        "exit_code": report.exit_code,
        "refusals": list(report.plan.refusals),
        "kept": list(report.plan.kept),
        "group_changes": list(report.plan.group_changes),
        "steps": [step_json(step, status, error, program) for status, step, error in step_rows(report)],
        "undo_record": report.record_path,
        "notes": list(report.notes),
        "assessed_verdict": assessed,
        "final": final,
        "register": None
        if report.registration is None
        else {
            "name": report.registration.name,
            "path": report.registration.path,
            "error": report.registration.error,
        },
    }
    return document(envelope("prepare", sysfs_root), body)


__all__ = ["render_json", "render_text"]
