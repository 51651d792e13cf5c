"""Safe writes for files this tool owns (pair registry, textfile metrics), run as root.

A directory or file that another user could write is refused (it could be swapped for a
link to /etc/shadow between our checks and our write); writes go to a temporary file in
the same directory, are fsynced and renamed over the target, so a reader or a crash sees
the old file or the new one, never half of either; a lock serialises writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator

LOCK_NAME = ".lock"


class UnsafePathError(Exception):
    """A path this tool would write is not safe to write; the message says why."""


def _check_directory(directory: str) -> None:
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        raise UnsafePathError(f"{directory} does not exist") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError(f"{directory} is a symbolic link")
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(f"{directory} is not a directory")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafePathError(f"{directory} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})")
    if st.st_uid not in (0, os.geteuid()):
        raise UnsafePathError(f"{directory} is owned by uid {st.st_uid}, not by root or this user")


def check_file(path: str) -> None:
    """Refuse a file that is a link, not a regular file, or writable by others."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(f"{path} is not a regular file")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafePathError(f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})")


def ensure_directory(directory: str, mode: int = 0o755) -> None:
    """Create `directory` (and parents) when missing, then check it is safe."""
    os.makedirs(directory, mode=mode, exist_ok=True)
    _check_directory(directory)


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` atomically; the previous file survives any failure."""
    directory = os.path.dirname(os.path.abspath(path))
    _check_directory(directory)
    check_file(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)


@contextlib.contextmanager
def locked(directory: str, blocking: bool = True) -> Iterator[bool]:
    """Hold the directory's lock; yields False (without waiting) when `blocking` is off and it is taken."""
    _check_directory(directory)
    fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def read_bounded(path: str, limit: int) -> bytes:
    """Read a regular file we own, refusing links and anything larger than `limit`."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"{path} is not a regular file")
        if st.st_size > limit:
            raise UnsafePathError(f"{path} is larger than {limit} bytes")
        return os.read(fd, limit + 1)[:limit]
    finally:
        os.close(fd)
