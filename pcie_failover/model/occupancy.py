"""Who holds a device: processes with its files open (read from /proc), and what sysfs shows of a VFIO device."""

from __future__ import annotations

from dataclasses import dataclass

from pcie_failover.model.host import Unreadable


@dataclass(frozen=True)
class OpenFile:
    """A process holding `path` open: its pid, its `comm` (what the kernel shows, not trusted text)."""

    pid: int
    comm: str
    path: str


@dataclass(frozen=True)
class DeviceFile:
    """A process holding a VFIO device file open; `syspath`: the device (`/sys/devices/...`) when fdinfo says."""

    pid: int
    comm: str
    syspath: str | None = None


@dataclass(frozen=True)
class Holders:
    """The processes holding any of the files asked about, and how many processes could not be inspected."""

    files: tuple[OpenFile, ...] = ()
    unreadable: int = 0  # processes whose descriptors could not be read (EACCES, EPERM)
    error: str | None = None  # the proc root itself could not be listed
    device_files: tuple[DeviceFile, ...] = ()  # every VFIO device file open on the host


@dataclass(frozen=True)
class VfioDevice:
    """What shows a device on vfio-pci open: its files (group node, cdevs), its sysfs path, its enable count."""

    address: str
    files: frozenset[str]
    syspath: str | None  # `/sys/devices/...`, as fdinfo names a VFIO device file's device
    enabled: int | Unreadable
