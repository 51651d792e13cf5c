"""`standby-link`: the standby's link is not set down (libvirt `<link state='down'/>`)."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule
from pcie_failover.lint.model import LintInput
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = (
    "set the standby's link up before migrating (virsh domif-setlink VM IF up), as net_failover.rst's script "
    "does, or drop <link state='down'/>"
)


def check(lint_input: LintInput) -> Finding:
    """A down standby is deliberate in net_failover.rst (PF fdb), but the VM is offline while the VF is unplugged."""
    standbys = lint_input.config.standbys
    if not standbys:
        return Finding(Status.SKIP, "no standby")
    down = [s.label for s in standbys if s.link_down]
    if down:
        return Finding(
            Status.WARN,
            f"{', '.join(down)}: link down: no traffic while the primary is unplugged (during migration)",
            HINT,
        )
    return Finding(Status.PASS, "standby link not set down")


RULE = LintRule(
    "standby-link",
    Severity.WARN,
    "the standby's link is not set down",
    "Documentation/networking/net_failover.rst: its example keeps the standby down and brings it up to migrate",
    check,
    sources=(
        Source("linux", "Documentation/networking/net_failover.rst", "virtio-net accelerated datapath: STANDBY mode"),
        Source(
            "linux",
            "Documentation/networking/net_failover.rst",
            "Live Migration of a VM with SR-IOV VF & virtio-net in STANDBY mode",
        ),
        Source("libvirt", "src/qemu/qemu_process.c", "qemuProcessSetLinkStates()"),
    ),
    proofs=(
        "tests/test_lint_rules.py::test_each_variation",
        "tests/test_lint_parse.py::test_libvirt_creates_hostdevs_after_interfaces",
    ),
)
