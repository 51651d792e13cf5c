"""`standby-uplink`: the standby's host backend exists and does not leave through the primary's PF's switch."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import LowerDevice, PciFunction, StandbyBackend, Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import unknown
from pcie_failover.rules.vf_common import pf_word

_SWITCH = "the PF's embedded switch may keep steering the VM's MAC to the unplugged VF"


def _same_switch(standby: StandbyBackend, pf: PciFunction) -> tuple[LowerDevice, ...]:
    """The functions on the standby's path that are the primary's PF or another VF of it."""
    return tuple(d for d in standby.lower_devices if pf.address in (d.address, d.physfn))


def _fdb_hint(check_input: CheckInput, standby: StandbyBackend, fdb_dev: str) -> str:
    q = shlex.quote
    mac = q(str(check_input.options.mac)) if check_input.options.mac else "<VM MAC>"
    index = check_input.vf_index if isinstance(check_input.vf_index, int) else "<N>"
    tap = q(standby.name) if standby.kind == "tap" else "<tap>"
    return (
        "use an uplink on another PF, or once the primary is unplugged (kernel net_failover.rst):\n"
        f"ip link set dev {pf_word(check_input)} vf {index} mac 00:00:00:00:00:00\n"
        f"bridge fdb add {mac} dev {q(fdb_dev)}\n"
        f"bridge fdb add {mac} dev {tap} master"
    )


def check(check_input: CheckInput) -> Finding:
    """Fail a backend that does not exist; warn when its path reaches the primary's PF or a sibling VF."""
    standby = check_input.standby
    if standby is None:
        return Finding(Status.SKIP, "no --standby-netdev given")
    if isinstance(standby, Unreadable):
        return unknown(f"the standby backend {check_input.options.standby_netdev}", standby)
    if standby.kind == "absent":
        return Finding(
            Status.FAIL,
            f"the standby backend {standby.name} does not exist on this host",
            "create it (the bridge or tap the standby's -netdev uses) or name the right one"
            " (check --standby-netdev, pair --netdev)",
        )
    described = f"{standby.name} ({standby.kind})"
    pf = check_input.pf
    if isinstance(pf, PciFunction):
        for device in _same_switch(standby, pf):
            if device.address == pf.address:
                where = "is" if device.ifname == standby.name else "leaves the host through"
                return Finding(
                    Status.WARN,
                    f"{described} {where} the primary's own PF {pf.address} ({device.ifname}): {_SWITCH}",
                    _fdb_hint(check_input, standby, device.ifname),
                )
            return Finding(
                Status.WARN,
                f"{described} leaves the host through {device.ifname} ({device.address}), another VF of the "
                f"primary's PF {pf.address}: {_SWITCH}",
                _fdb_hint(check_input, standby, device.ifname),
            )
    if not standby.lower:
        return Finding(Status.PASS, f"{described} has no uplink")
    return Finding(Status.PASS, f"{described} reaches the wire through {', '.join(standby.lower)}")


RULE = Rule(
    "standby-uplink",
    Severity.FAIL,
    "the standby's backend exists and does not share the primary's PF",
    "Linux Documentation/networking/net_failover.rst bridges a VF of the primary's own PF and adds FDB entries on "
    "that VF and the tap: the PF's embedded switch otherwise keeps delivering the VM's MAC to the unplugged VF; "
    "a backend that does not exist means the standby has no path at all",
    check,
    sources=(Source("linux", "Documentation/networking/net_failover.rst", "Live Migration of a VM with SR-IOV VF"),),
    proofs=(
        "tests/test_pair.py::test_uplink_warning_is_carried",
        "tests/test_rules.py::test_rule_outcome[standby-uplink/uplink-is-pf]",
        "tests/test_rules.py::test_rule_outcome[standby-uplink/uplink-is-sibling-vf]",
        "tests/test_rules.py::test_rule_outcome[standby-uplink/no-such-backend]",
        "tests/test_rules.py::test_rule_outcome[standby-uplink/other-uplink]",
    ),
)
