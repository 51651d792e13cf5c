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


def _text(value: object) -> str | None:
    """A string field that may reach a report: one printable line, else None (a doctored snapshot)."""
    return value if isinstance(value, str) and value.isprintable() else None


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
    link_state = entry.get("link_state")  # iproute2 prints auto, enable or disable
    return VfAdmin(
        index=index,
        mac=_mac(entry.get("address", entry.get("mac"))),
        vlan=vlan,
        qos=qos,
        spoofchk=_bool(entry.get("spoofchk")),
        trust=_bool(entry.get("trust")),
        link_state=link_state if link_state in ("auto", "enable", "disable") else None,
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


def addresses_by_interface(entries: Sequence[object]) -> dict[str, tuple[str, ...]]:
    """`local/prefixlen` of every address, by interface (`ip -json address show`)."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("ifname"), str):
            continue
        infos = entry.get("addr_info")
        for info in infos if isinstance(infos, list) else []:
            local = _text(info.get("local")) if isinstance(info, Mapping) else None
            if local is not None and isinstance(info, Mapping):
                found.setdefault(entry["ifname"], []).append(f"{local}/{_int(info.get('prefixlen'))}")
    return {name: tuple(addresses) for name, addresses in found.items()}


def routes_by_interface(entries: Sequence[object]) -> dict[str, tuple[str, ...]]:
    """Destinations routed through each interface (`ip -json route show table all`), without local ones."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("dev"), str):
            continue
        if entry.get("type") in ("local", "broadcast", "multicast", "anycast"):
            continue
        destination = _text(entry.get("dst")) or "?"
        if destination.startswith("fe80:"):
            continue  # every interface that is up has its link-local route
        found.setdefault(entry["dev"], []).append(destination)
    return {name: tuple(routes) for name, routes in found.items()}
