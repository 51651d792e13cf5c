"""A lab guest with real systemd and systemd-udevd: a cached Debian image and a job runner.

The image is Debian bookworm minbase (debootstrap) with systemd, udev, python3, iproute2,
kmod, make and pkgconf, the guest kernel's modules, fstab entries mounting the host's root
read-only (9p `hostroot`) at /host and the job share (9p `job`) at /job, and
`lab-job.service`: after multi-user.target it runs /job/job.sh (`sh -x`, trace in
/job/trace.log), prints `LAB-JOB-EXIT n` on the console through /dev/kmsg and powers off.
The image is rebuilt only when missing or when its recipe changes; guests boot it with
`snapshot=on`, so it is never written.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.capture import CACHE, LabEnv, guest_spec
from lab.guest import Guest, GuestError
from lab.install import (
    DEBIAN_SOURCES,
    LabUnavailableError,
    apt,
    bookworm_source,
    ensure_installed,
    guest_kernel,
    installed,
)
from lab.topologies import VTD, VTD_MACHINE, Topology, netdevs, nic, port

SUITE = "bookworm"
PACKAGES = ("systemd", "systemd-sysv", "udev", "python3", "iproute2", "kmod", "make", "pkgconf", "pciutils")
IMAGE_SIZE = 3 << 30
BUILD_TIMEOUT = 1200
MEMORY_MIB = 1280
JOB_START, JOB_EXIT = "LAB-JOB-START", "LAB-JOB-EXIT"
NINEP = "trans=virtio,version=9p2000.L,msize=262144,nofail"

LAB_JOB = f"""#!/bin/sh
# Run /job/job.sh once, report its status on the console, power off.
echo "{JOB_START} $(uname -r)" > /dev/kmsg
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
status=0
/bin/sh -x /job/job.sh > /job/job.log 2> /job/trace.log || status=$?
sync
echo "{JOB_EXIT} $status" > /dev/kmsg
systemctl --no-block poweroff
"""

LAB_JOB_UNIT = """[Unit]
Description=Lab job (/job/job.sh), then power off
After=multi-user.target
RequiresMountsFor=/host /job

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/lab-job
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
"""

# path in the image -> (content, mode); symbolic links separately
FILES: dict[str, tuple[str, int]] = {
    "etc/fstab": (
        f"/dev/vda / ext4 rw,errors=remount-ro 0 1\nhostroot /host 9p ro,{NINEP} 0 0\njob /job 9p {NINEP} 0 0\n",
        0o644,
    ),
    "etc/hostname": ("lab-systemd\n", 0o644),
    "etc/machine-id": ("6c61622d73797374656d642d67756573\n", 0o444),  # fixed: never a first boot
    "etc/modules-load.d/lab-9p.conf": ("9pnet_virtio\n9p\n", 0o644),
    "etc/systemd/system/lab-job.service": (LAB_JOB_UNIT, 0o644),
    "usr/local/sbin/lab-job": (LAB_JOB, 0o755),
}
LINKS = {"etc/systemd/system/multi-user.target.wants/lab-job.service": "/etc/systemd/system/lab-job.service"}


@dataclass(frozen=True)
class SystemdEnv:
    """The guest kernel, Debian's own initrd for it, and the root image."""

    lab: LabEnv
    image: Path


def archive_uri() -> str:
    """The Debian archive this host's apt uses (debootstrap downloads from it)."""
    try:
        text = DEBIAN_SOURCES.read_text()
    except OSError as error:
        raise LabUnavailableError(f"cannot read {DEBIAN_SOURCES}: {error}") from error
    return bookworm_source(text)["URIs"].split()[0]


def recipe(kernel_version: str, mirror: str) -> str:
    """Everything the image is made from; a change rebuilds it."""
    parts = {
        "suite": SUITE,
        "mirror": mirror,
        "packages": PACKAGES,
        "kernel": kernel_version,
        "size": IMAGE_SIZE,
        "files": FILES,
        "links": LINKS,
    }
    return json.dumps(parts, indent=1, sort_keys=True) + "\n"


def _run(argv: list[str], what: str) -> None:
    try:
        subprocess.run(argv, check=True, timeout=BUILD_TIMEOUT, capture_output=True, text=True)
    except subprocess.CalledProcessError as error:
        raise LabUnavailableError(f"{what} failed ({error.returncode}): {error.stderr[-2000:]}") from error
    except (subprocess.TimeoutExpired, OSError) as error:
        raise LabUnavailableError(f"{what} failed: {error}") from error


