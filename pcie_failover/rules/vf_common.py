"""Shared by the VF admin rules: find the VF's entry in its PF's netlink VF list."""

from __future__ import annotations

from dataclasses import dataclass

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import NetDevice, PciFunction, Unreadable, VfAdmin
from pcie_failover.model.results import Status
from pcie_failover.rules.base import Finding, target, unknown


@dataclass(frozen=True)
class VfEntry:
    """A VF's admin settings with the names needed to print commands."""

    pf_netdev: str
    index: int
    admin: VfAdmin


def pf_interface(check_input: CheckInput) -> tuple[PciFunction, NetDevice] | Finding:
    """The VF's PF and its interface, or the skip/unknown finding that explains why there are none."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    pf = check_input.pf
    if pf is None:
        return Finding(Status.SKIP, "not a VF")
    if isinstance(pf, Unreadable):
        return unknown("the PF", pf)
    netdev = check_input.pf_netdev
    if isinstance(netdev, Unreadable):
        return unknown("the PF's interface", netdev)
    if netdev is None:
        driver = pf.driver if isinstance(pf.driver, str) else "none"
        return Finding(Status.UNKNOWN, f"PF {pf.address} has no network interface (driver: {driver})")
    return pf, netdev


def vf_entry(check_input: CheckInput) -> VfEntry | Finding:
    """The VF's IFLA_VF_* entry, or the skip/unknown finding that explains why there is none."""
    found = pf_interface(check_input)
    if isinstance(found, Finding):
        return found
    pf, netdev = found
    index = check_input.vf_index
    if not isinstance(index, int):
        return unknown("the VF index", index) if index is not None else Finding(Status.UNKNOWN, "no VF index")
    listing = check_input.vf_admin
    if listing is None:
        return Finding(Status.UNKNOWN, "no VF admin settings were read")
    if isinstance(listing, Unreadable):
        return unknown(f"the VF settings of {netdev.name}", listing)
    admin = listing.get(index)
    if admin is None:
        return Finding(
            Status.UNKNOWN,
            f"netlink lists {len(listing.vfs)} of {_num_vfs(pf)} VFs of {netdev.name}; VF {index} is not among them",
            "a short list means a truncated reply, not a missing VF",
        )
    return VfEntry(netdev.name, index, admin)


def _num_vfs(pf: PciFunction) -> str:
    if pf.sriov is not None and isinstance(pf.sriov.num_vfs, int):
        return str(pf.sriov.num_vfs)
    return "?"


def pf_name(check_input: CheckInput) -> str:
    """The PF's interface name for printed commands."""
    netdev = check_input.pf_netdev
    return netdev.name if isinstance(netdev, NetDevice) else "<PF>"
