"""Find a registered primary again: at its address, or where its PF and VF index are now; tell which pairs
share one, and which were registered from a copied tree the live host does not have."""

from __future__ import annotations

from dataclasses import dataclass

from pcie_failover.audit.record import PairRecord, PrimaryIdentity
from pcie_failover.model.address import InputError, MacAddress, PciAddress
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.net import NET, interface_device
from pcie_failover.sysfs.pci import SLOTS, device_link
from pcie_failover.sysfs.root import SysfsRoot


@dataclass(frozen=True)
class Resolved:
    """Where the primary is now (None: not found) and how it was found."""

    address: PciAddress | None
    note: str


def _matches(root: SysfsRoot, address: PciAddress, identity: PrimaryIdentity) -> bool:
    base = device_link(address)
    if not root.exists(base):
        return False
    vendor = attr.required(root, f"{base}/vendor", attr.hex_int)
    device = attr.required(root, f"{base}/device", attr.hex_int)
    same_ids = (identity.vendor in (None, vendor)) and (identity.device in (None, device))
    if identity.pf_bdf is None:
        return same_ids
    physfn = attr.link_name(root, f"{base}/physfn")
    return same_ids and physfn == str(identity.pf_bdf)


def _pf_by_mac(root: SysfsRoot, mac: MacAddress) -> PciAddress | None:
    names = attr.listing(root, NET)
    for name in names if isinstance(names, tuple) else ():
        if attr.optional(root, f"{NET}/{name}/address", str) == str(mac):
            found = interface_device(root, name)
            if isinstance(found, PciAddress):
                return found
    return None


def _pf_by_slot(root: SysfsRoot, slot: str, function: int) -> PciAddress | None:
    address = attr.required(root, f"{SLOTS}/{slot}/address", str)
    if not isinstance(address, str):
        return None
    parts = address.split(":")
    try:
        domain, bus = int(parts[0], 16), int(parts[1], 16)
        device = int(parts[2], 16) if len(parts) > 2 else 0
    except (IndexError, ValueError):
        return None
    return PciAddress(domain, bus, device, function)


def resolve(root: SysfsRoot, identity: PrimaryIdentity) -> Resolved:
    """The registered address if the same VF is still there; else the VF index on the PF found by MAC or slot."""
    if _matches(root, identity.bdf, identity):
        return Resolved(identity.bdf, "at its registered address")
    if identity.vf_index is None or identity.pf_bdf is None:
        return Resolved(None, f"{identity.bdf} is gone or is another device, and it has no PF to find it by")
    pf = _pf_by_mac(root, identity.pf_mac) if identity.pf_mac is not None else None
    how = "PF interface MAC"
    if pf is None and identity.pf_slot is not None:
        pf, how = _pf_by_slot(root, identity.pf_slot, identity.pf_bdf.function), f"slot {identity.pf_slot}"
    if pf is None:
        return Resolved(None, f"{identity.bdf} is gone or is another device, and its PF was not found")
    target = attr.link_name(root, f"{device_link(pf)}/virtfn{identity.vf_index}")
    try:
        address = PciAddress.parse(target) if isinstance(target, str) else None
    except InputError:
        address = None
    if address is None:
        return Resolved(None, f"PF {pf} (found by {how}) has no VF {identity.vf_index}: were its VFs recreated?")
    return Resolved(address, f"moved from {identity.bdf}: VF {identity.vf_index} of PF {pf} (found by {how})")


def foreign(record: PairRecord, root: SysfsRoot) -> bool:
    """Registered from a copied tree, looked for on the live /sys: its primary was never on this host.

    An audit of a copied tree tries every record (a capture of the live host is audited with the live host's
    pairs); only the live audit refuses the records of a tree.
    """
    return root.live and record.sysfs_root not in (None, root.path)


def shared(found: dict[str, Resolved]) -> dict[str, tuple[str, ...]]:
    """Pair name -> the other pairs whose primary is found at the same address now (pairs that share none: absent)."""
    by_address: dict[PciAddress, list[str]] = {}
    for name, resolved in found.items():
        if resolved.address is not None:
            by_address.setdefault(resolved.address, []).append(name)
    return {
        name: tuple(other for other in names if other != name)
        for names in by_address.values()
        if len(names) > 1
        for name in names
    }
