"""`libvirt-alias`: a transient's `persistent=` names an existing `ua-` alias of a persistent virtio interface."""

from __future__ import annotations

from pcie_failover.lint.model import ConfigKind, LintInput
from pcie_failover.lint.rules.base import LintRule, verdict
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding

HINT = "give the standby <alias name='ua-NAME'/> and the primary <teaming type='transient' persistent='ua-NAME'/>"


def check(lint_input: LintInput) -> Finding:
    """libvirt does not check this: it keeps only `ua-` user aliases, and never checks that the alias exists."""
    config = lint_input.config
    if config.kind is not ConfigKind.LIBVIRT:
        return Finding(Status.SKIP, "not a libvirt domain")
    transients = [t for t in config.teaming if t.type == "transient" and t.persistent]
    if not transients:
        return Finding(Status.SKIP, "no <teaming type='transient' persistent=...>")
    persistents = {t.alias: t for t in config.teaming if t.type == "persistent" and t.alias}
    problems: list[str] = []
    for team in transients:
        name = team.persistent or ""
        target = persistents.get(name)
        if not name.startswith("ua-"):
            problems.append(f"{team.label}: persistent='{name}' lacks the ua- prefix (libvirt drops such aliases)")
        elif target is None:
            problems.append(f"{team.label}: no interface with <teaming type='persistent'/> has alias '{name}'")
        elif target.model != "virtio":
            problems.append(f"{team.label}: '{name}' is model '{target.model}', not virtio")
    return verdict(problems, ", ".join(f"{t.alias or t.label} -> {t.persistent}" for t in transients), HINT)


RULE = LintRule(
    "libvirt-alias",
    Severity.FAIL,
    "the transient names an existing ua- alias of a virtio persistent interface",
    "libvirt: user aliases need the ua- prefix; libvirt does not check that the persistent alias exists",
    check,
)
