"""Failover end to end: a guest that only loads virtio-net and e1000e, and an emulated primary.

No VF can be passed through in the lab, so a generated `vfio-pci,host=...` device is
replaced by an emulated `e1000e` with the same id, bus, addr, MAC and `failover_pair_id`
(and `romfile=`, or migration fails on the destination's missing option ROM). The guest
has no 9p share: a mounted virtio-9p export blocks migration.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lab import initramfs
from lab.guest import GUEST_CMDLINE, Guest, GuestSpec
from lab.install import Kernel

READY = "LAB-FAILOVER-READY"
MODULES = ("virtio_pci", "virtio_net", "e1000e")  # virtio_net pulls failover and net_failover
PRIMARY_NETDEV = "primarynet"
INIT = (
    initramfs.INIT_PRELUDE
    + f"""echo "{READY} $(uname -r)"
while true; do sleep 3600; done
"""
)
# net/core/failover.c and drivers/net/net_failover.c, as the guest logs them
MASTER = r"failover master:(\S+) registered"
STANDBY = r"failover standby slave:(\S+) registered"
PRIMARY = r"failover primary slave:(\S+) registered"
BOOT = 120.0  # seconds for a TCG guest to boot and load its drivers


def paired(guest: Guest) -> dict[str, str]:
    """Wait for net_failover's three registrations, in order; return the interface of each role."""
    master = guest.wait_for(MASTER, timeout=BOOT)[1]
    standby = guest.wait_for(STANDBY, timeout=30)[1]
    primary = guest.wait_for(PRIMARY, timeout=30)[1]
    return {"master": master, "standby": standby, "primary": primary}


def build_initramfs(kernel: Kernel, cache: Path) -> Path:
    """The failover guest's initramfs (busybox, virtio_pci, virtio_net, e1000e and their dependencies)."""
    return initramfs.build(kernel.version, cache / f"initramfs-failover-{kernel.version}.cpio", MODULES, INIT)


def split_args(text: str) -> list[str]:
    """Printed QEMU arguments (`# ` comments, backslash-newline continuations) as argv words."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    return shlex.split("\n".join(lines).replace("\\\n", " "))


def parse_options(value: str) -> tuple[str, dict[str, str]]:
    """`driver,key=value,...` as QEMU reads it (`,,` is a comma)."""
    head, *pairs = (p.replace("\0", ",") for p in value.replace(",,", "\0").split(","))
    return head, dict(pair.split("=", 1) for pair in pairs)


def emulated_primary(vfio: Mapping[str, object], mac: object) -> dict[str, object]:
    """An e1000e in place of the vfio-pci primary: same id, bus, addr and failover_pair_id."""
    keep = {k: vfio[k] for k in ("id", "bus", "addr", "failover_pair_id") if k in vfio}
    return {"driver": "e1000e", "netdev": PRIMARY_NETDEV, "mac": mac, "romfile": "", **keep}


def swap_primary(argv: list[str], mac: str) -> list[str]:
    """`argv` with its `vfio-pci` device replaced by the emulated primary, plus that NIC's backend."""
    out: list[str] = []
    for option, value in zip(argv[::2], argv[1::2], strict=True):
        driver, props = parse_options(value)
        if option == "-device" and driver == "vfio-pci":
            nic = emulated_primary(props, mac)
            out += [option, ",".join(f"{v}" if k == "driver" else f"{k}={v}" for k, v in nic.items())]
        else:
            out += [option, value]
    # The primary stays hidden until the guest negotiates STANDBY: QEMU warns its netdev "has no peer".
    return [*out, "-netdev", f"user,id={PRIMARY_NETDEV},restrict=on"]


def qmp_commands(text: str) -> list[dict[str, Any]]:
    """The printed QMP commands (one JSON object per line, `# ` comments skipped)."""
    commands = [json.loads(line) for line in text.splitlines() if not line.startswith("#")]
    assert all(isinstance(c, dict) for c in commands)
    return commands


def spec(name: str, workdir: Path, kernel: Kernel, initrd: Path, args: list[str]) -> GuestSpec:
    """A small q35 guest running the failover initramfs with `args` (e.g. `-incoming unix:...`)."""
    return GuestSpec(
        name=name,
        workdir=workdir,
        kernel=kernel.image,
        initrd=initrd,
        append=f"{GUEST_CMDLINE} loglevel=7",
        memory_mib=256,
        extra=tuple(args),
    )
