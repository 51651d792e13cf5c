"""Decoding of a PCI configuration space image (the sysfs `config` file): pure, bounded.

Only the 256-byte standard space is read: every rule's fact (PCIe capability, port
type, FLR, slot capabilities) lives there, and on real hardware each config dword
read is a bus cycle, so the 4 KiB extended space would cost 16 times as much.
"""

from __future__ import annotations

import enum

from pcie_failover.model.record import record

_STATUS = 0x06
_STATUS_CAP_LIST = 0x10
_HEADER_TYPE = 0x0E
_CAP_POINTER = 0x34
_SECONDARY_BUS = 0x19
_CAP_ID_PCIE = 0x10
_MAX_CAPS = 48  # (256 - 64) / 4: more means a loop in the list


class PortType(enum.IntEnum):
    """PCI Express capabilities register, device/port type (bits 7:4)."""

    ENDPOINT = 0x0
    LEGACY_ENDPOINT = 0x1
    ROOT_PORT = 0x4
    UPSTREAM_PORT = 0x5
    DOWNSTREAM_PORT = 0x6
    PCIE_TO_PCI_BRIDGE = 0x7
    PCI_TO_PCIE_BRIDGE = 0x8
    RC_INTEGRATED_ENDPOINT = 0x9
    RC_EVENT_COLLECTOR = 0xA


@record
class PcieCapability:
    """The fields of the PCI Express capability that the rules use."""

    port_type: int
    flr: bool  # Device Capabilities bit 28: Function Level Reset
    slot_implemented: bool  # PCIe Capabilities bit 8
    hotplug_capable: bool | None  # Slot Capabilities bit 6; None without a slot
    physical_slot: int | None  # Slot Capabilities bits 31:19; None without a slot


@record
class ConfigSpace:
    """What could be decoded; None means "not in the bytes we were allowed to read"."""

    length: int
    multifunction: bool
    header_layout: int
    secondary_bus: int | None
    pcie: PcieCapability | None  # None: no PCIe capability (only when `caps_complete`)
    caps_complete: bool  # the whole standard capability list was readable


def _u16(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 2], "little")


def _u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], "little")


def _pcie_capability(data: bytes, cap: int) -> PcieCapability | None:
    if cap + 0x18 > len(data):
        return None
    flags = _u16(data, cap + 2)
    slot_implemented = bool(flags & 0x100)
    slot_cap = _u32(data, cap + 0x14) if slot_implemented else None
    return PcieCapability(
        port_type=(flags >> 4) & 0xF,
        flr=bool(_u32(data, cap + 4) & (1 << 28)),
        slot_implemented=slot_implemented,
        hotplug_capable=None if slot_cap is None else bool(slot_cap & 0x40),
        physical_slot=None if slot_cap is None else slot_cap >> 19,
    )


def _find_pcie(data: bytes) -> tuple[int | None, bool]:
    """Offset of the PCIe capability and whether the list was walked to its end."""
    if not _u16(data, _STATUS) & _STATUS_CAP_LIST:
        return None, True
    pointer = data[_CAP_POINTER] & 0xFC
    for _ in range(_MAX_CAPS):
        if pointer == 0:
            return None, True
        if pointer < 0x40 or pointer + 2 > len(data):
            return None, False
        if data[pointer] == _CAP_ID_PCIE:
            return pointer, True
        pointer = data[pointer + 1] & 0xFC
    return None, False


def parse_config_space(data: bytes) -> ConfigSpace | None:
    """Decode a config space image; None when it is shorter than the 64-byte header."""
    if len(data) < 64:
        return None
    header = data[_HEADER_TYPE]
    layout = header & 0x7F
    pcie_offset, complete = _find_pcie(data)
    pcie = _pcie_capability(data, pcie_offset) if pcie_offset is not None else None
    if pcie_offset is not None and pcie is None:
        complete = False
    return ConfigSpace(
        length=len(data),
        multifunction=bool(header & 0x80),
        header_layout=layout,
        secondary_bus=data[_SECONDARY_BUS] if layout == 1 else None,
        pcie=pcie,
        caps_complete=complete and len(data) >= 256,
    )
