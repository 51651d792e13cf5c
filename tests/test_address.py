"""Address, interface-name and MAC parsing: exact round trips and refusals before any read."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pcie_failover.model.address import DeviceQuery, InputError, MacAddress, PciAddress, parse_unicast_mac
from pcie_failover.sysfs import root as root_module
from tests.support.cli import Run


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("5e:00.2", "0000:5e:00.2"),
        ("0000:5E:00.2", "0000:5e:00.2"),
        ("10000:01:00.0", "10000:01:00.0"),
        ("ffff:ff:1f.7", "ffff:ff:1f.7"),
    ],
)
def test_address_round_trip(text: str, canonical: str) -> None:
    address = PciAddress.parse(text)
    assert str(address) == canonical
    assert PciAddress.parse(canonical) == address


def test_routing_id() -> None:
    assert PciAddress.parse("0000:5e:00.2").routing_id == 0x5E02
    assert PciAddress.parse("0000:01:10.6").routing_id == 0x0186


@pytest.mark.parametrize(
    "text",
    ["zz:zz.z", "5e:00.8", "5e:20.0", "5e:0.2", "000:5e:00.2", "100000:5e:00.2", "../../etc/passwd", "", "x" * 65,
     "eth0\x00", "eth\udcff", "a/b", "..", ".", "eth 0", "sixteen-chars-xx", "éth0"],
)  # fmt: skip
def test_query_refused(text: str) -> None:
    with pytest.raises(InputError):
        DeviceQuery.parse(text)


@pytest.mark.parametrize("name", ["eth0", "enp94s0f0v2", "br-lan.100", "vnet0", "a" * 15])
def test_interface_names_accepted(name: str) -> None:
    query = DeviceQuery.parse(name)
    assert (query.address, query.ifname) == (None, name)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("00:00:00:00:00:00", "all-zero"),
        ("01:00:5e:00:00:01", "multicast"),
        ("ff:ff:ff:ff:ff:ff", "multicast"),
        ("52:54:00:6f:55", "not a MAC"),
        ("52-54-00-6f-55-cc", "not a MAC"),
        ("52:54:00:6f:55:cc,x=1", "not a MAC"),
    ],
)
def test_mac_refused(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_unicast_mac(text)


def test_mac_case_insensitive() -> None:
    assert MacAddress.parse("52:54:00:6F:55:CC") == MacAddress.parse("52:54:00:6f:55:cc")
    assert str(parse_unicast_mac("52:54:00:6F:55:CC")) == "52:54:00:6f:55:cc"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check", "zz:zz.z"), "pcie-failover check: 'zz:zz.z' is not a PCI address"),
        (("check", "../../etc/passwd"), "pcie-failover check: '../../etc/passwd' is neither a PCI address"),
        (("check", ""), "pcie-failover check: device is empty"),
        (("check", "5e:00.2", "--mac", "01:00:5e:00:00:01"), "pcie-failover check: 01:00:5e:00:00:01 is a multicast"),
        (("check", "5e:00.2", "--standby-netdev", "../x"), "pcie-failover check: '../x' is not a valid network"),
        (("check", "5e:00.2", "--for", "xen"), "pcie-failover check: Invalid value for '--for'"),
        (("check",), "pcie-failover check: Missing argument 'DEVICE' (try 'pcie-failover check --help')"),
    ],
)
def test_bad_input_is_one_line_exit_2_before_any_read(
    args: tuple[str, ...], message: str, cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_reads(*_: object) -> None:
        raise AssertionError("the filesystem was touched")

    monkeypatch.setattr(root_module.SysfsRoot, "__init__", no_reads)
    run = cli("--sysfs-root", "/nonexistent", *args)
    assert run.code == 2
    assert run.out == ""
    assert run.err.startswith(message)
    assert run.err.count("\n") == 1
