"""What a `prepare` run did (PrepareReport, its exit code), as text or as the schema's `prepare` document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pcie_failover.model.report import CheckReport
from pcie_failover.model.results import Status, Verdict
from pcie_failover.prepare.model import Outcome, Plan, RunResult, Step
from pcie_failover.prepare.render import Programs, document, step_json, text_report
from pcie_failover.render.json_doc import check_json, envelope

# Exit codes beyond the shared ones (0 ready, 1 not ready/refused, 2 usage, 3 no host).
ROLLED_BACK = 5
ROLLBACK_FAILED = 6
DEVICE_GONE = 7  # --undo: the recorded device no longer exists (its VFs were destroyed); the record is kept


@dataclass(frozen=True)
class Registration:
    """What `--register NAME` did after a successful prepare: the pair file written, or why not."""

    name: str
    path: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class PrepareReport:
    """What a `prepare` (or `--undo`) run did, for the renderers."""

    device: str
    undo: bool
    dry_run: bool
    outcome: Outcome
    plan: Plan
    result: RunResult | None = None
    record_path: str | None = None
    final: CheckReport | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    registration: Registration | None = None

    @property
    def exit_code(self) -> int:
        """0 done (and, for prepare, ready); 1 refused or not ready after; 2 --register failed; 5 rolled back;
        6 rollback failed; 7 (--undo) the recorded device is gone."""
        if self.registration is not None and self.registration.error is not None:
            return 2
        if self.outcome is Outcome.DEVICE_GONE:
            return DEVICE_GONE
        if self.outcome is Outcome.REFUSED:
            return 1
        if self.outcome is Outcome.ROLLED_BACK:
            return ROLLED_BACK
        if self.outcome is Outcome.ROLLBACK_FAILED:
            return ROLLBACK_FAILED
        if self.undo or self.dry_run or self.final is None:
            return 0
        return 0 if self.final.verdict is Verdict.READY else 1


def step_rows(report: PrepareReport) -> list[tuple[str, Step, str | None]]:
    """(status, step, error) for every planned step: planned, ran, failed, undone, undo-failed, not-run."""
    result = report.result
    if result is None:
        return [("planned", step, None) for step in report.plan.steps]
    ran = set(map(id, result.ran))
    undone = set(map(id, result.undone))
    undo_failed = {id(r.step): r.error for r in result.undo_failed}
    warned = {id(r.step): r.error for r in result.warnings}
    rows: list[tuple[str, Step, str | None]] = []
    for step in report.plan.steps:
        if result.failed is not None and step is result.failed.step:
            rows.append(("failed", step, result.failed.error))
        elif id(step) in warned:
            rows.append(("failed", step, warned[id(step)]))
        elif id(step) in undo_failed:
            rows.append(("undo-failed", step, undo_failed[id(step)]))
        elif id(step) in undone:
            rows.append(("undone", step, None))
        elif id(step) in ran:
            rows.append(("ran" if step.undo or result.failed is None else "ran, kept", step, None))
        else:
            rows.append(("not-run", step, None))
    return rows


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
