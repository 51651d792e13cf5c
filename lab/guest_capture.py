"""Mirror the parts of a guest's /sys the checker reads into a tar archive.

Runs inside the lab guest under the host's /usr/bin/python3 (stdlib only) and
adds the netlink sidecar `pcie-failover-snapshot.json` at the archive root.
Usage: python3 guest_capture.py OUT.tar
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

READ_LIMIT = 64 * 1024
SIDECAR = "pcie-failover-snapshot.json"
SKIP_NAMES = frozenset(
    {
        "remove",
        "rescan",
        "reset",
        "resource",
        "rom",
        "vpd",
        "new_id",
        "remove_id",
        "bind",
        "unbind",
        "sriov_vf_msix_count",
    }
)
RESOURCE_FILE = re.compile(r"resource\d+(_wc)?")
NETDEV_SKIP_DIRS = frozenset({"statistics", "queues"})
LINK_GLOBS = ("bus/pci/devices/*", "bus/pci_express/devices/*", "class/net/*", "class/iommu/*")
WALK_GLOBS = (
    "bus/pci/slots",
    "bus/pci/drivers",
    "bus/pci_express/drivers",
    "class/vfio-dev",
    "devices/pci*",
    "devices/virtual/net",
    "kernel/iommu_groups",
    "kernel/irq/*/chip_name",
    "module/iommufd/parameters",
    "module/vfio_iommu_type1/parameters",
    "module/vfio_pci_core/holders",
)
ACPI_TABLES = ("DMAR", "IVRS", "IORT", "VIOT")  # pcie_failover.sysfs.iommu.IOMMU_TABLES (this script runs alone)


def skipped(rel: str, st: os.stat_result) -> bool:
    """True for side-effecting, write-only, bulky or volatile (runtime PM) entries."""
    parts = rel.split("/")
    name = parts[-1]
    if stat.S_ISDIR(st.st_mode):
        netdev_dir = len(parts) >= 3 and parts[-3] == "net"
        return name == "power" or (name in NETDEV_SKIP_DIRS and netdev_dir)
    if stat.S_ISLNK(st.st_mode):
        return False
    return name in SKIP_NAMES or bool(RESOURCE_FILE.fullmatch(name)) or not st.st_mode & 0o444


def walk(root: Path, rel: str) -> Iterator[str]:
    """Yield `rel` and everything below it, without following symlinks."""
    try:
        st = os.lstat(root / rel)
    except OSError:
        return
    if skipped(rel, st):
        return
    yield rel
    if stat.S_ISDIR(st.st_mode):
        for name in sorted(os.listdir(root / rel)):
            yield from walk(root, f"{rel}/{name}")


def selected(root: Path) -> Iterator[str]:
    """Yield the relative paths to mirror, in archive order."""
    for pattern in WALK_GLOBS:
        for path in sorted(root.glob(pattern)):
            yield from walk(root, path.relative_to(root).as_posix())
    for pattern in LINK_GLOBS:
        for path in sorted(root.glob(pattern)):
            yield path.relative_to(root).as_posix()
    for path in sorted(root.glob("class/iommu/*")):
        target = Path(os.path.realpath(path))
        if target.is_relative_to(root):
            yield from walk(root, target.relative_to(root).as_posix())
    for table in ACPI_TABLES:
        if (root / "firmware/acpi/tables" / table).exists():
            yield f"firmware/acpi/tables/{table}"


def member(root: Path, rel: str) -> tuple[tarfile.TarInfo, bytes | None] | None:
    """Build the tar entry for one path; None when it cannot be read."""
    info = tarfile.TarInfo(rel)
    try:
        st = os.lstat(root / rel)
        info.mode = stat.S_IMODE(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(root / rel)
            return info, None
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            return info, None
        with open(root / rel, "rb") as handle:
            data = handle.read(READ_LIMIT)
    except OSError:
        return None
    info.size = len(data)
    return info, data


def ip_json(*args: str) -> list[object]:
    """Run iproute2 by path (busybox's applet would shadow it) and parse its JSON."""
    out = subprocess.run(["/usr/bin/ip", *args], capture_output=True, check=True, timeout=60).stdout
    parsed: list[object] = json.loads(out) if out.strip() else []
    return parsed


def snapshot() -> dict[str, object]:
    """The netlink sidecar of the running guest."""
    return {
        "format": "pcie-failover-snapshot",
        "version": 1,
        "kernel_release": os.uname().release,
        "kernel_cmdline": Path("/proc/cmdline").read_text().strip(),
        "netlink": {
            "links": ip_json("-json", "-details", "link", "show"),
            "addresses": ip_json("-json", "address", "show"),
            "routes": ip_json("-json", "route", "show", "table", "all")
            + ip_json("-6", "-json", "route", "show", "table", "all"),
        },
    }


def write_archive(root: Path, out: Path, sidecar: dict[str, object] | None) -> int:
    """Write the mirror of `root` (plus the sidecar) to `out`; return the entry count."""
    seen: set[str] = set()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel in selected(root):
            entry = None if rel in seen else member(root, rel)
            if entry is not None:
                seen.add(rel)
                tar.addfile(entry[0], None if entry[1] is None else io.BytesIO(entry[1]))
        if sidecar is not None:
            data = (json.dumps(sidecar, indent=1) + "\n").encode()
            info = tarfile.TarInfo(SIDECAR)
            info.mode, info.size = 0o644, len(data)
            tar.addfile(info, io.BytesIO(data))
    return len(seen)


if __name__ == "__main__":
    count = write_archive(Path("/sys"), Path(sys.argv[1]), snapshot())
    print(f"guest_capture: {count} entries")
