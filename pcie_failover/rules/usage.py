"""Whether a host interface is in use: enslaved, or up with addresses or routes."""

from __future__ import annotations

from pcie_failover.model.host import NetDevice, Unreadable
from pcie_failover.model.record import record


@record
class Usage:
    """`in_use` is None when it could not be told; `why` says what was seen."""

    in_use: bool | None
    why: str


def interface_usage(netdevs: tuple[NetDevice, ...] | Unreadable) -> Usage:
    """In use when any interface is enslaved, or up with addresses or routes."""
    if isinstance(netdevs, Unreadable):
        return Usage(None, f"its interfaces could not be listed ({netdevs})")
    for netdev in netdevs:
        if isinstance(netdev.master, str):
            return Usage(True, f"{netdev.name} is enslaved to {netdev.master}")
        if isinstance(netdev.master, Unreadable):
            return Usage(None, f"{netdev.name}: {netdev.master}")
        if netdev.admin_up is None:
            return Usage(None, f"{netdev.name}: {netdev.flags}")
        if not netdev.admin_up:
            continue
        if isinstance(netdev.ip_addresses, Unreadable):
            return Usage(None, f"{netdev.name} is up and its addresses are unknown ({netdev.ip_addresses.reason})")
        if netdev.ip_addresses:
            return Usage(True, f"{netdev.name} is up with {', '.join(netdev.ip_addresses[:3])}")
        if isinstance(netdev.routes, Unreadable):
            return Usage(None, f"{netdev.name} is up and its routes are unknown ({netdev.routes.reason})")
        if netdev.routes:
            return Usage(True, f"{netdev.name} carries routes to {', '.join(netdev.routes[:3])}")
    return Usage(False, "not in use")
