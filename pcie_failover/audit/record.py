"""A registered pair: the primary's identity that survives renumbering, the VM's MAC, who manages it.

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
        raise RecordError(f"{name!r} is not a valid pair name (letters, digits, '_', '.', '-'; 64 at most)")
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
class PairRecord:
    """One registered pair."""

    name: str
    vm: str | None
    primary: PrimaryIdentity
    mac: MacAddress
    manager: Manager

    def to_json(self) -> dict[str, Any]:
        """The registry file's document."""
        p = self.primary
        return {
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


def _optional(data: dict[str, Any], key: str, parse: Any) -> Any:
    value = data.get(key)
    return None if value is None else parse(value)


def from_json(document: object) -> PairRecord:
    """Parse a registry document; RecordError on anything unexpected."""
    try:
        if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
            raise RecordError(f"not a {FORMAT} version {VERSION} document")
        primary = document["primary"]
        if not isinstance(primary, dict):
            raise RecordError("primary is not an object")
        vm = document.get("vm")
        if vm is not None and not isinstance(vm, str):
            raise RecordError("vm is not a string")
        vf_index = primary.get("vf_index")
        if vf_index is not None and (not isinstance(vf_index, int) or isinstance(vf_index, bool)):
            raise RecordError("vf_index is not an integer")
        slot = primary.get("pf_slot")
        return PairRecord(
            name=validate_name(str(document["name"])),
            vm=vm,
            mac=parse_unicast_mac(str(document["mac"])),
            manager=Manager(document["for"]),
            primary=PrimaryIdentity(
                bdf=PciAddress.parse(str(primary["bdf"])),
                vendor=_optional(primary, "vendor", lambda v: int(str(v), 16)),
                device=_optional(primary, "device", lambda v: int(str(v), 16)),
                pf_bdf=_optional(primary, "pf", lambda v: PciAddress.parse(str(v))),
                pf_mac=_optional(primary, "pf_mac", lambda v: MacAddress.parse(str(v))),
                pf_slot=None if slot is None else str(slot),
                vf_index=vf_index,
            ),
        )
    except (KeyError, ValueError, InputError) as error:
        raise RecordError(str(error) if isinstance(error, RecordError) else f"malformed record ({error})") from None


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
        pf_slot=slot.name if isinstance(slot, Slot) else None,
        vf_index=check_input.vf_index if isinstance(check_input.vf_index, int) else None,
    )
