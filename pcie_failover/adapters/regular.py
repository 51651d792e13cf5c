"""Open a file only if it is a regular file, without ever opening anything else (device, FIFO, link).

The entry is opened with `O_PATH|O_NOFOLLOW` (which runs no driver code and opens no FIFO),
checked with fstat, and that very inode re-opened through `/proc/self/fd`, so what was
checked is what is read or written even if the name is swapped meanwhile. Used by the
sysfs reader and by the files this tool owns (registry, state, textfile).
"""

from __future__ import annotations

import os
import stat


class NotRegularError(Exception):
    """The entry exists and is not a regular file; `is_link` says whether it is a symbolic link."""

    def __init__(self, is_link: bool) -> None:
        super().__init__("a symbolic link" if is_link else "not a regular file")
        self.is_link = is_link


def open_regular(name: str, dir_fd: int, flags: int) -> int:
    """A descriptor of `name` (in `dir_fd`) opened with `flags`; NotRegularError, or OSError, otherwise."""
    handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularError(stat.S_ISLNK(mode))
        return os.open(f"/proc/self/fd/{handle}", flags | os.O_NOCTTY | os.O_CLOEXEC)
    finally:
        os.close(handle)
