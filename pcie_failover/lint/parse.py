"""A VM configuration and the QEMU version it is linted for, from what the user gave (pure)."""

from __future__ import annotations

import re

from pcie_failover.lint.libvirt_parse import parse_libvirt
from pcie_failover.lint.model import ConfigKind, VmConfig
from pcie_failover.lint.qemu_parse import parse_qemu
from pcie_failover.model.address import InputError

MAX_CONFIG_BYTES = 1 << 20  # a QEMU command line or a domain XML larger than this is refused unread
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_vm_config(text: str, kind: ConfigKind) -> VmConfig:
    """The parsed VM; raise ConfigError when the text is not one."""
    return parse_qemu(text) if kind is ConfigKind.QEMU else parse_libvirt(text)


def parse_qemu_version(text: str) -> tuple[int, int, int]:
    """`6.1`, `6.1.1`, or a longer string starting so; raise InputError otherwise."""
    found = _VERSION.match(text.strip())
    if found is None:
        raise InputError(f"--qemu-version {text!a} is not MAJOR.MINOR[.MICRO]")
    return int(found[1]), int(found[2]), int(found[3] or 0)
