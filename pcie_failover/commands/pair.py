"""`pair`: run `check`, then build the pair's spec (or refuse when a check failed)."""

from __future__ import annotations

from pcie_failover.commands.check import checked
from pcie_failover.model.address import DeviceQuery, InputError
from pcie_failover.model.check import CheckOptions
from pcie_failover.pair.build import Layout, build_spec, failures
from pcie_failover.pair.mac import MacFacts, choose_mac
from pcie_failover.pair.model import PairReport, PairRequest
from pcie_failover.rules.vf_common import proven_admin_mac
from pcie_failover.sysfs.root import SysfsRoot


def run_pair(
    root: SysfsRoot, query: DeviceQuery, options: CheckOptions, request: PairRequest, layout: Layout
) -> PairReport:
    """Check the device; refuse on a failure unless forced; raise InputError when no MAC can be chosen."""
    check_input, report = checked(root, query, options, strict=False)
    if report.device is None or (failures(report) and not request.force):
        return PairReport(report, request, None)
    facts = MacFacts(proven_admin_mac(check_input), check_input.admin_mac, check_input.pf_mac)
    chosen = choose_mac(request.mac, facts, report.device.vf_index)
    if chosen is None:
        raise InputError(
            f"{report.device.bdf}: no MAC known to be an administrator's and no PF MAC to derive one from: pass --mac"
        )
    return PairReport(report, request, build_spec(report, request, layout, chosen))
