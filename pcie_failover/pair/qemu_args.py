"""The pair as QEMU command-line arguments: pure, spec -> str."""

from __future__ import annotations

import shlex

from pcie_failover.pair.model import MACVTAP_FD, BackendKind, PairSpec, RootPort
from pcie_failover.pair.notes import note_lines


def option_value(value: str) -> str:
    """Escape a value inside a QEMU `-device`/`-netdev` option string (a comma is doubled)."""
    return value.replace(",", ",,")


def options(head: str, *pairs: tuple[str, str]) -> str:
    """`head,key=value,...` with every value escaped."""
    return ",".join([head, *(f"{key}={option_value(value)}" for key, value in pairs)])


def _port(port: RootPort) -> str:
    addr = () if port.addr is None else (("addr", f"{port.addr:#x}"),)
    return options(
        "pcie-root-port",
        ("id", port.id),
        ("bus", "pcie.0"),
        ("chassis", str(port.chassis)),
        ("slot", str(port.slot)),
        *addr,
    )


def _netdev(spec: PairSpec) -> str:
    backend = spec.standby.backend
    netdev_id = ("id", spec.standby.netdev_id)
    if backend.kind is BackendKind.TAP:
        return options("tap", netdev_id, ("vhost", "on"))
    if backend.kind is BackendKind.BRIDGE:
        return options("bridge", netdev_id, ("br", backend.device or ""))
    if backend.kind is BackendKind.MACVTAP:  # the macvtap's /dev/tapN, opened by the host step
        return options("tap", netdev_id, ("vhost", "on"), ("fd", str(MACVTAP_FD)))
    return options("user", netdev_id)


def standby_device(spec: PairSpec) -> str:
    """The standby: `virtio-net-pci,...,failover=on` alone on its port."""
    standby = spec.standby
    return options(
        "virtio-net-pci",
        ("netdev", standby.netdev_id),
        ("id", standby.id),
        ("mac", str(spec.mac)),
        ("bus", standby.port.id),
        ("addr", "0x0"),
        ("failover", "on"),
    )


def primary_device(spec: PairSpec) -> str:
    """The primary: `vfio-pci,host=...,failover_pair_id=...` at function 0 of its own port."""
    primary = spec.primary
    return options(
        "vfio-pci",
        ("host", str(primary.host)),
        ("id", primary.id),
        ("bus", primary.port.id),
        ("addr", "0x0"),
        ("failover_pair_id", spec.standby.id),
    )


def qemu_args(spec: PairSpec) -> list[str]:
    """Root ports, netdev, standby, then primary (the standby first, or QEMU never hides the primary)."""
    return [
        "-device", _port(spec.standby.port),
        "-device", _port(spec.primary.port),
        "-netdev", _netdev(spec),
        "-device", standby_device(spec),
        "-device", primary_device(spec),
    ]  # fmt: skip


def render_qemu(spec: PairSpec) -> str:
    """`# ` note lines, then one `-option value` per line, shell-quoted, joined by backslashes."""
    args = qemu_args(spec)
    comments = "".join(f"# {line}\n" for line in note_lines(spec))
    lines = [f"{shlex.quote(args[i])} {shlex.quote(args[i + 1])}" for i in range(0, len(args), 2)]
    return comments + " \\\n".join(lines) + "\n"
