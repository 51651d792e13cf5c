"""The pair's MAC: the user's, else the VF's MAC when it is known to be an administrator's, else derived."""

from __future__ import annotations

from dataclasses import dataclass

from pcie_failover.model.address import MacAddress
from pcie_failover.pair.model import MacSource

LOCAL_UNICAST = 0x02  # first octet: locally administered (bit 1), unicast (bit 0 clear)


@dataclass(frozen=True)
class MacFacts:
    """What the host says about the VF's MAC; None where absent or unknown.

    `vf_admin` is the VF's MAC only when it is known to be an administrator's (`proven_admin_mac`);
    `vf_reported` is what the PF reports, whoever set it.
    """

    vf_admin: MacAddress | None
    vf_reported: MacAddress | None
    pf: MacAddress | None


@dataclass(frozen=True)
class MacChoice:
    """The VM's MAC, where it came from, and why the VF's reported MAC was not taken (when it was not)."""

    mac: MacAddress
    source: MacSource
    note: str | None = None


def derive_mac(pf_mac: MacAddress, vf_index: int) -> MacAddress:
    """`02:<PF's last three octets>:<VF index, 16 bits>`: stable per VF, distinct across a card's ports."""
    return MacAddress(bytes([LOCAL_UNICAST, *pf_mac.octets[3:], *(vf_index & 0xFFFF).to_bytes(2, "big")]))


def choose_mac(wanted: MacAddress | None, facts: MacFacts, vf_index: int | None) -> MacChoice | None:
    """`--mac`, else a proven administrator's VF MAC, else the derived one; None when nothing is known."""
    if wanted is not None:
        return MacChoice(wanted, MacSource.OPTION)
    if facts.vf_admin is not None:
        return MacChoice(facts.vf_admin, MacSource.VF_ADMIN)
    if facts.pf is None or vf_index is None:
        return None
    reported = facts.vf_reported
    note = None
    if reported is not None and not reported.is_zero and not reported.is_multicast:
        note = (
            f"the VF's current MAC {reported} was not reused: nothing shows an administrator set it (a VF driver "
            f"may have picked it, and the PF drops such a MAC at the VF's next reset); pass --mac {reported} "
            "to keep it"
        )
    return MacChoice(derive_mac(facts.pf, vf_index), MacSource.DERIVED, note)
