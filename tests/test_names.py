"""Vendor and device names: pci.ids searched (never parsed whole) live, udev's database for what it lacks,
a capture's names file elsewhere; a name that is not one printable line is unknown."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import DeviceNames, PciFunction
from pcie_failover.sysfs.host import open_root
from pcie_failover.sysfs.names import (
    NAMES_FILE,
    SystemNames,
    names_document,
    names_for,
    parse_names,
    search_pci_ids,
)
from pcie_failover.sysfs.pci import read_function

DEMO = Path(__file__).parent.parent / "fixtures_sysfs" / "demo-host"
PCI_IDS = b"""#
#\tList of PCI ID's
#
# Syntax:
# vendor  vendor_name
#\tdevice  device_name\t\t\t\t<-- single tab

0001  SafeNet (wrong ID)
15b3  Mellanox Technologies
\t1017  MT27800 Family [ConnectX-5]
\t\t15b3 0020  ConnectX-5 EN Adapter Card
# a comment inside a block
\t1018  MT27800 Family [ConnectX-5 Virtual Function]

8086  Intel Corporation
\t1018  82541EI Gigabit Ethernet Controller
\t1889  Ethernet Adaptive Virtual Function
ffff  Illegal Vendor ID
# List of known device classes
C 02  Network controller
\t00  Ethernet controller"""  # no final newline: the last line counts too
MLX = "Mellanox Technologies"
CX5_VF = "MT27800 Family [ConnectX-5 Virtual Function]"
EXPECTED = {
    (0x15B3, 0x1018): DeviceNames(MLX, CX5_VF),
    (0x8086, 0x1018): DeviceNames("Intel Corporation", "82541EI Gigabit Ethernet Controller"),  # the same id elsewhere
    (0x15B3, 0x1889): DeviceNames(MLX, None),  # the next vendor's device is not Mellanox's
    (0x15B3, 0x0020): DeviceNames(MLX, None),  # a subsystem id is not a device
    (0x0001, 0x0001): DeviceNames("SafeNet (wrong ID)", None),  # the first line
    (0xFFFF, 0x0000): DeviceNames("Illegal Vendor ID", None),  # the class list is no device of it
    (0xC020, 0x0000): DeviceNames(None, None),
}


def test_search_finds_each_vendor_and_device_in_its_own_block() -> None:
    assert search_pci_ids([PCI_IDS], EXPECTED) == EXPECTED


def test_search_gives_the_same_names_in_any_pieces() -> None:
    for cut in range(len(PCI_IDS) + 1):
        assert search_pci_ids([PCI_IDS[:cut], PCI_IDS[cut:]], EXPECTED) == EXPECTED, cut
    assert search_pci_ids([PCI_IDS[i : i + 1] for i in range(len(PCI_IDS))], EXPECTED) == EXPECTED


def test_search_reads_no_further_than_the_last_name_it_needs() -> None:
    lines = PCI_IDS.splitlines(keepends=True)
    pulled: list[bytes] = []

    def pieces() -> Iterator[bytes]:
        for line in lines:
            pulled.append(line)
            yield line

    wanted = {(0x15B3, 0x1018): DeviceNames(MLX, CX5_VF), (0x15B3, 0x1889): DeviceNames(MLX, None)}
    assert search_pci_ids(pieces(), wanted) == wanted
    assert pulled[-1] == b"8086  Intel Corporation\n"  # Mellanox's block has ended there: Intel is not searched


def _function(bdf: str, vendor: int, device: int) -> PciFunction:
    function = read_function(open_root(str(DEMO)), PciAddress.parse("5e:00.2"))
    assert isinstance(function, PciFunction)
    return replace(function, address=PciAddress.parse(bdf), vendor=vendor, device=device)


def test_system_names_from_the_first_pci_ids_present_plain_or_gzip(tmp_path: Path) -> None:
    (tmp_path / "pci.ids").write_bytes(PCI_IDS)
    (tmp_path / "pci.ids.gz").write_bytes(gzip.compress(PCI_IDS.replace(b"Mellanox", b"Gzipped")))
    os.mkfifo(tmp_path / "fifo")  # skipped, never read (a read would hang)
    vf = _function("0000:5e:00.2", 0x15B3, 0x1018)
    for paths, vendor in (
        (("/nonexistent/pci.ids", "fifo", "pci.ids", "pci.ids.gz"), MLX),
        (("fifo", "pci.ids.gz", "pci.ids"), "Gzipped Technologies"),
    ):
        names = SystemNames(tuple(str(tmp_path / p) for p in paths), str(tmp_path / "no-udev"))
        assert names.lookup([vf, vf]) == {(0x15B3, 0x1018): DeviceNames(vendor, CX5_VF)}


def test_udev_database_fills_only_what_pci_ids_lacks(tmp_path: Path) -> None:
    (tmp_path / "pci.ids").write_bytes(PCI_IDS)
    udev = tmp_path / "udev"
    udev.mkdir()
    for bdf, model in (("0000:5e:00.2", "From hwdb"), ("0000:5e:00.3", "Other")):
        (udev / f"+pci:{bdf}").write_text(
            f"I:1\nE:ID_VENDOR_FROM_DATABASE=Hwdb Vendor\nE:ID_MODEL_FROM_DATABASE={model}\nG:x\n"
        )
    known, new, other = (
        _function("0000:5e:00.2", 0x15B3, 0x1018),
        _function("0000:5e:00.2", 0x15B3, 0x1019),
        _function("0000:5e:00.3", 0x15B3, 0x1019),
    )
    names = SystemNames((str(tmp_path / "pci.ids"),), str(udev))
    assert names.lookup([known, new, other]) == {
        (0x15B3, 0x1018): DeviceNames(MLX, CX5_VF),
        (0x15B3, 0x1019): DeviceNames(MLX, "From hwdb"),  # the first function with that id is asked
    }
    without = SystemNames((str(tmp_path / "missing"),), str(udev))
    assert without.lookup([known]) == {(0x15B3, 0x1018): DeviceNames("Hwdb Vendor", "From hwdb")}
    assert SystemNames((), str(tmp_path / "missing")).lookup([known]) == {(0x15B3, 0x1018): DeviceNames()}


EVIL = "Evil\x1b[2J\n<0>\u202e"


def test_a_name_that_is_not_one_printable_line_is_unknown() -> None:
    ids = PCI_IDS.replace(b"MT27800 Family [ConnectX-5 Virtual Function]", b"\x1b[2JForged")
    ids = ids.replace(b"Intel Corporation", b"\xff\xfe not UTF-8")
    assert search_pci_ids([ids], [(0x15B3, 0x1018), (0x8086, 0x1889)]) == {
        (0x15B3, 0x1018): DeviceNames(MLX, None),
        (0x8086, 0x1889): DeviceNames(None, "Ethernet Adaptive Virtual Function"),
    }
    document = names_document({(0x15B3, 0x1018): DeviceNames(EVIL, "x" * 201), (0x8086, 0x1889): DeviceNames("I", "")})
    assert document is not None
    assert parse_names(document) == {(0x15B3, 0x1018): DeviceNames(), (0x8086, 0x1889): DeviceNames("I", None)}


@pytest.mark.parametrize(
    "data",
    [
        b"{",
        b"[]",
        b'{"format": "other", "names": {"15b3:1018": {"vendor": "V", "device": "D"}}}',
        b'{"format": "pcie-failover-pci-names", "names": []}',
        b'{"format": "pcie-failover-pci-names", "names": {"15B3:1018": {"vendor": "V"}, "15b3-1018": {},'
        b' "15b3:10180": {}, "15b3:101g": {}, ":": {}, "15b3:1019": "V D"}}',
        b'{"format": "pcie-failover-pci-names", "names": ' + b"[" * 100 + b"]" * 100 + b"}",
    ],
)
def test_a_malformed_names_file_names_nothing(data: bytes) -> None:
    assert parse_names(data) == {}


def test_a_root_without_a_readable_names_file_shows_ids_only(tmp_path: Path) -> None:
    vf = _function("0000:5e:00.2", 0x15B3, 0x1018)
    assert names_for(open_root(str(DEMO))).lookup([vf]) == {(0x15B3, 0x1018): DeviceNames(MLX, CX5_VF)}
    (tmp_path / "bus/pci/devices").mkdir(parents=True)
    assert names_for(open_root(str(tmp_path))).lookup([vf]) == {}
    (tmp_path / NAMES_FILE).mkdir()  # not a regular file
    assert names_for(open_root(str(tmp_path))).lookup([vf]) == {}


def test_a_capture_records_only_known_names() -> None:
    assert names_document({(0x15B3, 0x1018): DeviceNames()}) is None
    document = names_document({(0x8086, 0x1889): DeviceNames("Intel Corporation", None)})
    assert document == (
        b'{\n "format": "pcie-failover-pci-names",\n "version": 1,\n "names": {\n  "8086:1889": {\n'
        b'   "vendor": "Intel Corporation",\n   "device": null\n  }\n }\n}\n'
    )


@pytest.mark.skipif(not Path("/usr/share/misc/pci.ids").is_file(), reason="no /usr/share/misc/pci.ids here")
def test_the_system_pci_ids_names_a_connectx5_vf() -> None:
    names = SystemNames(udev_data="/nonexistent").lookup([_function("0000:5e:00.2", 0x15B3, 0x1018)])
    assert names == {(0x15B3, 0x1018): DeviceNames(MLX, CX5_VF)}
