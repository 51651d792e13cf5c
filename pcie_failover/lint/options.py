"""QEMU option values: `driver,key=value` (`,,` is a comma) or JSON, booleans, PCI `addr`, integers."""

from __future__ import annotations

import re

from pcie_failover.lint.qemu_words import ConfigError
from pcie_failover.model import bounded_json

_TRUE = {"on", "yes", "true", "y"}
_FALSE = {"off", "no", "false", "n"}
_ADDR = re.compile(r"(?:0x)?([0-9a-f]{1,2})(?:\.(?:0x)?([0-7]))?", re.IGNORECASE)


def _scalar(option: str, key: str, value: object) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, str)):
        return str(value)
    raise ConfigError(f"{option}: JSON value of {key!r} is not a string, number or boolean")


def parse_value(option: str, text: str, implied: str) -> dict[str, str]:
    """Parse an option value; the first classic element without `=` is the `implied` key (driver, type)."""
    if text.lstrip().startswith("{"):
        try:
            document = bounded_json.loads(text)
        except bounded_json.JsonRejectedError as error:
            raise ConfigError(f"JSON refused ({error}): {option}") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{option}: JSON value is not an object")
        return {str(k): _scalar(option, str(k), v) for k, v in document.items()}
    props: dict[str, str] = {}
    for index, element in enumerate(p.replace("\0", ",") for p in text.replace(",,", "\0").split(",")):
        key, equals, value = element.partition("=")
        if not equals:
            if index == 0:
                props[implied] = key
                continue
            props[key] = "on"  # QemuOpts: a bare key is key=on
        else:
            props[key] = value
    return props


def flag(option: str, key: str, value: str | None, default: bool) -> bool:
    """A boolean property as QEMU reads it; raise ConfigError when it is none."""
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"{option}: {key}={value!r} is not on/off")


def number(option: str, key: str, value: str | None) -> int | None:
    """An integer property (decimal or 0x hex); raise ConfigError when malformed."""
    if value is None:
        return None
    try:
        return int(value, 0)
    except ValueError:
        raise ConfigError(f"{option}: {key}={value!r} is not a number") from None


def pci_addr(option: str, value: str | None) -> tuple[int | None, int | None]:
    """`addr=SLOT[.FN]` (hex, optional 0x): slot 0-31, function 0-7."""
    if value is None:
        return None, None
    found = _ADDR.fullmatch(value.strip())
    if found is None or int(found[1], 16) > 31:
        raise ConfigError(f"{option}: addr={value!r} is not SLOT[.FUNCTION] (slot 00-1f, function 0-7)")
    return int(found[1], 16), int(found[2] or "0", 16)


def global_setting(value: str) -> tuple[str, str]:
    """`-global DRIVER.PROP=VALUE` (or `driver=,property=,value=`, or JSON) as ("driver.prop" lower case, value)."""
    if value.lstrip().startswith("{") or value.startswith("driver="):
        props = parse_value(f"-global {value}", value, "driver")
        key, setting = f"{props.get('driver', '')}.{props.get('property', '')}", props.get("value", "")
    else:
        key, _, setting = value.partition("=")
    return key.lower(), setting
