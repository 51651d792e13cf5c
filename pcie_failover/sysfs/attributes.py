"""Typed attribute reads: a missing optional attribute is None, any other failure Unreadable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pcie_failover.model.address import InputError, MacAddress
from pcie_failover.model.host import Unreadable
from pcie_failover.sysfs.root import SysfsError, SysfsRoot

T = TypeVar("T")


def _parse(rel: str, text: str, parse: Callable[[str], T]) -> T | Unreadable:
    """Every attribute read through here is one line: control characters (never the kernel's) are refused,
    so a doctored copy cannot forge lines in reports, shell hints or the journal."""
    if not text.isprintable():
        return Unreadable(rel, f"unexpected value {text[:40]!r}")
    try:
        return parse(text)
    except (ValueError, InputError):
        return Unreadable(rel, f"unexpected value {text[:40]!r}")


def required(root: SysfsRoot, rel: str, parse: Callable[[str], T]) -> T | Unreadable:
    """An attribute the kernel always creates: missing is Unreadable (the device vanished)."""
    try:
        text = root.read_text(rel)
    except SysfsError as error:
        return Unreadable(rel, error.reason)
    return _parse(rel, text, parse)


def optional(root: SysfsRoot, rel: str, parse: Callable[[str], T]) -> T | None | Unreadable:
    """An attribute the kernel creates only in some cases: missing is None."""
    try:
        text = root.read_text(rel)
    except SysfsError as error:
        return None if error.missing else Unreadable(rel, error.reason)
    return _parse(rel, text, parse)


def optional_lines(root: SysfsRoot, rel: str) -> tuple[str, ...] | None | Unreadable:
    """A multi-line attribute (`uevent`); each line is held to the one-line rule above."""
    try:
        text = root.read_text(rel)
    except SysfsError as error:
        return None if error.missing else Unreadable(rel, error.reason)
    lines = text.splitlines()
    if not all(line.isprintable() for line in lines):
        return Unreadable(rel, "unexpected control characters")
    return tuple(lines)


def link_name(root: SysfsRoot, rel: str) -> str | None | Unreadable:
    """The basename of an optional link's target (`driver`, `module`, `iommu_group`).

    A name with control or non-ASCII characters is no kernel's doing (a doctored copy):
    it is refused rather than printed into reports, shell hints or journal lines.
    """
    try:
        name = root.link_name(rel)
    except SysfsError as error:
        return None if error.missing else Unreadable(rel, error.reason)
    if not (name.isascii() and name.isprintable()) or " " in name or name in ("", ".", ".."):
        return Unreadable(rel, f"unexpected link target {ascii(name)[:60]}")
    return name


def listing(root: SysfsRoot, rel: str) -> tuple[str, ...] | None | Unreadable:
    """Names in an optional directory; names with control characters (never the kernel's) are left out."""
    try:
        return tuple(name for name in root.listdir(rel) if name.isprintable())
    except SysfsError as error:
        return None if error.missing else Unreadable(rel, error.reason)


def hex_int(text: str) -> int:
    """`0x8086` -> 0x8086 (sysfs ids and class)."""
    if not text.lower().startswith("0x"):
        raise ValueError(text)
    return int(text, 16)


def dec_int(text: str) -> int:
    """A decimal attribute such as `numa_node` or `sriov_numvfs`."""
    return int(text, 10)


def flags_int(text: str) -> int:
    """A netdev `flags` attribute (`0x1003`)."""
    return int(text, 16)


def driver_override(root: SysfsRoot, rel: str) -> str | None | Unreadable:
    """`driver_override`: the kernel prints `(null)` when unset."""
    text = optional(root, rel, str)
    return None if text in ("", "(null)") else text


def mac(text: str) -> MacAddress:
    """A netdev `address`."""
    return MacAddress.parse(text)


def words(text: str) -> tuple[str, ...]:
    """A space-separated list such as `reset_method`."""
    return tuple(text.split())
