"""Live netlink through iproute2's JSON output (`ip -json`), the field's own tool.

`ip -json -details -0 address show dev PF` sends one RTM_GETLINK for that interface
with IFLA_EXT_MASK = RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS (ipaddr_link_get() in
iproute2 6.1), so a PF with 256 VFs fits in one reply; `ip link show dev PF` omits
SKIP_STATS before iproute2 6.5 and truncates the list past about 220 VFs. It costs a
fork and exec (about 8 ms here) instead of importing a netlink library (pyroute2
alone takes about 0.2 s to import).

`bridge -json fdb show dev IF` (iproute2's other tool) sends RTM_GETNEIGH for AF_BRIDGE; for a device that
is no bridge port and has no fdb of its own the kernel answers with its unicast and multicast address lists
(ndo_dflt_fdb_dump(), net/core/rtnetlink.c), "self permanent": the secondary unicast addresses a macvlan or
macvtap on it added (macvlan_open() -> dev_uc_add()), wherever that macvlan now lives.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from pcie_failover.adapters.programs import SYSTEM_ENV, system_program
from pcie_failover.model import bounded_json
from pcie_failover.model.address import InputError, MacAddress, validate_ifname
from pcie_failover.model.host import Unreadable, VfAdminList
from pcie_failover.netinfo import iproute_json
from pcie_failover.netinfo.source import NetlinkRecord, select_entries

_TIMEOUT_S = 5.0
_OUTPUT_LIMIT = 16 * 1024 * 1024


def unicast_macs(entries: Sequence[object], ifname: str) -> tuple[str, ...] | Unreadable:
    """The unicast MACs among `bridge -json fdb show dev IFNAME`'s entries (multicast, bit 0 of the first octet
    set, left out), in the kernel's order, once each; an entry naming another interface is skipped."""
    found: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            return Unreadable(f"bridge fdb show dev {ifname}", "unexpected output")
        mac, name = entry.get("mac"), entry.get("ifname", ifname)
        if name != ifname:
            continue
        try:
            parsed = MacAddress.parse(mac) if isinstance(mac, str) else None
        except InputError:
            parsed = None
        if parsed is None:
            return Unreadable(f"bridge fdb show dev {ifname}", f"an entry without a valid MAC ({str(mac)[:40]!r})")
        if not parsed.is_multicast and str(parsed) not in found:
            found.append(str(parsed))
    return tuple(found)


def _read_cmdline() -> str | None:
    try:
        with open("/proc/cmdline", encoding="utf-8", errors="replace") as handle:
            return handle.read(65536).strip()
    except OSError:
        return None


class LiveIproute:
    """Netlink facts from the running kernel, through iproute2."""

    def __init__(self) -> None:
        self.ip = system_program("ip")
        self.bridge = system_program("bridge")
        self.kernel_cmdline = _read_cmdline()
        self._addresses: dict[str, tuple[str, ...]] | Unreadable | None = None
        self._routes: dict[str, tuple[str, ...]] | Unreadable | None = None

    def record(self, pf_netdevs: Sequence[str], netdevs: Sequence[str]) -> NetlinkRecord | None:
        """iproute2's JSON for a snapshot: each PF's VF list, the interfaces' addresses and routes."""
        links: list[object] = []
        for pf in pf_netdevs:
            found = self._run("-details", "-0", "address", "show", "dev", pf)
            links.extend(found if isinstance(found, list) else [])
        failed: dict[str, str] = {}
        addresses = self._run("address", "show")
        if isinstance(addresses, Unreadable):
            failed["addresses"] = f"{addresses.path}: {addresses.reason}"
        routes: list[object] = []
        for family in ("-4", "-6"):
            found = self._run(family, "route", "show", "table", "all")
            if isinstance(found, Unreadable):
                failed["routes"] = f"{found.path}: {found.reason}"
            routes.extend(found if isinstance(found, list) else [])
        return NetlinkRecord(
            kernel_release=os.uname().release,
            kernel_cmdline=self.kernel_cmdline,
            links=links,
            addresses=select_entries(addresses if isinstance(addresses, list) else [], "ifname", netdevs),
            routes=select_entries(routes, "dev", netdevs),
            failed=failed,
        )

    def _run(self, *args: str, program: str = "ip") -> list[object] | Unreadable:
        command = " ".join((program, "-json", *args))
        path = self.ip if program == "ip" else self.bridge
        if path is None:
            return Unreadable(command, f"iproute2 (`{program}`) is not installed")
        try:
            done = subprocess.run(
                [path, "-json", *args],
                capture_output=True,
                timeout=_TIMEOUT_S,
                check=False,
                env=SYSTEM_ENV,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return Unreadable(command, str(error))
        if done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            return Unreadable(command, message[0] if message else f"exit status {done.returncode}")
        try:
            parsed = bounded_json.loads(done.stdout[:_OUTPUT_LIMIT])
        except ValueError as error:
            return Unreadable(command, f"unparsable output ({error})")
        return parsed if isinstance(parsed, list) else Unreadable(command, "unexpected output")

    def vf_admin(self, pf_netdev: str) -> VfAdminList | Unreadable:
        """The PF's VF list, one request."""
        links = self._run("-details", "-0", "address", "show", "dev", pf_netdev)
        if isinstance(links, Unreadable):
            return links
        link = iproute_json.find_link(links, pf_netdev)
        if link is None:
            return Unreadable(f"ip link show dev {pf_netdev}", "interface not reported")
        return iproute_json.vf_admin_list(link)

    def addresses(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """Addresses on the interface (one dump of all addresses per run, asked for only when needed)."""
        if self._addresses is None:
            entries = self._run("address", "show")
            self._addresses = (
                entries if isinstance(entries, Unreadable) else iproute_json.addresses_by_interface(entries)
            )
        return self._addresses if isinstance(self._addresses, Unreadable) else self._addresses.get(ifname, ())

    def routes(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """IPv4 and IPv6 routes through the interface, all tables (one dump per family per run)."""
        if self._routes is None:
            entries: list[object] = []
            for family in ("-4", "-6"):
                found = self._run(family, "route", "show", "table", "all")
                if isinstance(found, Unreadable):
                    self._routes = found
                    break
                entries.extend(found)
            else:
                self._routes = iproute_json.routes_by_interface(entries)
        return self._routes if isinstance(self._routes, Unreadable) else self._routes.get(ifname, ())

    def secondary_unicast(self, ifname: str) -> tuple[str, ...] | Unreadable:
        """The unicast addresses in the interface's unicast filter besides its own MAC (see module)."""
        try:
            validate_ifname(ifname)
        except InputError as error:
            return Unreadable(f"bridge fdb show dev {ifname!r}", str(error))
        entries = self._run("fdb", "show", "dev", ifname, program="bridge")
        return entries if isinstance(entries, Unreadable) else unicast_macs(entries, ifname)
