"""The one assessment of a device: every host rule over what was read, as a report that carries its verdict.

`check`, `list`, `pair`, `register`, `audit`, `prepare`, `inspect` and lint's host part all assess through
`assess()`; none runs the rules or derives a verdict on its own.
"""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import DeviceNames
from pcie_failover.model.report import CheckReport, check_report
from pcie_failover.rules import run_host_rules


def assess(
    check_input: CheckInput, sysfs_root: str, *, strict: bool = False, names: DeviceNames | None = None
) -> CheckReport:
    """Run the host rules over one device's input; the report's `verdict` and `exit_code` follow from them."""
    return check_report(check_input, run_host_rules(check_input), sysfs_root, strict, names=names)
