"""`standby-mac-unique`: two failover standbys of one MAC fail, whatever the case of the MACs, in QEMU words and
libvirt XML; different MACs, one standby or none pass (the lab proof: tests/lab/test_inspect.py)."""

from __future__ import annotations

import pytest

from pcie_failover.lint.command import run_lint
from pcie_failover.lint.model import ConfigKind
from pcie_failover.model.results import Status
from tests.support.lint_configs import GOOD, MAC, XML_GOOD, domain

RP3 = "-device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,slot=3"
RP4 = "-device pcie-root-port,id=rp4,bus=pcie.0,chassis=4,slot=4"


def second_pair(mac: str) -> str:
    """The canonical layout plus net1 + hostdev1 (an emulated primary), both of `mac`."""
    return (
        f"{GOOD} {RP3} {RP4} -netdev tap,id=hostnet1 "
        f"-device virtio-net-pci,netdev=hostnet1,id=net1,mac={mac},bus=rp3,addr=0x0,failover=on "
        f"-device e1000e,mac={mac},romfile=,id=hostdev1,bus=rp4,addr=0x0,failover_pair_id=net1"
    )


def outcome(text: str, kind: ConfigKind = ConfigKind.QEMU) -> tuple[Status, str, set[str]]:
    """standby-mac-unique's status and message, and every rule lint fails."""
    report = run_lint(text, kind, source="x", root=None, why_not="--no-host", version="10.0.2")
    (result,) = [r for r in report.results if r.rule_id == "standby-mac-unique"]
    return result.status, result.message, {r.rule_id for r in report.results if r.status is Status.FAIL}


def test_two_standbys_of_one_mac_fail() -> None:
    status, message, failing = outcome(second_pair(MAC.upper()))
    assert (status, failing) == (Status.FAIL, {"standby-mac-unique"})
    assert message == (
        f"-device virtio-net-pci (id net0) and -device virtio-net-pci (id net1) share MAC {MAC}: the guest pairs a "
        "primary with the first failover master of its MAC (failover_get_bymac()), so these pairs are not told apart"
    )


def test_three_standbys_of_one_mac_are_one_finding() -> None:
    text = second_pair(MAC) + (
        " -device virtio-net-pci,netdev=hostnet2,id=net2,mac=52:54:00:6f:55:CC,bus=pcie.0,addr=0x7,failover=on"
    )
    status, message, _ = outcome(text)
    assert status is Status.FAIL
    assert message.startswith(
        "-device virtio-net-pci (id net0), -device virtio-net-pci (id net1) and -device virtio-net-pci (id net2) "
        f"share MAC {MAC}:"
    )


@pytest.mark.parametrize(
    ("text", "status", "message"),
    [
        (second_pair("52:54:00:6f:55:dd"), Status.PASS, "each standby's MAC is its own"),
        (GOOD, Status.PASS, "each standby's MAC is its own"),
        ("-machine q35", Status.SKIP, "no standby (no virtio-net-pci with failover=on)"),
    ],
)
def test_distinct_macs_pass(text: str, status: Status, message: str) -> None:
    assert outcome(text)[:2] == (status, message)


def test_libvirt_two_teaming_interfaces_of_one_mac() -> None:
    other = XML_GOOD.replace("ua-net0", "ua-net1").replace("ua-hostdev0", "ua-hostdev1").replace("0x5e", "0x5f")
    status, message, _ = outcome(domain(XML_GOOD + other), ConfigKind.LIBVIRT)
    assert status is Status.FAIL
    assert message.startswith(
        f"<interface type='bridge'> #1 and <interface type='bridge'> #3 share MAC {MAC}: the guest pairs a primary"
    )