def _populate(root: Path, kernel_version: str) -> None:
    shutil.copytree(Path("/lib/modules") / kernel_version, root / "usr/lib/modules" / kernel_version, symlinks=True)
    for name, (content, mode) in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.write_text(content)
        path.chmod(mode)
    for name, target in LINKS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(target)
    for mount in ("host", "job"):
        (root / mount).mkdir(exist_ok=True)


def build_image(kernel_version: str, cache: Path) -> Path:
    """`cache/systemd-root.img`, (re)built when missing or when its recipe changed."""
    image, stamp = cache / "systemd-root.img", cache / "systemd-root.recipe"
    wanted = recipe(kernel_version, archive_uri())
    if image.exists() and stamp.exists() and stamp.read_text() == wanted:
        return image
    if os.geteuid() != 0:
        raise LabUnavailableError("building the systemd guest image needs root")
    if not installed("debootstrap"):
        apt("install", "-y", "debootstrap")
    staging = cache / "systemd-root.build"
    shutil.rmtree(staging, ignore_errors=True)
    root = staging / "root"
    debs = cache / "debootstrap-debs"
    debs.mkdir(parents=True, exist_ok=True)
    try:
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                f"--cache-dir={debs}",
                SUITE,
                str(root),
                archive_uri(),
            ],
            "debootstrap",
        )
        _populate(root, kernel_version)
        partial = staging / "root.img"
        with open(partial, "wb") as handle:
            handle.truncate(IMAGE_SIZE)
        _run(["mkfs.ext4", "-q", "-F", "-L", "labroot", "-d", str(root), str(partial)], "mkfs.ext4 -d")
        partial.replace(image)
        stamp.write_text(wanted)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return image


def prepare(cache: Path = CACHE) -> SystemdEnv:
    """QEMU and the kernel (lab/install.py), Debian's initrd, and the cached image."""
    ensure_installed()
    kernel = guest_kernel()
    initrd = Path("/boot") / f"initrd.img-{kernel.version}"
    if not initrd.exists():
        raise LabUnavailableError(f"{initrd} missing (Debian's initramfs for the guest kernel)")
    cache.mkdir(parents=True, exist_ok=True)
    return SystemdEnv(LabEnv(kernel, initrd, cache), build_image(kernel.version, cache))


def topology(image: Path) -> Topology:
    """VT-d, one igb PF and a two-function e1000e (one IOMMU group) on root ports, the image as a virtio disk."""
    return Topology(
        name="systemd",
        description="real systemd and udevd on Debian's kernel and initrd; one igb PF, a multifunction e1000e",
        machine=VTD_MACHINE,
        devices=(
            VTD,
            port(1),
            nic("igb", 1, "rp1"),
            port(2),
            nic("e1000e", 2, "rp2", "0x0.0", ",multifunction=on"),
            nic("e1000e", 3, "rp2", "0x0.1"),
            "virtio-blk-pci,drive=root,bus=pcie.0,addr=0x12",
        ),
        qemu_args=(*netdevs(3), "-drive", f"file={image},if=none,id=root,format=raw,snapshot=on"),
        job=(),
        append="root=/dev/vda rw intel_iommu=on",
    )


def run_job(env: SystemdEnv, script: str, run: Path, timeout: float) -> int:
    """Boot the guest with `script` as /job/job.sh in `run/job`; return the job's exit status."""
    shutil.rmtree(run, ignore_errors=True)
    (run / "job").mkdir(parents=True)
    (run / "job" / "job.sh").write_text(script)
    spec = dataclasses.replace(guest_spec(topology(env.image), env.lab, run), memory_mib=MEMORY_MIB)
    with Guest(spec) as guest:
        guest.wait_for(JOB_START, timeout=240)
        status = int(guest.wait_for(rf"{JOB_EXIT} (\d+)", timeout=timeout)[1])
        guest.wait_exit(timeout=120)
    return status


def job_failed(run: Path, status: int) -> GuestError:
    """The error for a job that exited `status`, with its trace's tail."""
    trace = (run / "job" / "trace.log").read_text(errors="replace").splitlines()
    return GuestError(f"systemd guest job exited {status}; trace tail:\n" + "\n".join(trace[-20:]))
