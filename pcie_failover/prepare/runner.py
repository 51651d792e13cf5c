"""Run a plan through a writer; on the first failure, undo the steps already taken, newest first.

A best-effort step that fails is a warning: the run goes on. Before a rollback unbinds a driver (an `unbind`
write, or driverctl rebinding), `guard` (the shell's re-check of the in-use rules on the host as it is now) may
stop it: the rollback stops there, and the run is reported as rollback-failed, naming why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from pcie_failover.prepare.model import Action, ActionKind, RunResult, Step, StepRun, WriteError

# (device address, the driver an action would unbind) -> why it may not be unbound now, or None.
Guard = Callable[[str, str], "str | None"]


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


def run_plan(steps: tuple[Step, ...], writer: Writer, guard: Guard | None = None) -> RunResult:
    """Every step in order; a failure stops the run and undoes the steps taken, newest first."""
    ran: list[Step] = []
    warnings: list[StepRun] = []
    for step in steps:
        try:
            _apply(writer, step.action)
        except WriteError as error:
            if step.best_effort:
                warnings.append(StepRun(step, str(error)))
                continue
            undone, undo_failed = rollback(tuple(ran), writer, guard)
            return RunResult(tuple(ran), StepRun(step, str(error)), undone, undo_failed, tuple(warnings))
        ran.append(step)
    return RunResult(tuple(ran), warnings=tuple(warnings))


def unbinds(action: Action, writer: Writer) -> tuple[str, str] | None:
    """(device, driver) when the action unbinds a driver: `bus/pci/drivers/D/unbind`, or driverctl rebinding."""
    if action.kind is ActionKind.SYSFS:
        parts = action.args[0].split("/")
        if len(parts) == 5 and parts[:3] == ["bus", "pci", "drivers"] and parts[4] == "unbind":
            return action.args[1], parts[3]
    if action.kind is ActionKind.DRIVERCTL and action.args[:1] != ("--noprobe",) and len(action.args) > 1:
        bound = writer.driver_of(action.args[1])
        return (action.args[1], bound) if bound else None
    return None


def rollback(
    ran: tuple[Step, ...], writer: Writer, guard: Guard | None = None
) -> tuple[tuple[Step, ...], tuple[StepRun, ...]]:
    """Undo `ran` newest first; an undo that fails is reported and the others still run, but one `guard` stops
    (a driver in use now) ends the rollback there."""
    undone: list[Step] = []
    failed: list[StepRun] = []
    for step in reversed(ran):
        if not step.undo:
            continue
        try:
            for action in step.undo:
                target = None if guard is None else unbinds(action, writer)
                why = None if target is None or guard is None else guard(*target)
                if why is not None:
                    failed.append(StepRun(step, f"not undone, and the rollback stopped here: {why}"))
                    return tuple(undone), tuple(failed)
                _apply(writer, action)
        except WriteError as error:
            failed.append(StepRun(step, str(error)))
            continue
        undone.append(step)
    return tuple(undone), tuple(failed)
