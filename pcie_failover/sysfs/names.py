"""Vendor and device names of PCI ids, as lspci prints them: the system's pci.ids live, a capture's record elsewhere.

Live: the first of /usr/share/misc/pci.ids and /usr/share/hwdata/pci.ids (then their `.gz`) that
exists: the database lspci and dpdk-devbind name devices from. It is 1.3 MB, so it is never parsed:
each wanted vendor's line is searched for (bytes.find), then one regular expression finds the
device's line or the end of that vendor's block (about 1 ms for Intel's, the longest); a `.gz` is
inflated only until every wanted block is complete. What pci.ids lacks comes from udev's database
(`/run/udev/data/+pci:<bdf>`: ID_VENDOR_FROM_DATABASE, ID_MODEL_FROM_DATABASE), only as a
fallback: its hwdb gives the *subsystem's* model where it has one, which is not lspci's device name.
Elsewhere (`--sysfs-root`): `pcie-failover-snapshot.names.json`, which `capture` writes with the
names of the captured functions' ids; a tree without it shows ids only.
A name is one printable line of at most 200 characters, else unknown (a copied tree is untrusted).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import BinaryIO

from pcie_failover.model import bounded_json
from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import DeviceNames, PciFunction
from pcie_failover.sysfs.root import SysfsError, SysfsRoot

PCI_IDS = (
    "/usr/share/misc/pci.ids",
    "/usr/share/hwdata/pci.ids",
    "/usr/share/misc/pci.ids.gz",
    "/usr/share/hwdata/pci.ids.gz",
)
UDEV_DATA = "/run/udev/data"
NAMES_FILE = "pcie-failover-snapshot.names.json"
NAMES_FORMAT = "pcie-failover-pci-names"
NAMES_LIMIT = 1024 * 1024
IDS_LIMIT = 16 * 1024 * 1024  # pci.ids, inflated: 1.3 MB in 2023
_INFLATE_CHUNK = 256 * 1024
_MAX_NAME = 200
_HEX = frozenset("0123456789abcdef")

Ids = tuple[int, int]  # (vendor, device)


def ids_of(function: PciFunction) -> Ids | None:
    """The function's (vendor, device), None when either is unreadable."""
    vendor, device = function.vendor, function.device
    return (vendor, device) if isinstance(vendor, int) and isinstance(device, int) else None


def _name(raw: object) -> str | None:
    """A name as shown: one printable line, not empty, at most _MAX_NAME characters; else None."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    return text if text and len(text) <= _MAX_NAME and text.isprintable() else None


# -- the live host: pci.ids, then udev's database ----------------------------------------------


def _open_regular(path: str) -> BinaryIO | None:
    """`path` opened for reading if it is a regular file (never a FIFO or a device), else None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def _inflated(handle: BinaryIO) -> Iterator[bytes]:
    """A gzip file's content, piece by piece (the caller stops when it has what it wants)."""
    import zlib  # only for a compressed pci.ids

    inflate = zlib.decompressobj(wbits=31)  # gzip header and trailer
    total = 0
    while total < IDS_LIMIT and not inflate.eof:
        data = inflate.unconsumed_tail or handle.read(_INFLATE_CHUNK)
        if not data:
            return
        try:
            chunk = inflate.decompress(data, _INFLATE_CHUNK)
        except zlib.error:
            return  # a damaged file: what came before it is still searched
        total += len(chunk)
        yield chunk


def _vendor_line(text: bytes, needle: bytes, since: int) -> int:
    """Where the line that starts with `needle` begins, searched from `since`; -1 when no line does."""
    if since == 0 and text.startswith(needle):
        return 0
    at = text.find(b"\n" + needle, since)
    return at + 1 if at >= 0 else -1


def _find(text: bytes, ids: Ids, since: int, complete: bool) -> DeviceNames | int:
    """The names of `ids` in pci.ids `text`, the vendor's line searched for from `since`.

    pci.ids: `vendor  name` lines at the start of a line, each followed by its `<TAB>device  name`
    lines (and `<TAB><TAB>` subsystem lines, comments, blank lines); the vendor list ends at the
    `C xx` class lines. Ids are lower-case hex. When `text` is a prefix (not `complete`) that may
    not hold the names yet, the result is where to search from once it has grown.
    """
    vendor, device = ids
    line = _vendor_line(text, b"%04x  " % vendor, since)
    end = text.find(b"\n", line) if line >= 0 else -1
    if line >= 0 and end < 0 and complete:
        end = len(text)
    if end < 0:
        return DeviceNames() if complete else max(line - 1, 0) if line >= 0 else max(len(text) - 7, 0)
    ending = rb"(?:\n|\Z)" if complete else rb"\n"  # a prefix's last line may be cut short
    found = re.compile(rb"\n(?:\t%04x  ([^\n]*)%s|[0-9a-fA-FC])" % (device, ending)).search(text, end)
    if found is None and not complete:
        return max(line - 1, 0)  # the vendor's block may go on beyond this prefix
    return DeviceNames(_name(text[line + 6 : end]), None if found is None else _name(found[1]))


