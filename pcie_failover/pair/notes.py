"""Shared by the pair renderers: the check's findings as note lines, host steps as shell lines."""

from __future__ import annotations

import shlex

from pcie_failover.model.results import RuleResult, Status
from pcie_failover.pair.model import HostStep, PairSpec
from pcie_failover.pair.prep import SOURCE
from pcie_failover.render.layout import wrap, wrap_hint

HOST_STEP = "HOST before QEMU starts here: "  # then the command, `    # ` and what it does
LABEL = {Status.FAIL: "FAIL", Status.WARN: "WARN", Status.UNKNOWN: "UNKNOWN"}


def finding_lines(result: RuleResult, width: int | None = None, lead: str = "") -> list[str]:
    """`FAIL vf-mac: message`, then the hint's lines indented; each after `lead`. With a `width`, the message
    wraps and the hint's commands continue with ` \\` (`wrap_hint`); without, one line each."""
    head = f"{LABEL.get(result.status, result.status.value)} {result.rule_id}: {result.message}"
    hint = result.hint or ""
    if width is None:
        return [f"{lead}{head}", *(f"{lead}  {line}" for line in hint.splitlines())]
    return [*wrap(head, width, lead, lead + "  "), *(wrap_hint(hint, width, lead + "  ", lead + "  ") if hint else [])]


def note_lines(spec: PairSpec, host_steps: bool = True) -> list[str]:
    """Why the VF's MAC was not reused (when so), every failure (only with --force) and warning, then the steps
    this host still needs before QEMU starts, and what the destination needs (the spec alone does not work
    without them: a MAC the VF does not carry yet fails lint's mac-match); `host_steps` False leaves those to
    a renderer that prints the hosts' steps itself (the summary)."""
    lines: list[str] = [] if spec.mac_note is None else [f"NOTE mac: {spec.mac_note}"]
    if spec.failures:
        lines.append("NOT READY (printed because of --force): these checks failed")
    for result in (*spec.failures, *spec.warnings):
        lines += finding_lines(result)
    for prep in spec.prep if host_steps else ():
        if prep.host == SOURCE:
            lines += [f"{HOST_STEP}{shell_command(step)}    # {step.description}" for step in prep.steps]
        elif prep.steps:
            lines.append(
                f"HOST destination: its VF needs the same steps, with the MAC {spec.mac} (--format summary lists them)"
            )
    return lines


def shell_command(step: HostStep) -> str:
    """The step as one shell line, every word quoted for the shell (a tap fd's ifindex read when it runs)."""
    line = shlex.join(step.argv)
    if step.tap_fd is not None:
        fd, macvtap = step.tap_fd
        line += f' {fd}<>"/dev/tap$(cat {shlex.quote(f"/sys/class/net/{macvtap}/ifindex")})"'
    return line if step.redirect is None else f"{line} > {shlex.quote(step.redirect)}"
