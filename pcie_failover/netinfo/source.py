"""Where VF admin settings, addresses and routes come from: live netlink or a snapshot.

On a snapshot root the sidecar file (`pcie-failover-snapshot.json`, written by `capture`
alone: the lab's guests run it too) holds iproute2's JSON; without it, every netlink fact
is unknown. Each PF's link (with its VF list, 256 entries on a big NIC) is in its own file
under `pcie-failover-snapshot.links/`, so a check reads its own PF's only and costs the
same on a host with 16 PFs. Only version 2 is read: version 1, which held the links inline,
was the lab's own format, retired with its re-capture by `capture`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from pcie_failover.model import bounded_json
from pcie_failover.model.host import Unreadable, VfAdminList
from pcie_failover.netinfo import iproute_json

SIDECAR = "pcie-failover-snapshot.json"
SIDECAR_FORMAT = "pcie-failover-snapshot"
SIDECAR_VERSION = 2
SIDECAR_LIMIT = 64 * 1024 * 1024
LINKS_DIR = "pcie-failover-snapshot.links"
PRIVATE_LINK_KEYS = frozenset({"phys_port_id", "phys_switch_id", "phys_port_name"})  # not read: not kept
DUMPS = ("addresses", "routes")
LinkLoader = Callable[[str], "Sequence[object] | Unreadable"]


class NetlinkSource(Protocol):
    """Netlink facts about interfaces, by name."""

    @property
    def kernel_cmdline(self) -> str | None:
        """The kernel command line of the same host (it names IOMMU switches)."""

    def vf_admin(self, pf_netdev: str) -> VfAdminList | Unreadable:
        """The PF's VF list (one RTM_GETLINK with RTEXT_FILTER_VF|RTEXT_FILTER_SKIP_STATS)."""

    def addresses(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """IP addresses on the interface."""

    def routes(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """Route destinations through the interface."""

    def record(self, pf_netdevs: Sequence[str], netdevs: Sequence[str]) -> NetlinkRecord | None:
        """iproute2's JSON for these interfaces, as a snapshot keeps it; None when there is none."""


@dataclass(frozen=True)
class NetlinkRecord:
    """What a snapshot's sidecar holds: iproute2 JSON of links, addresses and routes, and the kernel."""

    kernel_release: str | None
    kernel_cmdline: str | None
    links: list[object]
    addresses: list[object]
    routes: list[object]
    failed: Mapping[str, str] = field(default_factory=dict)  # "addresses", "routes": why that dump failed

    def document(self) -> bytes:
        """The sidecar file (version 2: the links are in `link_files`)."""
        return (
            json.dumps(
                {
                    "format": SIDECAR_FORMAT,
                    "version": SIDECAR_VERSION,
                    "kernel_release": self.kernel_release,
                    "kernel_cmdline": self.kernel_cmdline,
                    "netlink": {"addresses": self.addresses, "routes": self.routes},
                    **({"failed": dict(self.failed)} if self.failed else {}),
                },
                indent=1,
            )
            + "\n"
        ).encode()

    def link_files(self) -> dict[str, bytes]:
        """`LINKS_DIR/<ifname>.json` for each recorded link, as `ip -json -details -0 address show dev` prints it."""
        return {
            f"{LINKS_DIR}/{link['ifname']}.json": (
                json.dumps([{k: v for k, v in link.items() if k not in PRIVATE_LINK_KEYS}]) + "\n"
            ).encode()
            for link in self.links
            if isinstance(link, Mapping) and isinstance(link.get("ifname"), str)
        }


def select_entries(entries: Sequence[object], key: str, names: Sequence[str]) -> list[object]:
    """The iproute2 JSON objects whose `key` (ifname, dev) is one of `names`."""
    wanted = set(names)
    return [e for e in entries if isinstance(e, Mapping) and e.get(key) in wanted]


@dataclass(frozen=True)
class Unavailable:
    """No netlink: a copied tree without a sidecar, or no permission."""

    reason: str
    kernel_cmdline: str | None = None

    def vf_admin(self, pf_netdev: str) -> VfAdminList | Unreadable:
        """Always unknown."""
        return Unreadable(f"netlink {pf_netdev}", self.reason)

    def addresses(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """Always unknown."""
        return Unreadable(f"netlink {ifname}", self.reason)

    def routes(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """Always unknown."""
        return Unreadable(f"netlink {ifname}", self.reason)

    def record(self, pf_netdevs: Sequence[str], netdevs: Sequence[str]) -> NetlinkRecord | None:  # noqa: ARG002
        """Nothing to record."""
        return None


def _list(value: object) -> Sequence[object]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class Snapshot:
    """Netlink facts recorded in a snapshot's sidecar."""

    address_entries: Sequence[object]
    route_entries: Sequence[object]
    kernel_cmdline: str | None
    kernel_release: str | None
    load_link: LinkLoader | None = None  # each link in its own file
    failed: Mapping[str, str] = field(default_factory=dict)  # a dump that failed when the host was captured

    @classmethod
    def from_json(cls, document: Mapping[str, Any], load_link: LinkLoader | None = None) -> Snapshot:
        """Build from the sidecar document (already checked to be a mapping of our format)."""
        netlink = document.get("netlink")
        netlink = netlink if isinstance(netlink, Mapping) else {}
        cmdline = document.get("kernel_cmdline")
        release = document.get("kernel_release")
        failed = document.get("failed")
        failed = failed if isinstance(failed, Mapping) else {}
        return cls(
            address_entries=_list(netlink.get("addresses")),
            route_entries=_list(netlink.get("routes")),
            # strings that reach reports and hints: one printable line, else not known (a doctored sidecar)
            kernel_cmdline=cmdline if isinstance(cmdline, str) and cmdline.isprintable() else None,
            kernel_release=release if isinstance(release, str) and release.isprintable() else None,
            load_link=load_link,
            failed={
                dump: reason
                for dump, reason in failed.items()
                if dump in DUMPS and isinstance(reason, str) and reason.isprintable()
            },
        )

    def _link(self, ifname: str) -> Mapping[str, Any] | Unreadable:
        link = None
        if self.load_link is not None:
            loaded = self.load_link(ifname)
            if isinstance(loaded, Unreadable):
                return loaded
            link = iproute_json.find_link(loaded, ifname)
        return Unreadable(SIDECAR, f"no link {ifname} recorded") if link is None else link

    def vf_admin(self, pf_netdev: str) -> VfAdminList | Unreadable:
        """The recorded `vfinfo_list` of the PF."""
        link = self._link(pf_netdev)
        return link if isinstance(link, Unreadable) else iproute_json.vf_admin_list(link)

    @cached_property
    def _addresses(self) -> dict[str, tuple[str, ...]]:
        return iproute_json.addresses_by_interface(self.address_entries)

    @cached_property
    def _routes(self) -> dict[str, tuple[str, ...]]:
        return iproute_json.routes_by_interface(self.route_entries)

    def addresses(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """Recorded addresses of the interface (unknown when the dump failed on the host)."""
        if "addresses" in self.failed:
            return Unreadable(f"{SIDECAR}: addresses", self.failed["addresses"])
        return self._addresses.get(ifname, ())

    def routes(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """Recorded routes through the interface (unknown when the dump failed on the host)."""
        if "routes" in self.failed:
            return Unreadable(f"{SIDECAR}: routes", self.failed["routes"])
        return self._routes.get(ifname, ())

    def record(self, pf_netdevs: Sequence[str], netdevs: Sequence[str]) -> NetlinkRecord | None:
        """The recorded entries of these interfaces."""
        return NetlinkRecord(
            kernel_release=self.kernel_release,
            kernel_cmdline=self.kernel_cmdline,
            links=[link for link in (self._link(pf) for pf in pf_netdevs) if not isinstance(link, Unreadable)],
            addresses=select_entries(self.address_entries, "ifname", netdevs),
            routes=select_entries(self.route_entries, "dev", netdevs),
            failed=self.failed,
        )


def parse_sidecar(data: bytes, load_link: LinkLoader | None = None) -> Snapshot | Unavailable:
    """Decode a sidecar file's bytes; `load_link` reads one link's file."""
    try:
        document = bounded_json.loads(data)
    except ValueError as error:
        return Unavailable(f"{SIDECAR} is not valid JSON ({error})")
    if not isinstance(document, Mapping) or document.get("format") != SIDECAR_FORMAT:
        return Unavailable(f"{SIDECAR} is not a {SIDECAR_FORMAT} file")
    if document.get("version") != SIDECAR_VERSION:
        return Unavailable(f"{SIDECAR} is not version {SIDECAR_VERSION}: capture the host again")
    return Snapshot.from_json(document, load_link)
