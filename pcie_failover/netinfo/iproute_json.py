"""Pure decoding of iproute2's JSON (`ip -json -details link|address|route show`).

The same structures come from a live `ip` run and from a snapshot's sidecar file, so
one decoder serves both. Unknown or malformed fields give None, never a guess.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pcie_failover.model.address import InputError, MacAddress
from pcie_failover.model.host import VfAdmin, VfAdminList


def _mac(value: object) -> MacAddress | None:
    if not isinstance(value, str):
        return None
    try:
        return MacAddress.parse(value)
    except InputError:
        return None


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _vlan(entry: Mapping[str, Any]) -> tuple[int, int]:
    vlans = entry.get("vlan_list")
    if isinstance(vlans, list) and vlans and isinstance(vlans[0], Mapping):
        return _int(vlans[0].get("vlan")), _int(vlans[0].get("qos"))
    return _int(entry.get("vlan")), _int(entry.get("qos"))


def _vf(entry: Mapping[str, Any]) -> VfAdmin | None:
    index = entry.get("vf")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        return None
    vlan, qos = _vlan(entry)
    link_state = entry.get("link_state")
    return VfAdmin(
        index=index,
        mac=_mac(entry.get("address", entry.get("mac"))),
        vlan=vlan,
        qos=qos,
        spoofchk=_bool(entry.get("spoofchk")),
        trust=_bool(entry.get("trust")),
        link_state=link_state if isinstance(link_state, str) else None,
    )


def find_link(links: Sequence[object], ifname: str) -> Mapping[str, Any] | None:
    """The `ip -json link show` object of interface `ifname`."""
    for link in links:
        if isinstance(link, Mapping) and link.get("ifname") == ifname:
            return link
    return None


def vf_admin_list(link: Mapping[str, Any]) -> VfAdminList:
    """The PF's `vfinfo_list`, decoded; entries that cannot be decoded are left out."""
    entries = link.get("vfinfo_list")
    vfs = [_vf(e) for e in entries if isinstance(e, Mapping)] if isinstance(entries, list) else []
    num_vf = link.get("num_vf")
    return VfAdminList(
        pf_netdev=str(link.get("ifname", "")),
        num_vfs=num_vf if isinstance(num_vf, int) and not isinstance(num_vf, bool) else None,
        vfs=tuple(vf for vf in vfs if vf is not None),
    )


def addresses_of(entries: Sequence[object], ifname: str) -> tuple[str, ...]:
    """`local/prefixlen` of every address on `ifname` (`ip -json address show`)."""
    found: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("ifname") != ifname:
            continue
        for info in entry.get("addr_info") or []:
            if isinstance(info, Mapping) and isinstance(info.get("local"), str):
                found.append(f"{info['local']}/{_int(info.get('prefixlen'))}")
    return tuple(found)


def routes_of(entries: Sequence[object], ifname: str) -> tuple[str, ...]:
    """Destinations routed through `ifname` (`ip -json route show table all`), without local ones."""
    found: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("dev") != ifname:
            continue
        if entry.get("type") in ("local", "broadcast", "multicast", "anycast"):
            continue
        if entry.get("dst", "").startswith("fe80:"):
            continue  # every interface that is up has its link-local route
        found.append(str(entry.get("dst", "?")))
    return tuple(found)
