"""A registered pair: the primary's identity that survives renumbering, the VM's MAC, who manages it, and
the sysfs tree it was registered from when that was not the live /sys.

Pure: JSON in, records out; malformed records raise RecordError with one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pcie_failover.model.address import InputError, MacAddress, PciAddress, parse_unicast_mac
from pcie_failover.model.check import CheckInput, Manager
from pcie_failover.model.host import NetDevice, PciFunction, Slot

FORMAT = "pcie-failover-pair"
VERSION = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class RecordError(ValueError):
    """A pair record or name is malformed."""


def validate_name(name: str) -> str:
    """A pair name: a letter or digit, then letters, digits, '_', '.', '-' (64 at most)."""
    if not _NAME.fullmatch(name):
        raise RecordError(f"{name!a} is not a valid pair name (letters, digits, '_', '.', '-'; 64 at most)")
    return name


@dataclass(frozen=True)
class PrimaryIdentity:
    """Where the primary was, and what identifies it if the bus is renumbered."""

    bdf: PciAddress
    vendor: int | None
    device: int | None
    pf_bdf: PciAddress | None
    pf_mac: MacAddress | None  # the PF interface's address when registered
    pf_slot: str | None
    vf_index: int | None


@dataclass(frozen=True)
class Resolved:
    """Where the primary is now (None: not found) and how it was found."""

    address: PciAddress | None
    note: str


@dataclass(frozen=True)
class PairRecord:
    """One registered pair."""

    name: str
    vm: str | None
    primary: PrimaryIdentity
    mac: MacAddress
    manager: Manager
    sysfs_root: str | None = None  # the copied tree it was registered from; None: the live /sys
    mac_from_vf: bool = False  # `mac` is the VF's admin MAC as read at register, not --mac: no proof of an admin's

    def to_json(self) -> dict[str, Any]:
        """The registry file's document (`sysfs_root` only when the pair comes from a copied tree)."""
        p = self.primary
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "vm": self.vm,
            "mac": str(self.mac),
            "for": self.manager.value,
            "primary": {
                "bdf": str(p.bdf),
                "vendor": None if p.vendor is None else f"{p.vendor:04x}",
                "device": None if p.device is None else f"{p.device:04x}",
                "pf": None if p.pf_bdf is None else str(p.pf_bdf),
                "pf_mac": None if p.pf_mac is None else str(p.pf_mac),
                "pf_slot": p.pf_slot,
                "vf_index": p.vf_index,
            },
        }
        if self.sysfs_root is not None:
            document["sysfs_root"] = self.sysfs_root
        if self.mac_from_vf:
            document["mac_from"] = "vf"
        return document


_PRIMARY_KEYS = frozenset({"bdf", "vendor", "device", "pf", "pf_mac", "pf_slot", "vf_index"})
_DOCUMENT_KEYS = frozenset({"format", "version", "name", "vm", "mac", "mac_from", "for", "primary", "sysfs_root"})
_HEX16 = re.compile(r"[0-9a-f]{4}")
_SLOT = re.compile(r"[A-Za-z0-9_+:-][A-Za-z0-9_.+:-]{0,63}")
VM_NAME_LIMIT = 128
MAX_VF_INDEX = 0xFFFF  # TotalVFs is a 16-bit field
PATH_LIMIT = 4096  # PATH_MAX


def validate_vm(vm: str) -> str:
    """A VM name: printable ASCII, 1 to 128 characters (it reaches tables, journal lines and metric labels)."""
    if not (0 < len(vm) <= VM_NAME_LIMIT and vm.isascii() and vm.isprintable()):
        raise RecordError(f"{vm!a} is not a usable VM name (printable ASCII, {VM_NAME_LIMIT} characters at most)")
    return vm


def valid_slot(name: str) -> bool:
    """A PCI slot name the registry may hold: one path component of letters, digits, '_', '.', '+', ':', '-'."""
    return _SLOT.fullmatch(name) is not None


