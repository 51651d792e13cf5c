"""What the three VF admin rules share (rules/vf_common.py): finding the VF's netlink entry, and who set its MAC."""

from __future__ import annotations

import pytest

from pcie_failover.model.address import MacAddress
from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import NetDevice, Unreadable
from pcie_failover.model.results import Status
from pcie_failover.model.rule import Rule
from pcie_failover.rules import vf_link_state, vf_mac, vf_vlan
from pcie_failover.rules.vf_common import MacOrigin, MacProvenance, mac_provenance, proven_admin_mac
from tests.support.factory import (
    MAC,
    admin,
    admin_list,
    check_input,
    mac,
    netdev,
    outcome,
    pf,
    plain_device,
    sriov,
    unreadable,
)

RULES = [vf_mac.RULE, vf_vlan.RULE, vf_link_state.RULE]
TRUNCATED = "a short list means a truncated reply, not a missing VF"
# Every VF admin rule reports the same when the VF's entry cannot be found.
NO_ENTRY = [
    pytest.param(plain_device(), Status.SKIP, "not a VF", None, id="not-a-vf"),
    pytest.param(check_input(device=None), Status.SKIP, "no device to check", None, id="no-device"),
    pytest.param(
        check_input(device=unreadable("d")),
        Status.UNKNOWN,
        "the device could not be read (d: Permission denied)",
        None,
        id="device-unreadable",
    ),
    pytest.param(
        check_input(pf=unreadable("p")),
        Status.UNKNOWN,
        "the PF could not be read (p: Permission denied)",
        None,
        id="pf",
    ),
    pytest.param(
        check_input(pf_netdev=unreadable("n")),
        Status.UNKNOWN,
        "the PF's interface could not be read (n: Permission denied)",
        None,
        id="pf-interface-unreadable",
    ),
    pytest.param(
        check_input(pf=pf(driver="vfio-pci", netdevs=()), pf_netdev=None, vf_admin=None),
        Status.UNKNOWN,
        "PF 0000:5e:00.0 has no network interface (driver: vfio-pci)",
        None,
        id="pf-without-interface",
    ),
    pytest.param(
        check_input(vf_index=unreadable("x/virtfn0", "points to 0000:5e:00.3, not 0000:5e:00.2")),
        Status.UNKNOWN,
        "the VF index could not be read (x/virtfn0: points to 0000:5e:00.3, not 0000:5e:00.2)",
        None,
        id="index-unreadable",
    ),
    pytest.param(check_input(vf_index=None), Status.UNKNOWN, "no VF index", None, id="no-index"),
    pytest.param(check_input(vf_admin=None), Status.UNKNOWN, "no VF admin settings were read", None, id="no-vf-list"),
    pytest.param(
        check_input(vf_admin=unreadable("netlink enp94s0f0np0", "a copied sysfs tree without a netlink snapshot")),
        Status.UNKNOWN,
        "the VF settings of enp94s0f0np0 could not be read "
        "(netlink enp94s0f0np0: a copied sysfs tree without a netlink snapshot)",
        None,
        id="no-netlink-snapshot",
    ),
    pytest.param(
        check_input(vf_admin=admin_list(admin(1), admin(2))),
        Status.UNKNOWN,
        "netlink lists 2 of 4 VFs of enp94s0f0np0; VF 0 is not among them",
        TRUNCATED,
        id="truncated-list",
    ),
    pytest.param(
        check_input(vf_index=5, vf_admin=admin_list(admin(1)), pf=pf(sriov=sriov(num_vfs=unreadable()))),
        Status.UNKNOWN,
        "netlink lists 1 of ? VFs of enp94s0f0np0; VF 5 is not among them",
        TRUNCATED,
        id="truncated-list-numvfs-unreadable",
    ),
    pytest.param(
        check_input(vf_admin=admin_list(admin(1)), pf=pf(sriov=None)),
        Status.UNKNOWN,
        "netlink lists 1 of ? VFs of enp94s0f0np0; VF 0 is not among them",
        TRUNCATED,
        id="truncated-list-pf-without-sriov",
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=[r.rule_id for r in RULES])
@pytest.mark.parametrize(("given", "status", "message", "hint"), NO_ENTRY)
def test_no_vf_entry(rule: Rule[CheckInput], given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(rule, given) == (status, message, hint)


OTHER = mac("e6:07:34:1a:10:20")


@pytest.mark.parametrize(
    ("netdevs", "expected"),
    [
        pytest.param((), MacProvenance(MacOrigin.UNPROVEN, None, None), id="no-interface"),
        pytest.param(unreadable("x/net"), MacProvenance(MacOrigin.UNPROVEN, None, None), id="interfaces-unreadable"),
        pytest.param((netdev(address=MAC),), MacProvenance(MacOrigin.VF_DRIVER, "eth0", MAC), id="driver-uses-it"),
        pytest.param((netdev(address=OTHER),), MacProvenance(MacOrigin.ADMIN, "eth0", OTHER), id="driver-uses-other"),
        pytest.param(
            (netdev("eth0", address=OTHER), netdev("eth1", address=MAC)),
            MacProvenance(MacOrigin.VF_DRIVER, "eth1", MAC),
            id="any-interface-using-it-wins",
        ),
        pytest.param(
            (netdev("eth0", address=None), netdev("eth1", address=unreadable()), netdev("eth2", address=OTHER)),
            MacProvenance(MacOrigin.ADMIN, "eth2", OTHER),
            id="interfaces-without-a-mac-prove-nothing",
        ),
        pytest.param(
            (netdev(address=None),), MacProvenance(MacOrigin.UNPROVEN, None, None), id="interface-without-mac"
        ),
    ],
)
def test_mac_provenance(netdevs: tuple[NetDevice, ...] | Unreadable, expected: MacProvenance) -> None:
    assert mac_provenance(check_input(netdevs=netdevs), MAC) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(check_input(netdevs=(netdev(address=OTHER),)), MAC, id="proven"),
        pytest.param(check_input(), None, id="unproven"),
        pytest.param(check_input(netdevs=(netdev(address=MAC),)), None, id="the-driver-s-own"),
        pytest.param(
            check_input(netdevs=(netdev(address=OTHER),), vf_admin=admin_list(admin(mac=mac("00:00:00:00:00:00")))),
            None,
            id="zero",
        ),
        pytest.param(
            check_input(netdevs=(netdev(address=OTHER),), vf_admin=admin_list(admin(mac=mac("01:00:5e:00:00:01")))),
            None,
            id="multicast",
        ),
        pytest.param(
            check_input(netdevs=(netdev(address=OTHER),), vf_admin=admin_list(admin(mac=None))), None, id="unset"
        ),
        pytest.param(check_input(vf_index=unreadable()), None, id="index-unknown"),
        pytest.param(plain_device(), None, id="not-a-vf"),
    ],
)
def test_proven_admin_mac(given: CheckInput, expected: MacAddress | None) -> None:
    assert proven_admin_mac(given) == expected
