"""System programs (iproute2, modprobe, driverctl, systemctl, udevadm): found in the system directories only,
never through PATH (this runs as root, from udev too), and run with a fixed environment."""

from __future__ import annotations

import os
from collections.abc import Sequence

SYSTEM_DIRECTORIES = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
SYSTEM_ENV = {"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}  # output parsed in one language


def system_program(name: str, directories: Sequence[str] = SYSTEM_DIRECTORIES) -> str | None:
    """`name` in the first of `directories` that has it executable, or None."""
    return next((path for d in directories if os.access(path := os.path.join(d, name), os.X_OK)), None)
