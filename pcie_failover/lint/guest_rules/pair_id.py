"""`pair-id`: every failover_pair_id names an existing virtio-net-pci with failover=on."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, verdict
from pcie_failover.lint.model import Device, LintInput, VmConfig
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = "give the standby `virtio-net-pci,id=ID,failover=on` and the primary `failover_pair_id=ID`"
_NOT_HIDDEN = "QEMU does not hide the primary: it is an ordinary NIC, never unplugged for migration"


def _problem(config: VmConfig, primary: Device) -> str | None:
    named = primary.failover_pair_id
    target = config.device(named or "")
    if target is None:
        return f"{primary.label}: failover_pair_id={named} names no device ({_NOT_HIDDEN})"
    if not target.driver.startswith("virtio-net-pci"):
        return f"{primary.label}: failover_pair_id={named} names a {target.driver}, not a virtio-net-pci"
    if not target.failover:
        return f"{primary.label}: {target.label} has no failover=on ({_NOT_HIDDEN})"
    return None


def check(lint_input: LintInput) -> Finding:
    """Each primary names a real standby; a standby without a primary warns (QEMU: Primary device not found)."""
    config = lint_input.config
    primaries, standbys = config.primaries, config.standbys
    if not primaries and not standbys:
        return Finding(Status.FAIL, "no failover pair: no virtio-net-pci with failover=on, no failover_pair_id", HINT)
    problems = [p for p in (_problem(config, primary) for primary in primaries) if p]
    if problems:
        return verdict(problems, "", HINT)
    named = {p.failover_pair_id for p in primaries}
    lonely = [s.label for s in standbys if s.id not in named]
    if lonely:
        return Finding(
            Status.WARN,
            f"{', '.join(lonely)}: no primary names it (QEMU warns: Primary device not found)",
            "add the primary with failover_pair_id=<standby id> (or hot-plug it later)",
        )
    return Finding(Status.PASS, ", ".join(f"{p.name} -> {p.failover_pair_id}" for p in primaries))


RULE = LintRule(
    "pair-id",
    Severity.FAIL,
    "every failover_pair_id names a virtio-net-pci with failover=on",
    "hw/net/virtio-net.c: a primary is hidden only when its failover_pair_id is a failover=on standby's id",
    check,
    sources=(
        Source("qemu", "hw/net/virtio-net.c", "failover_hide_primary_device(): failover_pair_id vs netclient_name"),
        Source("qemu", "hw/net/virtio-net.c", "virtio_net_device_realize(): the hiding listener only with failover=on"),
        Source("qemu", "hw/net/virtio-net.c", 'failover_add_primary(): "Primary device not found"'),
        Source("qemu", "system/qdev-monitor.c", 'qdev_alias_table[]: "virtio-net" is virtio-net-pci'),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[pair-id-unknown]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[standby-no-failover]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[good-alias-virtio-net]",
        "tests/test_lint_rules.py::test_each_variation",
    ),
)
