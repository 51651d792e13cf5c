"""Config-space decoding: capability walks are bounded and truthful about what was readable."""

from __future__ import annotations

from fixtures_sysfs.builder import DOWNSTREAM_PORT, ROOT_PORT, config_space
from pcie_failover.model.config_space import PortType, parse_config_space


def test_endpoint_with_flr() -> None:
    config = parse_config_space(config_space(0x8086, 0x10CA, 0x020000, length=256))
    assert config is not None
    assert config.pcie is not None
    assert (config.pcie.port_type, config.pcie.flr, config.pcie.slot_implemented) == (PortType.ENDPOINT, True, False)
    assert config.caps_complete


def test_root_port_slot() -> None:
    data = config_space(
        0x8086, 0x2030, 0x060400, header_layout=1, pcie_port_type=ROOT_PORT, slot=(True, 4), buses=(0x5D, 0x5E, 0x5E)
    )
    config = parse_config_space(data)
    assert config is not None
    assert config.pcie is not None
    assert (config.secondary_bus, config.pcie.hotplug_capable, config.pcie.physical_slot) == (0x5E, True, 4)


def test_downstream_port_without_hotplug() -> None:
    data = config_space(0x8086, 0x2030, 0x060400, header_layout=1, pcie_port_type=DOWNSTREAM_PORT, slot=(False, 9))
    config = parse_config_space(data)
    assert config is not None
    assert config.pcie is not None
    assert (config.pcie.port_type, config.pcie.hotplug_capable) == (PortType.DOWNSTREAM_PORT, False)


def test_unprivileged_64_bytes() -> None:
    config = parse_config_space(config_space(0x8086, 0x10CA, 0x020000, length=64))
    assert config is not None
    assert (config.pcie, config.caps_complete) == (None, False)


def test_conventional_device_is_complete_without_pcie() -> None:
    config = parse_config_space(config_space(0x8086, 0x100E, 0x020000, pcie_port_type=None, length=256))
    assert config is not None
    assert (config.pcie, config.caps_complete) == (None, True)


def test_capability_loop_is_bounded() -> None:
    data = bytearray(config_space(0x8086, 0x10CA, 0x020000, pcie_port_type=None, length=256))
    data[0x41] = 0x40  # the PM capability points at itself
    config = parse_config_space(bytes(data))
    assert config is not None
    assert (config.pcie, config.caps_complete) == (None, False)


def test_shorter_than_a_header() -> None:
    assert parse_config_space(b"\xff" * 63) is None
