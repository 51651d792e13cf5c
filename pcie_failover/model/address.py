"""PCI addresses, network interface names and MAC addresses: exact parse and format.

Everything a user types is validated here, before any filesystem access.
"""

from __future__ import annotations

import re

from pcie_failover.model.record import record

MAX_INPUT_LENGTH = 64

_BDF = re.compile(
    r"(?:(?P<domain>[0-9a-f]{4,5}):)?(?P<bus>[0-9a-f]{2}):(?P<device>[01][0-9a-f])\.(?P<function>[0-7])",
    re.IGNORECASE,
)
# Linux dev_valid_name(): at most 15 bytes, no '/', ':' or white space, not "." or "..".
# We also keep to printable ASCII, which every real interface name uses.
_IFNAME = re.compile(r"[!-.0-9;-~]{1,15}")
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}", re.IGNORECASE)


class InputError(ValueError):
    """A value typed by the user is malformed; the message is one line."""


def _printable_ascii(text: str, what: str) -> None:
    if not text:
        raise InputError(f"{what} is empty")
    if len(text) > MAX_INPUT_LENGTH:
        raise InputError(f"{what} is longer than {MAX_INPUT_LENGTH} characters")
    if not (text.isascii() and text.isprintable()):
        raise InputError(f"{what} {text!a} contains non-printable or non-ASCII characters")


@record(order=True)
class PciAddress:
    """A PCI function address: domain (up to 5 hex digits, e.g. Intel VMD), bus, device, function."""

    domain: int
    bus: int
    device: int
    function: int

    @classmethod
    def parse(cls, text: str) -> PciAddress:
        """Parse `5e:00.2`, `0000:5e:00.2` or `10000:01:00.0` (any case); raise InputError otherwise."""
        _printable_ascii(text, "PCI address")
        match = _BDF.fullmatch(text)
        if match is None:
            raise InputError(f"{text!r} is not a PCI address (expected [DDDD:]BB:DD.F, device 00-1f, function 0-7)")
        return cls(
            domain=int(match["domain"] or "0", 16),
            bus=int(match["bus"], 16),
            device=int(match["device"], 16),
            function=int(match["function"], 16),
        )

    @classmethod
    def try_parse(cls, text: str) -> PciAddress | None:
        """Parse a sysfs directory name; None when it is not an address."""
        try:
            return cls.parse(text)
        except InputError:
            return None

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.device:02x}.{self.function:x}"

    @property
    def routing_id(self) -> int:
        """The PCIe requester/routing id: bus << 8 | device << 3 | function."""
        return self.bus << 8 | self.device << 3 | self.function


@record
class DeviceQuery:
    """What the user named: a PCI address or a network interface name."""

    text: str
    address: PciAddress | None
    ifname: str | None

    @classmethod
    def parse(cls, text: str) -> DeviceQuery:
        """Accept a PCI address or a valid interface name; raise InputError for anything else."""
        _printable_ascii(text, "device")
        if ":" in text:  # interface names never contain ':'
            return cls(text=text, address=PciAddress.parse(text), ifname=None)
        if not _IFNAME.fullmatch(text) or text in {".", ".."}:
            raise InputError(f"{text!r} is neither a PCI address nor a network interface name")
        return cls(text=text, address=None, ifname=text)


def validate_ifname(text: str) -> str:
    """Return `text` if it is a valid Linux interface name, else raise InputError."""
    _printable_ascii(text, "interface name")
    if not _IFNAME.fullmatch(text) or text in {".", ".."}:
        raise InputError(f"{text!r} is not a valid network interface name")
    return text


@record
class MacAddress:
    """A 48-bit MAC address, kept as six bytes and printed in lower case."""

    octets: bytes

    @classmethod
    def parse(cls, text: str) -> MacAddress:
        """Parse `52:54:00:6f:55:cc` (any case); raise InputError otherwise."""
        _printable_ascii(text, "MAC address")
        if not _MAC.fullmatch(text):
            raise InputError(f"{text!r} is not a MAC address (expected six hex pairs like 52:54:00:6f:55:cc)")
        return cls(bytes.fromhex(text.replace(":", "")))  # six hex pairs, as the pattern checked

    def __str__(self) -> str:
        return self.octets.hex(":")  # each octet as two lower-case hex digits, joined by ':'

    @property
    def is_zero(self) -> bool:
        """All-zero: no MAC assigned."""
        return not any(self.octets)

    @property
    def is_multicast(self) -> bool:
        """The I/G bit is set (multicast or broadcast): never a station address."""
        return bool(self.octets[0] & 1)


def parse_unicast_mac(text: str) -> MacAddress:
    """Parse a MAC a VM may own: not all-zero, not multicast; raise InputError otherwise."""
    mac = MacAddress.parse(text)
    if mac.is_zero:
        raise InputError(f"{text} is all-zero: not a usable MAC address")
    if mac.is_multicast:
        raise InputError(f"{text} is a multicast address: a NIC needs a unicast MAC")
    return mac
