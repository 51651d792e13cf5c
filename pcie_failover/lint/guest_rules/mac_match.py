"""`mac-match`: the standby's MAC equals its primary's (compared case-insensitively)."""

from __future__ import annotations

from pcie_failover.lint.guest_rules.base import LintRule, no_primary, pairs
from pcie_failover.lint.model import ConfigKind, Device, LintInput
from pcie_failover.model.address import MacAddress
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Source

HINT = "use one MAC for both: the standby's mac= and the VF's admin MAC (ip link set dev PF vf N mac MAC)"


def _primary_mac(lint_input: LintInput, primary: Device) -> tuple[MacAddress | None, str]:
    """The primary's MAC and where it comes from: its own mac= / <mac>, else the host's VF admin MAC.

    A QEMU vfio-pci device has no `mac` property (only libvirt's <interface type='hostdev'> sets one).
    """
    if primary.mac is not None and not _vfio_mac(lint_input, primary):
        return primary.parsed_mac, "its MAC"
    if primary.host is not None:
        return lint_input.host.admin_macs.get(primary.host), f"VF {primary.host}'s admin MAC"
    return None, "its MAC"


def _vfio_mac(lint_input: LintInput, primary: Device) -> bool:
    """`-device vfio-pci,...,mac=`: QEMU refuses to start ("Property 'vfio-pci.mac' not found")."""
    return lint_input.config.kind is ConfigKind.QEMU and primary.driver == "vfio-pci" and primary.mac is not None


def check(lint_input: LintInput) -> Finding:
    """Compare per pair; unknown when the primary's MAC is not known (no host check)."""
    found = pairs(lint_input.config)
    if not found:
        return no_primary()
    problems: list[str] = []
    unknown: list[str] = []
    matched: list[str] = []
    for primary, standby in found:
        if _vfio_mac(lint_input, primary):
            problems.append(
                f"{primary.label}: QEMU refuses mac= on vfio-pci (Property 'vfio-pci.mac' not found); "
                "the VF's MAC is its admin MAC"
            )
            continue
        mac, source = _primary_mac(lint_input, primary)
        wanted = standby.parsed_mac
        if wanted is None:
            unknown.append(f"{standby.label} has no usable MAC (see standby-mac)")
        elif mac is None:
            unknown.append(f"{primary.label}: {source} is not known (no host check)")
        elif mac != wanted:
            problems.append(f"{primary.label}: {source} {mac} differs from {standby.name}'s {wanted}")
        else:
            matched.append(f"{primary.name} {mac}")
    if problems:
        return Finding(Status.FAIL, "; ".join(problems) + ": the guest pairs them by MAC", HINT)
    if unknown:
        return Finding(Status.UNKNOWN, "; ".join(unknown), "run lint on the VF's host (or with --sysfs-root)")
    return Finding(Status.PASS, "same MAC: " + ", ".join(matched))


RULE = LintRule(
    "mac-match",
    Severity.FAIL,
    "the standby's MAC equals the primary's",
    "net/core/failover.c pairs on perm_addr: the VF's admin MAC at probe must be the standby's MAC; QEMU's "
    "vfio-pci has no mac property (QEMU 10: \"Property 'vfio-pci.mac' not found\")",
    check,
    sources=(
        Source("linux", "net/core/failover.c", "failover_get_bymac(), failover_slave_register()"),
        Source("linux", "drivers/net/net_failover.c", "net_failover_create(): the standby's dev_addr"),
        Source("linux", "Documentation/networking/net_failover.rst", "virtio-net accelerated datapath: STANDBY mode"),
        Source("qemu", "hw/vfio/pci.c", "vfio_pci_dev_properties[] (no mac)"),
    ),
    proofs=(
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[mac-mismatch]",
        "tests/test_lint_corpus.py::test_lint_agrees_with_qemu[good-mac-case]",
        "tests/test_lint_rules.py::test_mac_match_needs_the_host_for_a_vfio_primary",
        "tests/lab/test_lint_oracle.py::test_qemu_refuses_mac_on_vfio_pci",
    ),
)