def _string(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise RecordError(f"{key} is not a string")
    return value


def _optional_string(data: dict[str, Any], key: str) -> str | None:
    return None if data.get(key) is None else _string(data, key)


def _hex16(data: dict[str, Any], key: str) -> int | None:
    value = _optional_string(data, key)
    if value is not None and not _HEX16.fullmatch(value):
        raise RecordError(f"{key} is not four lower-case hex digits")
    return None if value is None else int(value, 16)


def _keys(data: dict[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise RecordError(f"unexpected {what} field {unknown[0]!a}")


def _mac_from_vf(document: dict[str, Any]) -> bool:
    source = _optional_string(document, "mac_from")
    if source not in (None, "vf"):
        raise RecordError(f"mac_from {source!a} is not 'vf'")
    return source == "vf"


def _sysfs_root(document: dict[str, Any]) -> str | None:
    root = _optional_string(document, "sysfs_root")
    if root is not None and not (root.startswith("/") and len(root) <= PATH_LIMIT and root.isprintable()):
        raise RecordError(f"sysfs_root {root!a} is not an absolute path of printable characters")
    return root


def _primary(primary: object) -> PrimaryIdentity:
    if not isinstance(primary, dict):
        raise RecordError("primary is not an object")
    _keys(primary, _PRIMARY_KEYS, "primary")
    vf_index = primary.get("vf_index")
    if vf_index is not None and (
        not isinstance(vf_index, int) or isinstance(vf_index, bool) or not 0 <= vf_index <= MAX_VF_INDEX
    ):
        raise RecordError(f"vf_index is not an integer from 0 to {MAX_VF_INDEX}")
    slot = _optional_string(primary, "pf_slot")
    if slot is not None and not valid_slot(slot):
        raise RecordError(f"pf_slot {slot!a} is not a slot name")
    pf = _optional_string(primary, "pf")
    pf_mac = _optional_string(primary, "pf_mac")
    return PrimaryIdentity(
        bdf=PciAddress.parse(_string(primary, "bdf")),
        vendor=_hex16(primary, "vendor"),
        device=_hex16(primary, "device"),
        pf_bdf=None if pf is None else PciAddress.parse(pf),
        pf_mac=None if pf_mac is None else MacAddress.parse(pf_mac),
        pf_slot=slot,
        vf_index=vf_index,
    )


def from_json(document: object) -> PairRecord:
    """Parse a registry document, every field to the grammar `register` writes; RecordError otherwise."""
    try:
        if (
            not isinstance(document, dict)
            or document.get("format") != FORMAT
            or type(document.get("version")) is not int
            or document.get("version") != VERSION
        ):
            raise RecordError(f"not a {FORMAT} version {VERSION} document")
        _keys(document, _DOCUMENT_KEYS, "record")
        vm = _optional_string(document, "vm")
        manager = _string(document, "for")
        if manager not in {m.value for m in Manager}:
            raise RecordError(f"for is not one of {', '.join(m.value for m in Manager)}")
        return PairRecord(
            name=validate_name(_string(document, "name")),
            vm=None if vm is None else validate_vm(vm),
            mac=parse_unicast_mac(_string(document, "mac")),
            manager=Manager(manager),
            primary=_primary(document.get("primary")),
            sysfs_root=_sysfs_root(document),
            mac_from_vf=_mac_from_vf(document),
        )
    except InputError as error:
        raise RecordError(f"malformed record ({error})") from None


def identity_of(check_input: CheckInput) -> PrimaryIdentity | None:
    """The identity of a checked device; None when it was not found."""
    device = check_input.device
    if not isinstance(device, PciFunction):
        return None
    pf = check_input.pf
    netdev = check_input.pf_netdev
    slot = check_input.slot
    return PrimaryIdentity(
        bdf=device.address,
        vendor=device.vendor if isinstance(device.vendor, int) else None,
        device=device.device if isinstance(device.device, int) else None,
        pf_bdf=pf.address if isinstance(pf, PciFunction) else None,
        pf_mac=netdev.address if isinstance(netdev, NetDevice) and isinstance(netdev.address, MacAddress) else None,
        pf_slot=slot.name if isinstance(slot, Slot) and valid_slot(slot.name) else None,
        vf_index=check_input.vf_index if isinstance(check_input.vf_index, int) else None,
    )
