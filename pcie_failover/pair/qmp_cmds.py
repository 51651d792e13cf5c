"""The pair as QMP commands for a running VM: pure, spec -> str (one JSON object per line)."""

from __future__ import annotations

import json
from typing import Any

from pcie_failover.pair.model import BackendKind, PairSpec, macvtap_name
from pcie_failover.pair.notes import note_lines


def fd_name(spec: PairSpec) -> str:
    """The name `getfd` gives the macvtap's file descriptor (not starting with a digit, as QEMU requires)."""
    return f"fd-{spec.standby.netdev_id}"


def _netdev(spec: PairSpec) -> list[dict[str, Any]]:
    """netdev_add, after getfd for a macvtap (its fd passed with the command, SCM_RIGHTS)."""
    backend, netdev_id = spec.standby.backend, spec.standby.netdev_id
    if backend.kind is BackendKind.MACVTAP:
        return [
            {"execute": "getfd", "arguments": {"fdname": fd_name(spec)}},
            {
                "execute": "netdev_add",
                "arguments": {"type": "tap", "id": netdev_id, "vhost": True, "fd": fd_name(spec)},
            },
        ]
    arguments: dict[str, Any] = {"type": backend.kind.value, "id": netdev_id}
    if backend.kind is BackendKind.TAP:
        arguments["vhost"] = True
    elif backend.kind is BackendKind.BRIDGE:
        arguments["br"] = backend.device
    return [{"execute": "netdev_add", "arguments": arguments}]


def _fd_note(spec: PairSpec) -> list[str]:
    """For a macvtap: how getfd gets its file descriptor."""
    if spec.standby.backend.kind is not BackendKind.MACVTAP:
        return []
    name = macvtap_name(spec.mac)
    return [
        f"NOTE getfd: send /dev/tap<ifindex of {name}> (opened read-write, after the host steps create it) with "
        "the getfd command as SCM_RIGHTS data (e.g. qemu.qmp's send_fd_scm()); a client that cannot pass file "
        "descriptors cannot add this netdev"
    ]


def qmp_commands(spec: PairSpec) -> list[dict[str, Any]]:
    """[getfd,] netdev_add, device_add standby, device_add primary; the root ports must exist from the start."""
    standby, primary = spec.standby, spec.primary
    return [
        *_netdev(spec),
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
    """One QMP command per line and nothing else: the output can go to a QMP socket as it is."""
    return "".join(json.dumps(command) + "\n" for command in qmp_commands(spec))


def qmp_notes(spec: PairSpec) -> list[str]:
    """What goes beside the commands (on standard error): the notes, and for a macvtap how getfd gets its fd."""
    return [*note_lines(spec), *_fd_note(spec)]