def search_pci_ids(chunks: Iterable[bytes], wanted: Collection[Ids]) -> dict[Ids, DeviceNames]:
    """The names of `wanted` in pci.ids given as successive pieces, reading no further than needed.

    The text is searched where it lies: a copy of 1.3 MB costs more than the search (page faults).
    """
    text = b""
    since = dict.fromkeys(wanted, 0)
    found: dict[Ids, DeviceNames] = {}
    for chunk in chunks:
        text = text + chunk if text else chunk
        for ids in wanted:
            result = found.get(ids) or _find(text, ids, since[ids], complete=False)
            if isinstance(result, DeviceNames):
                found[ids] = result
            else:
                since[ids] = result
        if len(found) == len(wanted):
            return found
    for ids in wanted:
        result = found.get(ids) or _find(text, ids, since[ids], complete=True)
        found[ids] = result if isinstance(result, DeviceNames) else DeviceNames()
    return found


def _udev(directory: str, address: PciAddress) -> DeviceNames:
    """The hwdb names udev recorded for the device (`E:ID_VENDOR_FROM_DATABASE=...`); unknown when it has none."""
    handle = _open_regular(f"{directory}/+pci:{address}")
    if handle is None:
        return DeviceNames()
    try:
        with handle:
            data = handle.read(64 * 1024)
    except OSError:
        return DeviceNames()
    values = {key: value for key, _, value in (line.partition(b"=") for line in data.split(b"\n"))}
    return DeviceNames(_name(values.get(b"E:ID_VENDOR_FROM_DATABASE")), _name(values.get(b"E:ID_MODEL_FROM_DATABASE")))


class SystemNames:
    """The running host's databases (a plain class: a dataclass costs 0.4 ms of start-up on the check path)."""

    def __init__(self, pci_ids: tuple[str, ...] = PCI_IDS, udev_data: str = UDEV_DATA) -> None:
        self.pci_ids = pci_ids
        self.udev_data = udev_data

    def _from_pci_ids(self, wanted: Collection[Ids]) -> dict[Ids, DeviceNames]:
        for path in self.pci_ids:
            handle = _open_regular(path)
            if handle is None:
                continue
            try:
                with handle:
                    size = min(os.fstat(handle.fileno()).st_size, IDS_LIMIT)  # read(IDS_LIMIT) would allocate it
                    chunks = _inflated(handle) if path.endswith(".gz") else iter((handle.read(size),))
                    return search_pci_ids(chunks, wanted)
            except OSError:
                return {}
        return {}

    def lookup(self, functions: Iterable[PciFunction]) -> dict[Ids, DeviceNames]:
        """pci.ids for each distinct id, then udev's database (of the first function with that id) for what it lacks."""
        first: dict[Ids, PciAddress] = {}
        for function in functions:
            ids = ids_of(function)
            if ids is not None:
                first.setdefault(ids, function.address)
        found = self._from_pci_ids(first) if first else {}
        for ids, address in first.items():
            names = found.get(ids, DeviceNames())
            if names.vendor is None or names.device is None:
                udev = _udev(self.udev_data, address)
                names = DeviceNames(names.vendor or udev.vendor, names.device or udev.device)
            found[ids] = names
        return found


# -- a capture: the names recorded with it -----------------------------------------------------


class RecordedNames:
    """The names a capture recorded (none for a tree without them)."""

    def __init__(self, names: Mapping[Ids, DeviceNames]) -> None:
        self.names = names

    def lookup(self, functions: Iterable[PciFunction]) -> dict[Ids, DeviceNames]:
        """The recorded names of the functions' ids."""
        wanted = {ids_of(function) for function in functions}
        return {ids: names for ids, names in self.names.items() if ids in wanted}


def parse_names(data: bytes) -> dict[Ids, DeviceNames]:
    """Decode a names file; anything malformed is left out (those ids then show without names)."""
    try:
        document = bounded_json.loads(data)
    except ValueError:
        return {}
    entries = document.get("names") if isinstance(document, dict) and document.get("format") == NAMES_FORMAT else None
    found: dict[Ids, DeviceNames] = {}
    for key, value in entries.items() if isinstance(entries, dict) else ():
        vendor, colon, device = key.partition(":")
        if colon and len(vendor) == len(device) == 4 and _HEX.issuperset(vendor + device) and isinstance(value, dict):
            names = DeviceNames(_name(value.get("vendor")), _name(value.get("device")))
            found[(int(vendor, 16), int(device, 16))] = names
    return found


NameSource = SystemNames | RecordedNames  # each has `lookup(functions) -> {(vendor, device): DeviceNames}`


def names_for(root: SysfsRoot) -> NameSource:
    """The live host's databases for the running kernel's /sys; the recorded names for any other root."""
    if root.live:
        return SystemNames()
    try:
        data = root.read_bytes(NAMES_FILE, NAMES_LIMIT)
    except SysfsError:
        return RecordedNames({})  # missing, or not a regular file: ids only
    return RecordedNames(parse_names(data))


def device_names(root: SysfsRoot, function: PciFunction) -> DeviceNames | None:
    """The names of one function's ids (a single-device command); None when its ids are unreadable."""
    ids = ids_of(function)
    return None if ids is None else names_for(root).lookup([function]).get(ids)


def names_document(names: Mapping[Ids, DeviceNames]) -> bytes | None:
    """The names file a capture records (`NAMES_FILE`); None when no name is known."""
    known = {ids: n for ids, n in names.items() if n.vendor is not None or n.device is not None}
    if not known:
        return None
    entries = {f"{v:04x}:{d:04x}": {"vendor": n.vendor, "device": n.device} for (v, d), n in sorted(known.items())}
    return (json.dumps({"format": NAMES_FORMAT, "version": 1, "names": entries}, indent=1) + "\n").encode()
