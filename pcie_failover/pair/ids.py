"""Device ids and libvirt aliases, validated as QEMU and libvirt validate them."""

from __future__ import annotations

import re

from pcie_failover.model.address import InputError

MAX_ID_LENGTH = 64
USER_ALIAS_PREFIX = "ua-"
# QEMU util/id.c id_wellformed(): a letter, then letters, digits, '-', '.', '_'.
_QEMU_ID = re.compile(r"[A-Za-z][A-Za-z0-9._-]*")
# libvirt keeps a user alias only of these characters: `virsh define` drops `ua-net.0` (libvirt-alias rule).
_USER_ALIAS = re.compile(r"[A-Za-z0-9_-]+")


def validate_id(text: str, what: str) -> str:
    """Return `text` if QEMU accepts it as a device or netdev id, else raise InputError."""
    if len(text) > MAX_ID_LENGTH:
        raise InputError(f"{what} is longer than {MAX_ID_LENGTH} characters")
    if not _QEMU_ID.fullmatch(text):
        raise InputError(f"{what} {text!a} is not a QEMU id (a letter, then letters, digits, '-', '.' or '_')")
    return text


def user_alias(device_id: str) -> str:
    """The libvirt user alias for a device id: `ua-` prefixed unless it already is."""
    return device_id if device_id.startswith(USER_ALIAS_PREFIX) else USER_ALIAS_PREFIX + device_id


def validate_alias_id(device_id: str, what: str) -> str:
    """Return `device_id` if its libvirt alias `ua-<id>` is one libvirt keeps, else raise InputError."""
    if not _USER_ALIAS.fullmatch(device_id):
        raise InputError(
            f"{what} {device_id!a}: libvirt drops the alias {user_alias(device_id)!a} (only letters, digits, '-', '_')"
        )
    return device_id


def require_distinct(names: dict[str, str]) -> None:
    """Raise InputError when two roles (keys) got the same name (values)."""
    seen: dict[str, str] = {}
    for role, name in names.items():
        if name in seen:
            raise InputError(f"{role} and {seen[name]} would both be {name!r}: choose different ids")
        seen[name] = role


def validate_network_name(text: str) -> str:
    """A libvirt network name: printable ASCII, no '/', at most MAX_ID_LENGTH characters."""
    if not text or len(text) > MAX_ID_LENGTH or "/" in text or not (text.isascii() and text.isprintable()):
        raise InputError(f"--pool {text!a} is not a libvirt network name (printable, no '/', 1-{MAX_ID_LENGTH} chars)")
    return text
