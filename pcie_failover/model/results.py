"""Rule outcomes, verdicts and the exit codes derived from them."""

from __future__ import annotations

import enum
from collections.abc import Iterable

from pcie_failover.model.record import record


class Status(enum.Enum):
    """The outcome of one rule for one device."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"
    SKIP = "skip"


class Severity(enum.Enum):
    """The worst status a rule can give: `fail` rules decide readiness, `warn` ones advise."""

    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


class Verdict(enum.Enum):
    """Readiness of one device."""

    READY = "ready"
    NOT_READY = "not-ready"
    UNDETERMINED = "undetermined"


class ExitCode(enum.IntEnum):
    """Documented process exit codes."""

    READY = 0
    NOT_READY = 1
    USAGE = 2
    NO_HOST = 3
    UNDETERMINED = 4
    INTERNAL = 70  # EX_SOFTWARE: a bug, never a finding (the units do not count it as success)
    OUTPUT_ERROR = 74  # EX_IOERR: the report could not be written (standard output full or closed)
    INTERRUPTED = 130  # 128 + SIGINT: stopped before it finished (temporary files removed)
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of standard output went away
    TERMINATED = 143  # 128 + SIGTERM: stopped before it finished (temporary files removed)


@record
class RuleResult:
    """One rule's finding: a one-line message and, when something is to be done, a hint."""

    rule_id: str
    severity: Severity
    status: Status
    message: str
    hint: str | None = None


def verdict_of(results: tuple[RuleResult, ...], strict: bool = False) -> Verdict:
    """Any fail (or, strict, any warn) is not-ready; an unknown where a fail was possible is undetermined."""
    if any(r.status is Status.FAIL for r in results):
        return Verdict.NOT_READY
    if strict and any(r.status is Status.WARN for r in results):
        return Verdict.NOT_READY
    if any(r.status is Status.UNKNOWN and r.severity is Severity.FAIL for r in results):
        return Verdict.UNDETERMINED
    return Verdict.READY


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """Not ready over undetermined over ready; ready when there is none."""
    found = set(verdicts)
    return next((v for v in (Verdict.NOT_READY, Verdict.UNDETERMINED) if v in found), Verdict.READY)


def exit_code_of(verdict: Verdict) -> ExitCode:
    """The process exit code for a single-device verdict."""
    return {
        Verdict.READY: ExitCode.READY,
        Verdict.NOT_READY: ExitCode.NOT_READY,
        Verdict.UNDETERMINED: ExitCode.UNDETERMINED,
    }[verdict]
