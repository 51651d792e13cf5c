"""The floor under `list`: the same files, read with bare system calls; no confinement, no model, no rules.

`python -m benchmarks.bare_reads TREE` lists `bus/pci/devices`, reads every function's `class`
and, for each network function, does what `list` does to the filesystem: one listing of its
directory, its ids, `driver_override`, `numa_node`, `reset_method` and `config`, its
`driver`, `physfn` and `iommu_group` links, its PF's `virtfnN` link and the listing of its
IOMMU group. Nothing is printed. What `list` takes above this is the price of reading safely
(sysfs/root.py) and of judging every function; this alone is the least a Python `list` can take.
"""

from __future__ import annotations

import os
import sys

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_ATTRIBUTES = ("vendor", "device", "driver_override", "numa_node", "reset_method", "config")


def _read(directory: int, name: str) -> bytes:
    fd = os.open(name, _READ, dir_fd=directory)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def bare_list(tree: str) -> int:
    """Do list's reads over `tree`; the number of network functions read."""
    devices = os.open(f"{tree}/bus/pci/devices", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    network = 0
    for name in sorted(os.listdir(devices)):
        directory = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=devices)
        try:
            if not _read(directory, "class").startswith(b"0x02"):
                continue
            network += 1
            entries = set(os.listdir(directory))
            for attribute in _ATTRIBUTES:
                if attribute in entries:
                    _read(directory, attribute)
            links = {k: os.readlink(k, dir_fd=directory) for k in ("driver", "physfn", "iommu_group") if k in entries}
            if "physfn" in links:  # list reads the VF's own virtfnN; any one costs the same lookup
                os.readlink("physfn/virtfn0", dir_fd=directory)
            if "iommu_group" in links:
                os.listdir(f"{tree}/kernel/iommu_groups/{os.path.basename(links['iommu_group'])}/devices")
        finally:
            os.close(directory)
    os.close(devices)
    return network


if __name__ == "__main__":
    bare_list(sys.argv[1])
