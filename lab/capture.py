"""Boot a topology, run its job in the guest, and commit what the product's own `capture` archived there to fixtures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lab import initramfs
from lab.guest import GUEST_CMDLINE, Guest, GuestError, GuestSpec, Share
from lab.install import Kernel, LabUnavailableError, ensure_installed, guest_kernel
from lab.topologies import Topology
from pcie_failover.capture.archive import TOP
from pcie_failover.capture.archive import extract as extract_safely
from pcie_failover.netinfo.source import SIDECAR

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures_sysfs"
CACHE = Path(os.environ.get("PCIE_FAILOVER_LAB_CACHE", "/var/tmp/pcie-failover-lab"))
JOB_TIMEOUT = 480.0
# In a guest: the repository at its host path, where the venv's editable install looks for it.
LINK_REPO = f"mkdir -p {REPO.parent} && ln -s /host{REPO} {REPO}"
GUEST_ARCHIVE = "/job/capture.tar.gz"

HOST_SHARE_ADDR, JOB_SHARE_ADDR = "0x10", "0x11"
LAB_DEVICES = {
    f"0000:00:{HOST_SHARE_ADDR[2:]}.0": "virtio-9p-pci: host root share (lab plumbing)",
    f"0000:00:{JOB_SHARE_ADDR[2:]}.0": "virtio-9p-pci: job share (lab plumbing)",
}
PRELUDE = """set -e
ifname() { ls "/sys/bus/pci/devices/$1/net"; }
vf() { basename "$(readlink "/sys/bus/pci/devices/$1/virtfn$2")"; }
probe_vfs() {
  for fn in /sys/bus/pci/devices/$1/virtfn*; do
    basename "$(readlink "$fn")" > /sys/bus/pci/drivers_probe || echo "probe of $fn failed"
  done
}
wait_carrier() {
  for _ in $(seq 40); do
    [ "$(cat /sys/bus/pci/devices/$1/net/*/carrier 2>/dev/null)" = 1 ] && return 0
    sleep 0.25
  done
}
"""


@dataclass(frozen=True)
class LabEnv:
    """Installed parts: guest kernel and the initramfs built for it."""

    kernel: Kernel
    initrd: Path
    cache: Path


def prepare(cache: Path = CACHE) -> LabEnv:
    """Install missing packages and build the initramfs; raises LabUnavailableError."""
    ensure_installed()
    kernel = guest_kernel()
    try:
        initrd = initramfs.build(kernel.version, cache / f"initramfs-{kernel.version}.cpio")
    except (OSError, subprocess.SubprocessError) as error:
        raise LabUnavailableError(f"cannot build the initramfs: {error}") from error
    return LabEnv(kernel, initrd, cache)


def job_script(topology: Topology) -> str:
    """The shell script the guest runs: helpers, topology lines, then the product's `capture` of the live /sys."""
    capture = [
        LINK_REPO,
        f"/host{REPO}/.venv/bin/python -I -m pcie_failover capture -o {GUEST_ARCHIVE}",
    ]
    return PRELUDE + "\n".join([*topology.job, "sleep 2", *capture]) + "\n"


def guest_spec(topology: Topology, env: LabEnv, run: Path) -> GuestSpec:
    """The QEMU guest for `topology` with its host-root and job shares."""
    append = " ".join(filter(None, [GUEST_CMDLINE, topology.append]))
    return GuestSpec(
        name=f"lab-{topology.name}",
        workdir=run,
        kernel=env.kernel.image,
        initrd=env.initrd,
        append=append,
        machine=topology.machine,
        devices=topology.devices,
        shares=(Share("hostroot", Path("/"), True, HOST_SHARE_ADDR), Share("job", run / "job", False, JOB_SHARE_ADDR)),
        extra=topology.qemu_args,
    )


def extract(archive: Path, dest: Path) -> None:
    """Unpack the capture's `sysfs/` into `dest` (replaced) as the product unpacks one: unsafe names refused."""
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(archive) as tar:
        extract_safely(tar, staging)
    shutil.rmtree(dest, ignore_errors=True)
    (staging / TOP).rename(dest)
    shutil.rmtree(staging)


def git_losses(root: Path) -> dict[str, object]:
    """What a git commit of `root` loses: empty directories, and modes of files others cannot read."""
    empty = sorted(
        str(d.relative_to(root)) for d in root.rglob("*") if d.is_dir() and not d.is_symlink() and not any(d.iterdir())
    )
    modes = {
        str(f.relative_to(root)): f"{f.lstat().st_mode & 0o777:04o}"
        for f in sorted(root.rglob("*"))
        if f.is_file() and not f.is_symlink() and not f.lstat().st_mode & 0o004
    }
    return {"empty_dirs": empty, "root_only_files": modes}


def _proof(log: Path) -> dict[str, list[str]]:
    """What the job recorded as proof in /job/proof.log (the kernel's own lines), when it did."""
    return {"guest_proof": log.read_text(errors="replace").splitlines()} if log.exists() else {}


def capture(topology: Topology, env: LabEnv, out_root: Path = FIXTURES) -> Path:
    """Capture one topology into `out_root/<name>/`; return that directory."""
    run = env.cache / "run" / topology.name
    shutil.rmtree(run, ignore_errors=True)
    (run / "job").mkdir(parents=True)
    script = job_script(topology)
    (run / "job" / "job.sh").write_text(script)
    spec = guest_spec(topology, env, run)
    started = time.monotonic()
    with Guest(spec) as guest:
        version = guest.qmp.execute("query-version")
        guest.wait_for(initramfs.READY, timeout=120)
        status = int(guest.wait_for(rf"{initramfs.JOB_EXIT} (\d+)", timeout=JOB_TIMEOUT)[1])
        guest.wait_exit(timeout=60)
    trace = (run / "job" / "trace.log").read_text(errors="replace").splitlines()
    if status != 0:
        raise GuestError(f"{topology.name}: job exited {status}; trace tail:\n" + "\n".join(trace[-15:]))
    dest = out_root / topology.name
    dest.mkdir(parents=True, exist_ok=True)
    extract(run / "job" / Path(GUEST_ARCHIVE).name, dest / "sysfs")
    if not (dest / "sysfs" / SIDECAR).is_file():
        raise GuestError(f"{topology.name}: the capture has no netlink facts ({SIDECAR}): was iproute2 there?")
    sidecar = json.loads((dest / "sysfs" / SIDECAR).read_text())
    manifest = {
        "topology": topology.name,
        "description": topology.description,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "qemu_version": version,
        "qemu_argv": spec.argv(),
        "guest_kernel": sidecar["kernel_release"],
        "guest_kernel_cmdline": sidecar["kernel_cmdline"],
        "guest_commands": script.splitlines(),
        "guest_trace": [line for line in trace if line.startswith("+")],
        **_proof(run / "job" / "proof.log"),
        "lab_devices": LAB_DEVICES,
        "git_losses": git_losses(dest / "sysfs"),
        "capture_seconds": round(time.monotonic() - started, 1),
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return dest


def capture_many(topologies: list[Topology], env: LabEnv, out_root: Path, jobs: int) -> list[str]:
    """Capture topologies `jobs` at a time; return error messages (empty when all worked)."""

    def one(topology: Topology) -> str | None:
        try:
            dest = capture(topology, env, out_root)
        except (GuestError, OSError, TimeoutError, ValueError) as error:  # ValueError: an unsafe archive
            return f"{topology.name}: {error}"
        print(f"captured {topology.name} -> {dest}", file=sys.stderr)
        return None

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return [error for error in pool.map(one, topologies) if error]
