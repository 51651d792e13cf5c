"""`pair`: run `check`, then build the pair's spec (or refuse when a check failed)."""

from __future__ import annotations

from pcie_failover.commands.check import run_check
from pcie_failover.model.address import DeviceQuery, InputError, MacAddress
from pcie_failover.model.check import CheckOptions
from pcie_failover.model.host import VfAdminList
from pcie_failover.model.report import CheckReport
from pcie_failover.pair.build import Layout, build_spec, failures
from pcie_failover.pair.mac import MacFacts, choose_mac
from pcie_failover.pair.model import PairReport, PairRequest
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.net import NET
from pcie_failover.sysfs.root import SysfsRoot


def _mac_facts(root: SysfsRoot, report: CheckReport) -> MacFacts:
    """The VF's admin MAC and the PF's MAC, read only when --mac was not given."""
    device, pf_netdev = report.device, report.pf_netdev
    if device is None or device.vf_index is None or pf_netdev is None:
        return MacFacts(None, None)
    listing = netlink_for(root).vf_admin(pf_netdev)
    entry = listing.get(device.vf_index) if isinstance(listing, VfAdminList) else None
    pf_mac = attr.optional(root, f"{NET}/{pf_netdev}/address", attr.mac)
    return MacFacts(entry.mac if entry else None, pf_mac if isinstance(pf_mac, MacAddress) else None)


def run_pair(
    root: SysfsRoot, query: DeviceQuery, options: CheckOptions, request: PairRequest, layout: Layout
) -> PairReport:
    """Check the device; refuse on a failure unless forced; raise InputError when no MAC can be chosen."""
    report = run_check(root, query, options, strict=False)
    if report.device is None or (failures(report) and not request.force):
        return PairReport(report, request, None)
    facts = MacFacts(None, None) if request.mac is not None else _mac_facts(root, report)
    chosen = choose_mac(request.mac, facts, report.device.vf_index)
    if chosen is None:
        raise InputError(f"{report.device.bdf}: no VF admin MAC and no PF MAC to derive one from: pass --mac")
    return PairReport(report, request, build_spec(report, request, layout, *chosen))
