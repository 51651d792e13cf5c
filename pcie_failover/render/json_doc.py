"""What every JSON document (schema in pcie_failover/schema/) is made of: the envelope, a device, a check result,
the layout; and the error document. Each command's own document is in its folder."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _ascii  # the C escaping json.dumps uses
from typing import Any

from pcie_failover import __version__
from pcie_failover.model.check import CheckOptions
from pcie_failover.model.report import SCHEMA_VERSION, DeviceSummary
from pcie_failover.model.results import RuleResult


def envelope(command: str, sysfs_root: str | None) -> dict[str, Any]:
    """The fields every document starts with."""
    return {"schema_version": SCHEMA_VERSION, "tool_version": __version__, "command": command, "sysfs_root": sysfs_root}


def options_json(options: CheckOptions) -> dict[str, Any]:
    return {
        "for": options.manager.value,
        "mac": None if options.mac is None else str(options.mac),
        "allow_pf": options.allow_pf,
        "standby_netdev": options.standby_netdev,
    }


def device_json(summary: DeviceSummary) -> dict[str, Any]:
    """A device summary as the schema's `device`."""
    return {
        "bdf": summary.bdf,
        "vendor": summary.vendor,
        "device": summary.device,
        "class": summary.pci_class,
        "driver": summary.driver,
        "pf": summary.pf,
        "vf_index": summary.vf_index,
        "iommu_group": summary.iommu_group,
        "slot": summary.slot,
        "numa_node": summary.numa_node,
        "netdevs": list(summary.netdevs),
        "vendor_name": summary.vendor_name,
        "device_name": summary.device_name,
    }


def check_json(result: RuleResult) -> dict[str, Any]:
    """One rule result as the schema's `checkResult`."""
    return {
        "id": result.rule_id,
        "severity": result.severity.value,
        "status": result.status.value,
        "message": result.message,
        "hint": result.hint,
    }


class _UnlaidError(Exception):
    """A value `_layout` leaves to json.dumps (a float, a key that is not a string, another type)."""


def _layout(value: object, indent: str, keys: dict[str, str]) -> str:
    """`value` as json.dumps(indent=2, ensure_ascii=True) lays it out at `indent`, byte for byte.

    json.dumps lays out indented JSON with its pure-Python encoder (the C one only when indent is None);
    here strings go through the same C escaping (encode_basestring_ascii) and containers are joined
    directly, each key escaped once per document (`keys`). Checked against json.dumps in
    tests/test_json_layout.py.
    """
    if isinstance(value, str):
        return _ascii(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    inner = indent + "  "
    between = ",\n" + inner
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = []
        for key, item in value.items():
            laid = keys.get(key)
            if laid is None:
                if not isinstance(key, str):
                    raise _UnlaidError
                laid = keys[key] = _ascii(key) + ": "
            if item.__class__ is str:  # most values: laid out here, without a call
                items.append(laid + _ascii(item))
            elif item is None:
                items.append(laid + "null")
            else:
                items.append(laid + _layout(item, inner, keys))
        return f"{{\n{inner}{between.join(items)}\n{indent}}}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return f"[\n{inner}{between.join([_layout(item, inner, keys) for item in value])}\n{indent}]"
    raise _UnlaidError


def dump(document: dict[str, Any]) -> str:
    """Indented JSON with a final newline."""
    # ASCII only: a C1 control or a bidi override from a VM's ids or a copied tree reaches a terminal as \uXXXX
    try:
        return _layout(document, "", {}) + "\n"
    except (_UnlaidError, RecursionError):  # what json.dumps does with it (a float, a TypeError, a ValueError)
        return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def render_error(command: str, sysfs_root: str | None, code: int, kind: str, message: str) -> str:
    """An error, as JSON, when the user asked for JSON."""
    document = envelope(command, sysfs_root or "")
    document["sysfs_root"] = sysfs_root
    document["error"] = {"code": code, "kind": kind, "message": message}
    return dump(document)
