"""The pair as QMP commands for a running VM: pure, spec -> str (one JSON object per line)."""

from __future__ import annotations

import json
from typing import Any

from pcie_failover.pair.model import BackendKind, PairSpec
from pcie_failover.render.pair_notes import note_lines


def _netdev(spec: PairSpec) -> dict[str, Any]:
    backend = spec.standby.backend
    arguments: dict[str, Any] = {"type": backend.kind.value, "id": spec.standby.netdev_id}
    if backend.kind is BackendKind.TAP:
        arguments["vhost"] = True
    elif backend.kind is BackendKind.BRIDGE:
        arguments["br"] = backend.bridge
    return arguments


def qmp_commands(spec: PairSpec) -> list[dict[str, Any]]:
    """netdev_add, device_add standby, device_add primary; the root ports must exist from the start."""
    standby, primary = spec.standby, spec.primary
    return [
        {"execute": "netdev_add", "arguments": _netdev(spec)},
        {
            "execute": "device_add",
            "arguments": {
                "driver": "virtio-net-pci",
                "netdev": standby.netdev_id,
                "id": standby.id,
                "mac": str(spec.mac),
                "bus": standby.port.id,
                "addr": "0x0",
                "failover": True,
            },
        },
        {
            "execute": "device_add",
            "arguments": {
                "driver": "vfio-pci",
                "host": str(primary.host),
                "id": primary.id,
                "bus": primary.port.id,
                "addr": "0x0",
                "failover_pair_id": standby.id,
            },
        },
    ]


def render_qmp(spec: PairSpec) -> str:
    """`# ` note lines, then one QMP command per line."""
    comments = "".join(f"# {line}\n" for line in note_lines(spec))
    return comments + "".join(json.dumps(command) + "\n" for command in qmp_commands(spec))
