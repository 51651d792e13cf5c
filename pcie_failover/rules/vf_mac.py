"""`vf-mac`: the VF's MAC is set by an administrator, unicast, and the one the standby will carry."""

from __future__ import annotations

import shlex

from pcie_failover.model.address import MacAddress
from pcie_failover.model.check import CheckInput, Manager
from pcie_failover.model.host import PciFunction
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.vf_common import MacOrigin, VfEntry, mac_provenance, vf_entry

_LIBVIRT_SETS = "libvirt sets it from the hostdev interface's <mac> when the VM starts"
_DROPPED = (
    "the PF reports a MAC a VF driver picked for itself like an administrator's, and drops it at the VF's next "
    "reset (vfio resets the VF when QEMU opens it)"
)


def _flags(entry: VfEntry) -> str:
    def word(value: bool | None, name: str) -> str:
        return f"{name} {'not reported' if value is None else ('on' if value else 'off')}"

    return f"{word(entry.admin.spoofchk, 'spoofchk')}, {word(entry.admin.trust, 'trust')}"


def _set_command(entry: VfEntry, mac: MacAddress | None) -> str:
    # STANDBY_MAC: a word to replace, as pair's DEST_VF; `<standby MAC>` would be a redirection when pasted
    target = shlex.quote(str(mac)) if mac is not None else "STANDBY_MAC"
    return f"ip link set dev {shlex.quote(entry.pf_netdev)} vf {entry.index} mac {target}"


def _provenance(check_input: CheckInput, entry: VfEntry, mac: MacAddress) -> Finding:
    """A usable MAC equal to --mac (or no --mac): pass only when it is known, or asserted, to be the admin's."""
    wanted = check_input.options.mac
    libvirt = check_input.options.manager is Manager.LIBVIRT
    provenance = mac_provenance(check_input, mac)
    device = check_input.device
    driver = device.driver if isinstance(device, PciFunction) and isinstance(device.driver, str) else "driver"
    fix = f"{_set_command(entry, mac)}\n(the PF then keeps it across resets; set the same MAC on the destination's VF)"
    if provenance.origin is MacOrigin.ADMIN:
        return Finding(
            Status.PASS,
            f"admin MAC {mac} ({_flags(entry)}): set through the PF, since the VF's own {provenance.netdev} "
            f"uses {provenance.netdev_mac}",
        )
    if libvirt:
        return Finding(Status.PASS, f"MAC now {mac}, not proof of an administrator's; {_LIBVIRT_SETS}")
    if provenance.origin is MacOrigin.VF_DRIVER:
        return Finding(
            Status.FAIL,
            f"MAC {mac} is the one VF {entry.index}'s host driver {driver} runs {provenance.netdev} with: "
            f"it may have picked it itself; {_DROPPED}",
            fix,
        )
    if wanted is not None and check_input.options.mac_asserted:
        return Finding(
            Status.PASS,
            f"admin MAC {mac} ({_flags(entry)}); --mac asserts it is the administrator's (netlink cannot tell)",
        )
    return Finding(
        Status.WARN,
        f"MAC {mac} is not proof of an administrator's MAC: a VF driver bound to VF {entry.index} before may have "
        f"picked it; {_DROPPED}",
        # lint compares the standby's MAC (not an assertion) and has no --mac to offer
        f"{fix}\n(or pass --mac {shlex.quote(str(mac))} if an administrator set it)"
        if check_input.options.mac_asserted
        else fix,
    )


def check(check_input: CheckInput) -> Finding:
    """net_failover pairs by permanent MAC: the VF's admin MAC must equal the standby's and survive resets."""
    entry = vf_entry(check_input)
    if isinstance(entry, Finding):
        return entry
    mac = entry.admin.mac
    wanted = check_input.options.mac
    libvirt = check_input.options.manager is Manager.LIBVIRT
    if mac is None:
        return Finding(Status.UNKNOWN, f"VF {entry.index}'s admin MAC is not reported by {entry.pf_netdev}")
    problem: str | None = None
    if mac.is_zero:
        problem = (
            "admin MAC is 00:00:00:00:00:00: the guest's VF driver picks a random MAC and net_failover never pairs"
        )
    elif mac.is_multicast:
        problem = f"admin MAC {mac} is a multicast address"
    elif wanted is not None and mac != wanted:
        problem = f"admin MAC {mac} differs from --mac {wanted}: the guest pairs primary and standby by MAC"
    if problem is None:
        return _provenance(check_input, entry, mac)
    if libvirt:
        return Finding(Status.PASS, f"admin MAC now {mac}; {_LIBVIRT_SETS}")
    return Finding(
        Status.FAIL,
        problem,
        f"{_set_command(entry, wanted)}\n(set the same MAC on the destination host's VF before migrating)",
    )


RULE = Rule(
    "vf-mac",
    Severity.FAIL,
    "the VF's MAC is an administrator's, unicast and equal to the standby's",
    "net_failover pairs on perm_addr, the VF's MAC at probe; a VF driver that finds no MAC picks a random one "
    "('MAC address not assigned by administrator') and the PF reports it in IFLA_VF_MAC like an administrator's, "
    "but igb clears and ixgbe withholds it at the VF's reset unless the PF set it, and vfio resets the VF when "
    "QEMU opens it: a reported MAC is proof only when the VF's own interface uses another one (set through the "
    "PF behind its driver), or when --mac asserts it",
    check,
    sources=(
        Source("linux", "net/core/failover.c", "failover_slave_register()"),
        Source("linux", "drivers/net/ethernet/intel/igbvf/netdev.c", "igbvf_probe()"),
        Source("linux", "drivers/net/ethernet/intel/igb/igb_main.c", "igb_vf_reset_event()"),
        Source("linux", "drivers/net/ethernet/intel/igb/igb_main.c", "igb_ndo_set_vf_mac()"),
        Source("linux", "drivers/net/ethernet/intel/ixgbe/ixgbe_sriov.c", "ixgbe_vf_reset_msg()"),
        Source("linux", "drivers/vfio/pci/vfio_pci_core.c", "vfio_pci_core_enable()"),
    ),
    proofs=(
        "tests/lab/test_live_cli.py::test_mac_igbvf_picked_is_not_an_admin_mac",
        "tests/lab/test_live_cli.py::test_ready_vf_in_the_guest",
        "tests/test_captures.py::test_mac_an_igbvf_picked_is_not_an_admin_mac",
        "tests/test_captures.py::test_vf_admin_settings_made_with_iproute2",
        "tests/test_captures.py::test_ready_vf_in_both_hotplug_flavours",
        "tests/test_rules.py::test_rule_outcome[vf-mac/mac-set-behind-driver]",
    ),
)
