"""Shared by the VF admin rules: find the VF's entry in its PF's netlink VF list."""

from __future__ import annotations

import enum
import shlex

from pcie_failover.model.address import MacAddress
from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import NetDevice, PciFunction, Unreadable, VfAdmin
from pcie_failover.model.record import record
from pcie_failover.model.results import Status
from pcie_failover.model.rule import Finding
from pcie_failover.rules.base import target, unknown


@record
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


def pf_word(check_input: CheckInput) -> str:
    """The PF's interface name quoted for a printed shell command, or the placeholder `<PF>`."""
    netdev = check_input.pf_netdev
    return shlex.quote(netdev.name) if isinstance(netdev, NetDevice) else "<PF>"


class MacOrigin(enum.Enum):
    """Who set the MAC the PF reports for a VF, as far as the host shows it (netlink does not say)."""

    ADMIN = "admin"  # the VF's running driver uses another MAC: this one was set through the PF
    VF_DRIVER = "vf-driver"  # the VF's running host driver uses it: it may have picked it itself
    UNPROVEN = "unproven"  # no host driver runs the VF now: one bound before may have picked it


@record
class MacProvenance:
    """A reported VF MAC's origin, with the VF's own interface when it has one."""

    origin: MacOrigin
    netdev: str | None
    netdev_mac: MacAddress | None


def mac_provenance(check_input: CheckInput, mac: MacAddress) -> MacProvenance:
    """Tell an administrator's MAC from one a VF driver picked, where the VF's own interface shows it.

    A VF driver that finds no MAC picks a random one and hands it to the PF, which then reports it
    like an administrator's; it can only hand over the MAC it uses, so a VF interface using another
    MAC than the PF reports proves the PF's was set behind it ("Reload the VF driver to make this
    change effective"). Without a VF interface nothing on the host tells the two apart.
    """
    netdevs = check_input.netdevs
    others: list[NetDevice] = []
    for netdev in netdevs if isinstance(netdevs, tuple) else ():
        if netdev.address == mac:
            return MacProvenance(MacOrigin.VF_DRIVER, netdev.name, mac)
        if isinstance(netdev.address, MacAddress):
            others.append(netdev)
    if others:
        address = others[0].address
        return MacProvenance(MacOrigin.ADMIN, others[0].name, address if isinstance(address, MacAddress) else None)
    return MacProvenance(MacOrigin.UNPROVEN, None, None)


def proven_admin_mac(check_input: CheckInput) -> MacAddress | None:
    """The VF's reported MAC when it is known to be an administrator's (see `mac_provenance`), else None."""
    mac = check_input.admin_mac
    if mac is None or mac.is_zero or mac.is_multicast:
        return None
    return mac if mac_provenance(check_input, mac).origin is MacOrigin.ADMIN else None
