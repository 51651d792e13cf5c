"""`prepare`'s output: the steps as a shell script (--dry-run), a text report, a JSON document. Pure."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from typing import Any

from pcie_failover.prepare.model import Action, ActionKind, Outcome, Step
from pcie_failover.render.escape import escape

Programs = Callable[[str], str]


def _expect(action: Action) -> list[str]:
    if action.expect_driver is None:
        return []
    address, driver = action.expect_driver
    link = shlex.quote(f"/sys/bus/pci/devices/{address}/driver")
    if not driver:
        return [f"test ! -e {link}"]
    return [f'test "$(basename "$(readlink {link})")" = {shlex.quote(driver)}']


def shell_lines(action: Action, program: Programs) -> list[str]:
    """The action as shell lines, every word quoted; a bind, unbind or probe is followed by the runner's check."""
    kind, args = action.kind, action.args
    quoted = shlex.join(args)
    if kind is ActionKind.SYSFS:
        path, value = shlex.quote(f"/sys/{args[0]}"), args[1]
        lines = [f"echo {shlex.quote(value)} > {path}" if value else f"echo > {path}"]
    elif kind in (ActionKind.IP, ActionKind.MODPROBE, ActionKind.DRIVERCTL):
        lines = [f"{shlex.quote(program(kind.value))} {quoted}"]
    elif kind is ActionKind.VF_ADDRESS:
        # the interface as it is when the line runs (a rebind just made it), and only when there is exactly one,
        # as the writer does
        net = shlex.quote(f"/sys/bus/pci/devices/{args[0]}/net")
        why = shlex.quote(f"{args[0]}: not one network interface to give {args[1]}")
        lines = [
            f'set -- {net}/*; [ -e "$1" ] || shift; [ "$#" -eq 1 ] || {{ echo {why} >&2; exit 1; }}',
            f'{shlex.quote(program("ip"))} link set dev "${{1##*/}}" address {shlex.quote(args[1])}',
        ]
    elif kind is ActionKind.FILE_PUT:
        # install(1) replaces a link at the path instead of writing through it, and sets the mode whatever the umask
        mode = args[2] if len(args) > 2 else "0644"
        lines = [
            f"printf '%s' {shlex.quote(args[1])} | install -m {shlex.quote(mode)} /dev/stdin {shlex.quote(args[0])}"
        ]
    else:
        lines = [f"rm -f -- {shlex.quote(args[0])}"]
    return lines + _expect(action)


def script(device: str, steps: tuple[Step, ...], kept: tuple[str, ...], program: Programs, undo: bool) -> str:
    """A script that does what `prepare` would: run as root, it stops at the first failing line (no rollback)."""
    what = "prepare --undo" if undo else "prepare"
    lines = [
        "#!/bin/sh",
        f"# pcie-failover {what} {device} --dry-run: the steps it would take, in order; nothing was changed.",
        "# (prepare itself also keeps an undo record and rolls back on failure; this script does neither)",
    ]
    lines += [f"# already so: {escape(k)}" for k in kept]
    if not steps:
        lines.append("# nothing to do")
    lines.append("set -e")
    for number, step in enumerate(steps, 1):
        lines.append(f"# {number}. {escape(step.description)}")
        lines += shell_lines(step.action, program)
    return "\n".join(lines) + "\n"


def step_json(step: Step, status: str, error: str | None, program: Programs) -> dict[str, Any]:
    return {
        "id": step.step_id,
        "device": step.device,
        "description": step.description,
        "status": status,
        "error": error,
        "shell": shell_lines(step.action, program),
        "undo": [line for action in step.undo for line in shell_lines(action, program)],
        "undo_note": step.undo_note,
    }


def document(envelope: dict[str, Any], body: dict[str, Any]) -> str:
    return json.dumps({**envelope, **body}, indent=2) + "\n"


def text_report(
    header: str,
    outcome: Outcome,
    rows: list[tuple[str, Step, str | None]],
    lines: list[str],
) -> str:
    """A few lines: the outcome, each step with what became of it, then notes (undo record, final state)."""
    out = [f"{escape(header)}: {outcome.value}"]
    for status, step, error in rows:
        tail = f": {escape(error)}" if error else ""
        out.append(f"  {status:<12} {escape(step.description)}{tail}")
    out += [f"  {escape(line)}" for line in lines]
    return "\n".join(out) + "\n"
