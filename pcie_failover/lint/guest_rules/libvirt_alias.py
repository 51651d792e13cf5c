"""`libvirt-alias`: a transient's `persistent=` names an existing `ua-` alias of a persistent virtio interface."""

from __future__ import annotations

import re

from pcie_failover.lint.guest_rules.base import LintRule, verdict
from pcie_failover.lint.model import VIRTIO_MODELS, ConfigKind, LintInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

USER_ALIAS = re.compile(r"ua-[A-Za-z0-9_-]+")  # libvirt drops any other user alias when the domain is defined

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
    problems = [
        f"{t.label}: alias '{t.alias}' has a character other than [a-zA-Z0-9_-] (libvirt drops it at define)"
        for t in config.teaming
        if t.alias and t.alias.startswith("ua-") and not USER_ALIAS.fullmatch(t.alias)
    ]
    for team in transients:
        name = team.persistent or ""
        target = persistents.get(name)
        if not name.startswith("ua-"):
            problems.append(f"{team.label}: persistent='{name}' lacks the ua- prefix (libvirt drops such aliases)")
        elif not USER_ALIAS.fullmatch(name):
            problems.append(f"{team.label}: persistent='{name}' is no user alias libvirt keeps (only [a-zA-Z0-9_-])")
        elif target is None:
            problems.append(f"{team.label}: no interface with <teaming type='persistent'/> has alias '{name}'")
        elif target.model not in VIRTIO_MODELS:
            problems.append(f"{team.label}: '{name}' is model '{target.model}', not virtio")
    return verdict(problems, ", ".join(f"{t.alias or t.label} -> {t.persistent}" for t in transients), HINT)


RULE = LintRule(
    "libvirt-alias",
    Severity.FAIL,
    "the transient names an existing ua- alias of a virtio persistent interface",
    "libvirt keeps a user alias (virDomainDeviceAliasIsUserAlias(): the ua- prefix) only of the characters "
    "[a-zA-Z0-9_-]: libvirt 9.0's `virsh define` drops 'ua-net.0' although domaincommon.rng accepts '.'; "
    "nothing checks that the persistent alias exists",
    check,
    sources=(Source("libvirt", "src/conf/domain_conf.c", "virDomainDeviceAliasIsUserAlias()"),),
    proofs=(
        "tests/test_lint_rules.py::test_each_variation",
        "tests/test_lint_rules.py::test_every_libvirt_virtio_model_is_a_standby",
    ),
)
