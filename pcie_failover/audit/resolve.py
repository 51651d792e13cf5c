"""Find a registered primary again: at its address, or where its PF and VF index are now; tell which pairs
share one, and which were registered from a copied tree the live host does not have."""

from __future__ import annotations

from pcie_failover.audit.record import PairRecord, PrimaryIdentity, Resolved
from pcie_failover.model.address import PciAddress
from pcie_failover.sysfs.net import interface_with_mac
from pcie_failover.sysfs.pci import identity_at, slot_function, virtfn
from pcie_failover.sysfs.root import SysfsRoot


def _matches(root: SysfsRoot, address: PciAddress, identity: PrimaryIdentity) -> bool:
    found = identity_at(root, address)
    if found is None:
        return False
    same_ids = (identity.vendor in (None, found.vendor)) and (identity.device in (None, found.device))
    return same_ids and (identity.pf_bdf is None or found.physfn == str(identity.pf_bdf))


def resolve(root: SysfsRoot, identity: PrimaryIdentity) -> Resolved:
    """The registered address if the same VF is still there; else the VF index on the PF found by MAC or slot."""
    if _matches(root, identity.bdf, identity):
        return Resolved(identity.bdf, "at its registered address")
    if identity.vf_index is None or identity.pf_bdf is None:
        return Resolved(None, f"{identity.bdf} is gone or is another device, and it has no PF to find it by")
    pf = interface_with_mac(root, identity.pf_mac) if identity.pf_mac is not None else None
    how = "PF interface MAC"
    if pf is None and identity.pf_slot is not None:
        pf, how = slot_function(root, identity.pf_slot, identity.pf_bdf.function), f"slot {identity.pf_slot}"
    if pf is None:
        return Resolved(None, f"{identity.bdf} is gone or is another device, and its PF was not found")
    address = virtfn(root, pf, identity.vf_index)
    if address is None:
        return Resolved(None, f"PF {pf} (found by {how}) has no VF {identity.vf_index}: were its VFs recreated?")
    return Resolved(address, f"moved from {identity.bdf}: VF {identity.vf_index} of PF {pf} (found by {how})")


def foreign(record: PairRecord, root: SysfsRoot) -> bool:
    """Registered from a copied tree, looked for on the live /sys: its primary was never on this host.

    An audit of a copied tree tries every record (a capture of the live host is audited with the live host's
    pairs); only the live audit refuses the records of a tree.
    """
    return root.live and record.sysfs_root not in (None, root.origin)


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
