"""`check`: read one device, run the host rules, build the report."""

from __future__ import annotations

from pcie_failover.model.address import DeviceQuery
from pcie_failover.model.check import CheckOptions
from pcie_failover.model.report import CheckReport, check_report
from pcie_failover.model.results import verdict_of
from pcie_failover.rules import run_host_rules
from pcie_failover.sysfs.check_input import read_check_input
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.root import SysfsRoot


def run_check(root: SysfsRoot, query: DeviceQuery, options: CheckOptions, strict: bool) -> CheckReport:
    """The whole check of one proposed primary."""
    check_input = read_check_input(root, query, options, netlink_for(root))
    results = run_host_rules(check_input)
    return check_report(check_input, results, verdict_of(results, strict), root.path, strict)
