"""Build the guest initramfs: static busybox, 9p/virtio modules and the lab /init.

/init mounts the host's root read-only over 9p (tag `hostroot`) so the guest runs
the host's python3, iproute2 and kmod against its own kernel, mounts the
read-write job share (tag `job`), runs `/job/job.sh` and powers off.
"""

from __future__ import annotations

import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
BOOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p")
READY = "LAB-INIT-READY"
JOB_EXIT = "LAB-JOB-EXIT"

# Every lab /init starts so: busybox applets, /proc, /sys, /dev, then the modules in order.
INIT_PRELUDE = """#!/bb/sh
export PATH=/bb
/bb/busybox mount -t proc proc /proc
/bb/busybox --install -s /bb
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r ko; do insmod "/modules/$ko"; done < /modules/order
"""
INIT = (
    INIT_PRELUDE
    + f"""mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 job /job
for d in usr etc; do ln -s /host/$d /$d; done
for d in bin lib lib64 sbin; do ln -s usr/$d /$d; done
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
echo "{READY} $(uname -r)"
if [ -f /job/job.sh ]; then
  PATH=/usr/sbin:/usr/bin /usr/bin/sh -x /job/job.sh 2>/job/trace.log
  echo "{JOB_EXIT} $?"
fi
sync
/bb/poweroff -f
"""
)


@dataclass(frozen=True)
class Entry:
    """One cpio member: a directory, regular file, symlink or device node."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def module_files(kernel_version: str, modules: tuple[str, ...]) -> list[Path]:
    """The .ko files `modules` need, dependencies first, without repeats."""
    paths: list[Path] = []
    for module in modules:
        out = subprocess.run(
            ["modprobe", "-S", kernel_version, "--show-depends", module],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        paths += [Path(line.split()[1]) for line in out.splitlines() if line.startswith("insmod ")]
    return list(dict.fromkeys(paths))


def entries(kernel_version: str, modules: tuple[str, ...] = BOOT_MODULES, init: str = INIT) -> list[Entry]:
    """All members of the initramfs: busybox, `modules` with their dependencies, and `init`."""
    kos = module_files(kernel_version, modules)
    dirs = ["bb", "dev", "proc", "sys", "host", "job", "tmp", "run", "modules"]
    items = [Entry(d, stat.S_IFDIR | 0o755) for d in dirs]
    items += [
        Entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
        Entry("bb/busybox", stat.S_IFREG | 0o755, BUSYBOX.read_bytes()),
        Entry("bb/sh", stat.S_IFLNK | 0o777, b"busybox"),
        Entry("init", stat.S_IFREG | 0o755, init.encode()),
        Entry("modules/order", stat.S_IFREG | 0o644, "".join(f"{k.name}\n" for k in kos).encode()),
    ]
    items += [Entry(f"modules/{k.name}", stat.S_IFREG | 0o644, k.read_bytes()) for k in kos]
    return items


def cpio_newc(items: list[Entry]) -> bytes:
    """Serialise entries as an uncompressed `newc` cpio archive."""
    chunks: list[bytes] = []
    for ino, item in enumerate([*items, Entry("TRAILER!!!", 0)], start=1):
        name = item.name.encode() + b"\0"
        fields = (ino, item.mode, 0, 0, 1, 0, len(item.data), 0, 0, *item.rdev, len(name), 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        chunks += [header, name, b"\0" * (-(len(header) + len(name)) % 4)]
        chunks += [item.data, b"\0" * (-len(item.data) % 4)]
    return b"".join(chunks)


def build(kernel_version: str, dest: Path, modules: tuple[str, ...] = BOOT_MODULES, init: str = INIT) -> Path:
    """Write the initramfs for `kernel_version` to `dest` (atomically) and return it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(cpio_newc(entries(kernel_version, modules, init)))
    tmp.replace(dest)
    return dest
