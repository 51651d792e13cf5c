"""Helpers of the host rules: the device under check, and what an unreadable fact gives."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import PciFunction, Unreadable
from pcie_failover.model.results import Status
from pcie_failover.model.rule import Finding


def unknown(what: str, cause: Unreadable) -> Finding:
    """An `unknown` finding that says what could not be read and why."""
    return Finding(Status.UNKNOWN, f"{what} could not be read ({cause})")


def target(check_input: CheckInput) -> PciFunction | Finding:
    """The device under check, or the finding every device rule gives without one."""
    device = check_input.device
    if device is None:
        return Finding(Status.SKIP, "no device to check")
    if isinstance(device, Unreadable):
        return unknown("the device", device)
    return device


def host_path(function: PciFunction) -> str:
    """The device's directory on the real host, for printed commands."""
    return f"/sys/bus/pci/devices/{function.address}"
