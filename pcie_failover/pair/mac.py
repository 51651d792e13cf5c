"""The pair's MAC: the user's, else the VF's admin MAC, else one derived from the PF's MAC."""

from __future__ import annotations

from dataclasses import dataclass

from pcie_failover.model.address import MacAddress
from pcie_failover.pair.model import MacSource

LOCAL_UNICAST = 0x02  # first octet: locally administered (bit 1), unicast (bit 0 clear)


@dataclass(frozen=True)
class MacFacts:
    """What the host says about the VF's MAC; None where absent or unknown."""

    vf_admin: MacAddress | None
    pf: MacAddress | None


def derive_mac(pf_mac: MacAddress, vf_index: int) -> MacAddress:
    """`02:<PF's last three octets>:<VF index, 16 bits>`: stable per VF, distinct across a card's ports."""
    return MacAddress(bytes([LOCAL_UNICAST, *pf_mac.octets[3:], *(vf_index & 0xFFFF).to_bytes(2, "big")]))


def choose_mac(wanted: MacAddress | None, facts: MacFacts, vf_index: int | None) -> tuple[MacAddress, MacSource] | None:
    """`--mac`, else a usable VF admin MAC, else the derived one; None when nothing is known."""
    if wanted is not None:
        return wanted, MacSource.OPTION
    admin = facts.vf_admin
    if admin is not None and not admin.is_zero and not admin.is_multicast:
        return admin, MacSource.VF_ADMIN
    if facts.pf is not None and vf_index is not None:
        return derive_mac(facts.pf, vf_index), MacSource.DERIVED
    return None
