"""`standby-uplink`: the standby's host backend does not leave through the primary's own PF."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import NetDevice, PciFunction, Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding, Rule, unknown


def check(check_input: CheckInput) -> Finding:
    """Warn when the standby's bridge/macvtap/tap reaches the wire through the VF's PF."""
    standby = check_input.standby
    if standby is None:
        return Finding(Status.SKIP, "no --standby-netdev given")
    if isinstance(standby, Unreadable):
        return unknown(f"the standby backend {check_input.options.standby_netdev}", standby)
    pf = check_input.pf
    described = f"{standby.name} ({standby.kind})"
    if isinstance(pf, PciFunction) and pf.address in standby.lower_pci:
        mac = check_input.options.mac or "<VM MAC>"
        netdev = check_input.pf_netdev
        uplink = netdev.name if isinstance(netdev, NetDevice) else "<PF>"
        index = check_input.vf_index if isinstance(check_input.vf_index, int) else "<N>"
        tap = standby.name if standby.kind == "tap" else "<tap>"
        return Finding(
            Status.WARN,
            f"{described} leaves the host through the primary's own PF {pf.address}: "
            "its embedded switch may keep steering the VM's MAC to the unplugged VF",
            f"use an uplink on another PF, or once the primary is unplugged (kernel net_failover.rst):\n"
            f"ip link set dev {uplink} vf {index} mac 00:00:00:00:00:00\n"
            f"bridge fdb add {mac} dev {uplink}\n"
            f"bridge fdb add {mac} dev {tap} master",
        )
    if not standby.lower:
        return Finding(Status.PASS, f"{described} has no uplink")
    return Finding(Status.PASS, f"{described} reaches the wire through {', '.join(standby.lower)}")


RULE = Rule(
    "standby-uplink",
    Severity.WARN,
    "the standby's backend does not use the primary's PF as uplink",
    "Linux Documentation/networking/net_failover.rst: FDB entries keep traffic on the VF -> bridge -> tap path",
    check,
)
