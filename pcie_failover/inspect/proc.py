"""The edge: the command line of the QEMU process behind a QMP socket, from /proc/PID (cmdline, comm, exe).

`inspect` never has a `--pid`: the pid is SO_PEERCRED's, so each message names the socket, the pid, and what
the process is when it is not QEMU (its comm and executable), in one line.
"""

from __future__ import annotations

import os

from pcie_failover.adapters.vm_config import read_config
from pcie_failover.lint.qemu_words import is_qemu_binary
from pcie_failover.model.address import InputError


def _comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            return handle.read(64).decode(errors="replace").strip() or None
    except OSError:
        return None


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:  # another user's process: EACCES
        return None


def read_qemu_cmdline(pid: int, target: str) -> str:
    """The argv of the process `pid` serving `target` (NUL-separated); InputError when unreadable or not QEMU."""
    try:
        text = read_config(f"/proc/{pid}/cmdline")
    except InputError:
        raise InputError(f"the process behind {target} (pid {pid}) is gone or its command line unreadable") from None
    command = text.partition("\0")[0]
    if is_qemu_binary(command):
        return text
    comm, exe = _comm(pid), _exe(pid)
    what = ", ".join(part for part in (f"comm {comm!r}" if comm else "", f"exe {exe}" if exe else "") if part)
    shown = what or f"command {command[:80]!r}"
    raise InputError(f"the process behind {target} (pid {pid}) is not QEMU: {shown}")
