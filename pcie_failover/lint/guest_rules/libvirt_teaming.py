"""`libvirt-teaming`: the `<teaming>` elements pass libvirt's own validation."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, verdict
from pcie_failover.lint.model import VIRTIO_MODELS, ConfigKind, LintInput, Teaming
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = (
    "standby: <interface type='bridge|network|ethernet'><model type='virtio'/><teaming type='persistent'/>"
    "<alias name='ua-NAME'/>; primary: <interface type='hostdev'> with <teaming type='transient' persistent='ua-NAME'/>"
)


def _problem(team: Teaming) -> str | None:
    """libvirt's message (src/conf/domain_validate.c, src/qemu/qemu_validate.c) for this element, if any."""
    if team.type not in ("persistent", "transient"):
        return f"teaming type {team.type!r} is neither 'persistent' nor 'transient'"
    if team.element == "hostdev":
        if team.type != "transient":
            return "teaming hostdev devices must have type='transient'"
        return None if team.persistent else "missing required persistent attribute in hostdev teaming element"
    if team.type == "transient" and not team.persistent:
        return "teaming persistent attribute must be set if teaming type is 'transient'"
    if team.type != "transient" and team.persistent:
        return f"teaming persistent attribute not allowed if teaming type is '{team.type}'"
    if team.type == "persistent" and team.model not in VIRTIO_MODELS:
        return f"virtio-net teaming persistent interface must be <model type='virtio'/>, not '{team.model or ''}'"
    if team.type == "transient" and team.interface_type not in ("hostdev", "network"):
        return f"virtio-net teaming transient interface must be type='hostdev', not '{team.interface_type}'"
    return None


def check(lint_input: LintInput) -> Finding:
    """Every `<teaming>` as libvirt would validate it at define/start."""
    config = lint_input.config
    if config.kind is not ConfigKind.LIBVIRT:
        return Finding(Status.SKIP, "not a libvirt domain")
    if not config.teaming:
        return Finding(Status.SKIP, "no <teaming> element")
    problems = [f"{t.label}: {p}" for t in config.teaming if (p := _problem(t))]
    networks = [t.label for t in config.teaming if t.type == "transient" and t.interface_type == "network"]
    passed = "libvirt accepts every <teaming>" + (
        f" ({', '.join(networks)}: the network must forward in hostdev mode)" if networks else ""
    )
    return verdict(problems, passed, HINT)


RULE = LintRule(
    "libvirt-teaming",
    Severity.FAIL,
    "<teaming> passes libvirt's validation",
    "libvirt src/conf/domain_validate.c, src/qemu/qemu_validate.c teaming messages; a persistent interface may be "
    "any model virDomainNetIsVirtioModel() accepts (virtio, virtio-transitional, virtio-non-transitional)",
    check,
    sources=(
        Source("libvirt", "src/qemu/qemu_validate.c", "qemuValidateDomainDeviceDefNetwork()"),
        Source("libvirt", "src/conf/domain_validate.c", '"missing required persistent attribute in hostdev teaming"'),
    ),
    proofs=(
        "tests/test_lint_rules.py::test_each_variation",
        "tests/test_lint_rules.py::test_every_libvirt_virtio_model_is_a_standby",
        "tests/test_lint_rules.py::test_the_canonical_layout_passes_every_rule",
    ),
)
