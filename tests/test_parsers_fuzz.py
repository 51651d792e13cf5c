"""Every parser of outside input, fed anything: it either parses (and round-trips) or says one line."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pcie_failover.audit.record import RecordError, from_json, validate_name
from pcie_failover.lint.libvirt_parse import parse_libvirt
from pcie_failover.lint.qemu_parse import parse_qemu
from pcie_failover.model.address import DeviceQuery, InputError, MacAddress, PciAddress, parse_unicast_mac
from pcie_failover.model.config_space import parse_config_space
from pcie_failover.netinfo import iproute_json
from pcie_failover.netinfo.source import Snapshot, Unavailable, parse_sidecar
from pcie_failover.pair.ids import validate_id
from tests.support.fuzzing import EXAMPLES

SETTINGS = settings(max_examples=EXAMPLES * 20, deadline=None)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


def _one_line(error: Exception) -> None:
    message = str(error)
    assert message
    assert "\n" not in message


@SETTINGS
@given(st.text(max_size=80))
def test_device_query(text: str) -> None:
    try:
        query = DeviceQuery.parse(text)
    except InputError as error:
        _one_line(error)
        return
    if query.address is not None:
        assert PciAddress.parse(str(query.address)) == query.address
    else:
        assert query.ifname == text
        assert "/" not in text
        assert len(text) <= 15


@SETTINGS
@given(st.integers(0, 0xFFFFF), st.integers(0, 255), st.integers(0, 31), st.integers(0, 7))
def test_address_round_trip(domain: int, bus: int, device: int, function: int) -> None:
    address = PciAddress(domain, bus, device, function)
    assert PciAddress.parse(str(address)) == address
    assert PciAddress.parse(str(address).upper()) == address


@SETTINGS
@given(st.text(max_size=40))
def test_mac_and_ids(text: str) -> None:
    for parse in (MacAddress.parse, parse_unicast_mac, lambda t: validate_id(t, "id"), validate_name):
        try:
            value = parse(text)
        except (InputError, RecordError) as error:
            _one_line(error)
        else:
            assert "," not in str(value)
            assert "=" not in str(value)


@SETTINGS
@given(st.binary(max_size=4096))
def test_config_space(data: bytes) -> None:
    config = parse_config_space(data)
    assert (config is None) == (len(data) < 64)


@SETTINGS
@given(json_values)
def test_iproute_json(value: Any) -> None:
    links = value if isinstance(value, list) else [value]
    link = iproute_json.find_link(links, "eth0")
    if link is not None:
        listing = iproute_json.vf_admin_list(link)
        assert all(vf.index >= 0 for vf in listing.vfs)
    iproute_json.addresses_by_interface(links)
    iproute_json.routes_by_interface(links)


@SETTINGS
@given(json_values)
def test_sidecar(value: Any) -> None:
    source = parse_sidecar(json.dumps({"format": "pcie-failover-snapshot", "version": 2, "netlink": value}).encode())
    assert isinstance(source, Snapshot)
    source.vf_admin("eth0")
    source.addresses("eth0")
    source.routes("eth0")
    assert isinstance(parse_sidecar(json.dumps(value).encode()), Snapshot | Unavailable)


@SETTINGS
@given(json_values)
def test_registry_record(value: Any) -> None:
    try:
        record = from_json(value)
    except RecordError as error:
        _one_line(error)
    else:
        assert from_json(record.to_json()) == record


qemu_words = st.sampled_from(
    ["-device", "-netdev", "-machine", "-M", "q35", "virtio-net-pci,id=net0,failover=on", "bus=pcie.0",
     "vfio-pci,host=5e:00.2,id=hostdev0,failover_pair_id=net0", '{"driver":"virtio-net-pci","id":"n"}', "\\",
     "pcie-root-port,id=rp1,chassis=1,slot=1", ",,", "=", "'", '"', "#", "\n", "{", "}", "addr=0x1.0x9"]
)  # fmt: skip


@SETTINGS
@given(st.lists(qemu_words | st.text(max_size=12), max_size=40))
def test_qemu_argv_parser(words: list[str]) -> None:
    try:
        config = parse_qemu(" ".join(words))
    except InputError as error:
        _one_line(error)
    else:
        assert all(device.driver for device in config.devices)


@SETTINGS
@given(st.text(max_size=400), st.integers(0, 200))
def test_libvirt_xml_parser(text: str, depth: int) -> None:
    for document in (text, "<domain>" + "<devices>" * depth + text + "</devices>" * depth + "</domain>"):
        try:
            parse_libvirt(document)
        except InputError as error:
            _one_line(error)
