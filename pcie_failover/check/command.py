"""`check`: read one device, run the host rules, build the report."""

from __future__ import annotations

from pcie_failover.assessment import assess
from pcie_failover.model.address import DeviceQuery
from pcie_failover.model.check import CheckInput, CheckOptions
from pcie_failover.model.host import PciFunction
from pcie_failover.model.report import CheckReport
from pcie_failover.netinfo.source import NetlinkSource
from pcie_failover.sysfs.check_input import read_check_input
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.names import device_names
from pcie_failover.sysfs.root import SysfsRoot


def checked(
    root: SysfsRoot, query: DeviceQuery, options: CheckOptions, strict: bool, netlink: NetlinkSource | None = None
) -> tuple[CheckInput, CheckReport]:
    """The whole check of one proposed primary, with what was read (for pair and register); `netlink`: a source
    the caller reads from again (prepare), so that its cached dumps serve both."""
    check_input = read_check_input(root, query, options, netlink or netlink_for(root))
    device = check_input.device
    names = device_names(root, device) if isinstance(device, PciFunction) else None
    return check_input, assess(check_input, root.origin, strict=strict, names=names)


def run_check(root: SysfsRoot, query: DeviceQuery, options: CheckOptions, strict: bool) -> CheckReport:
    """The whole check of one proposed primary."""
    return checked(root, query, options, strict)[1]
