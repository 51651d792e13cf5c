"""A failover guest whose virtio-net driver loads only when the host says so, for `inspect`.

The guest loads every module but `virtio_net` (so the standby never negotiates and QEMU keeps
the primary hidden), prints WAITING, and loads `virtio_net` when a line arrives on its second
serial port (`ttyS1`, a unix socket on the host): `load_driver()`. No 9p share, so
it can migrate. The primary is the emulated e1000e of lab/failover.py.
"""

from __future__ import annotations

import contextlib
import io
import socket
from pathlib import Path

from lab import failover, initramfs
from lab.capture import FIXTURES
from lab.guest import GuestSpec
from lab.install import Kernel
from pcie_failover.cli import main

SYSFS = FIXTURES / "vtd-acpi" / "sysfs"
VF = "0000:01:10.0"  # on vfio-pci with admin MAC 52:54:00:6f:55:cc in that capture
MAC = "52:54:00:6f:55:cc"

WAITING = "LAB-INSPECT-WAITING"
LOADED = "LAB-INSPECT-LOADED"
INIT = f"""#!/bb/sh
export PATH=/bb
/bb/busybox mount -t proc proc /proc
/bb/busybox --install -s /bb
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r ko; do [ "$ko" = virtio_net.ko ] || insmod "/modules/$ko"; done < /modules/order
exec 3< /dev/ttyS1  # open before saying WAITING: opening the UART later resets its FIFO and loses the "go"
echo "{WAITING} $(uname -r)"
read -r go <&3
insmod /modules/virtio_net.ko
echo "{LOADED}"
while true; do sleep 3600; done
"""
CONTROL = "control.sock"
MONITOR = "inspect.sock"  # a second QMP monitor for `inspect`: the harness holds the first
WATCH_MONITOR = "watch.sock"  # a third, for `inspect --watch` (QEMU serves one client per monitor)


def build_initramfs(kernel: Kernel, cache: Path) -> Path:
    """The initramfs: the failover guest's modules, virtio_net held back until told."""
    dest = cache / f"initramfs-inspect-{kernel.version}.cpio"
    return initramfs.build(kernel.version, dest, failover.MODULES, INIT)


def spec(name: str, workdir: Path, kernel: Kernel, initrd: Path, args: list[str]) -> GuestSpec:
    """`failover.spec` plus the control serial port and inspect's two monitors (server sockets in `workdir`)."""
    extra = ["-chardev", f"socket,id=ctl,path={workdir / CONTROL},server=on,wait=off", "-serial", "chardev:ctl"]
    for number, path in enumerate((MONITOR, WATCH_MONITOR), start=1):
        extra += ["-chardev", f"socket,id=qmp{number},path={workdir / path},server=on,wait=off"]
        extra += ["-mon", f"chardev=qmp{number},mode=control"]
    return failover.spec(name, workdir, kernel, initrd, [*args, *extra])


def load_driver(workdir: Path) -> None:
    """Tell the guest of `workdir` to load virtio_net (one line on its ttyS1)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as ctl:
        ctl.settimeout(10)
        ctl.connect(str(workdir / CONTROL))
        ctl.sendall(b"go\n")


def pair_text() -> str:
    """`pair --format qemu` for the capture's VF: the configuration a user would run (vfio-pci primary)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--sysfs-root", str(SYSFS), "pair", VF, "--netdev", "user", "--mac", MAC, "--format", "qemu"])
    if code != 0:
        raise RuntimeError(f"pair exited {code}: {out.getvalue()}")
    return out.getvalue()


def lab_args(primary_slot: int = 0) -> list[str]:
    """`pair_text()` with the emulated e1000e as primary, at `primary_slot` of its root port."""
    args = failover.swap_primary(failover.split_args(pair_text()), MAC)
    if primary_slot:
        args = [a.replace(",addr=0x0,failover_pair_id", f",addr={primary_slot:#x},failover_pair_id") for a in args]
    return args
