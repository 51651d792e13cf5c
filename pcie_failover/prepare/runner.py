"""Run a plan through a writer; on the first failure, undo the steps already taken, newest first."""

from __future__ import annotations

from typing import Protocol

from pcie_failover.prepare.model import Action, RunResult, Step, StepRun, WriteError


class Writer(Protocol):
    """The one seam through which `prepare` changes the host (the live writer, or a fake in tests)."""

    def execute(self, action: Action) -> None:
        """Make the write; WriteError when it fails."""

    def driver_of(self, address: str) -> str:
        """The driver bound to the device now ("" when none)."""

    def program(self, name: str) -> str:
        """The path of `ip`, `modprobe` or `driverctl` as the writer runs it (for the printed script)."""


def _apply(writer: Writer, action: Action) -> None:
    writer.execute(action)
    if action.expect_driver is not None:
        address, expected = action.expect_driver
        bound = writer.driver_of(address)
        if bound != expected:
            now = bound or "no driver"
            wanted = expected or "no driver"
            hint = " (dmesg says why)" if expected else ""
            raise WriteError(f"{address} has {now} after the write, not {wanted}{hint}")


def run_plan(steps: tuple[Step, ...], writer: Writer) -> RunResult:
    """Every step in order; a failure stops the run and undoes the steps taken, newest first."""
    ran: list[Step] = []
    for step in steps:
        try:
            _apply(writer, step.action)
        except WriteError as error:
            undone, undo_failed = rollback(tuple(ran), writer)
            return RunResult(tuple(ran), StepRun(step, str(error)), undone, undo_failed)
        ran.append(step)
    return RunResult(tuple(ran))


def rollback(ran: tuple[Step, ...], writer: Writer) -> tuple[tuple[Step, ...], tuple[StepRun, ...]]:
    """Undo `ran` newest first; an undo that fails is reported and the others still run."""
    undone: list[Step] = []
    failed: list[StepRun] = []
    for step in reversed(ran):
        if not step.undo:
            continue
        try:
            for action in step.undo:
                _apply(writer, action)
        except WriteError as error:
            failed.append(StepRun(step, str(error)))
            continue
        undone.append(step)
    return tuple(undone), tuple(failed)
