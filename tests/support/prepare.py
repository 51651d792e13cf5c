"""The advice prepare's network-use refusals end with, word for word (prepare/usage.py), for unit and lab tests."""

from __future__ import annotations


def unseen(name: str, what: str) -> str:
    """The advice every network-use refusal ends with (prepare/usage.py)."""
    return (
        f"if nothing uses it, {what} first (a macvlan or ipvlan in a container survives `ip link set down` but is "
        "deleted with the interface, and an ipvlan in another network namespace cannot be seen from here; "
        f"NetworkManager or systemd-networkd bring {name} up again unless told to leave it unmanaged)"
    )


def up_why(name: str) -> str:
    return (
        f"{name} is up: something this host cannot show may use it (an ipvlan in another network namespace, "
        f"AF_PACKET, XDP): {unseen(name, f'`ip link set dev {name} down`')}"
    )


def flush(name: str) -> str:
    return unseen(name, f"`ip address flush dev {name}` and `ip link set dev {name} down`")
