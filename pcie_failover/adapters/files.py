"""Safe reads and writes of the files this tool owns (pair registry, textfile metrics, state, captures), run as root.

A directory is opened once (`O_DIRECTORY|O_NOFOLLOW` on the normalised path, so a
trailing `/` or `/.` cannot slip a link through), checked with fstat, and every later
operation is relative to that descriptor, so the checks hold for what is written even if
the path is swapped meanwhile. A private directory (registry, textfile, state) must be
owned by root or this user and not writable by group or others. A file in it is looked at
through an `O_PATH|O_NOFOLLOW` descriptor and checked with fstat first; only a regular
file is then opened (that very inode, through /proc/self/fd), so a device node, a FIFO or
a link is never opened at all. Writes go to a new temporary file in the same directory,
are fsynced and renamed over the target (then the directory is fsynced), so a reader or
a crash sees the old file or the new one, never half of either; a lock (a `.lock` file, or an flock on
the directory itself where no file may be left) serialises writers.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from typing import BinaryIO

from pcie_failover.adapters.regular import NotRegularError, open_regular

LOCK_NAME = ".lock"
_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH


class UnsafePathError(Exception):
    """A path this tool would read or write is not safe to use; the message says why."""


def _check_owner_and_mode(path: str, st: os.stat_result) -> None:
    if st.st_mode & _WRITABLE_BY_OTHERS:
        raise UnsafePathError(f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})")
    if st.st_uid not in (0, os.geteuid()):
        raise UnsafePathError(f"{path} is owned by uid {st.st_uid}, not by root or this user")


class SafeDirectory:
    """An open, checked directory; names given to its methods are single components inside it."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: str, *, private: bool = True, create: bool = False) -> Iterator[SafeDirectory]:
        """Open `path` (created first with mode 0755 when `create`); a private one must be safe (see module)."""
        if create:
            with contextlib.suppress(FileExistsError):  # a link or a file there: the open below says which
                os.makedirs(path, mode=0o755, exist_ok=True)
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | (os.O_NOFOLLOW if private else 0)
        # `dir/link/` and `dir/link/.` would follow the link despite O_NOFOLLOW: open the normalised path.
        try:
            fd = os.open(os.path.normpath(path), flags)
        except OSError as error:
            raise _directory_error(path, error) from None
        try:
            if private:
                _check_owner_and_mode(path, os.fstat(fd))
            yield cls(path, fd)
        finally:
            os.close(fd)

    def join(self, name: str) -> str:
        """The path of `name`, for messages."""
        return os.path.join(self.path, name)

    def names(self) -> list[str]:
        """Sorted names in the directory (read through the descriptor)."""
        with os.scandir(self.fd) as entries:
            return sorted(entry.name for entry in entries)

    def lstat(self, name: str) -> os.stat_result | None:
        """The entry itself (a link is not followed); None when it does not exist."""
        try:
            return os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def check_target(self, name: str) -> None:
        """Refuse to replace an existing entry that is not a regular file (a link, a device, a directory...)."""
        st = self.lstat(name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise UnsafePathError(f"{self.join(name)} is not a regular file")

    def unlink(self, name: str) -> bool:
        """Remove `name`; False when it was not there."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            return False
        return True

    def _open_regular(self, name: str, flags: int, create_mode: int | None = None) -> int:
        """Open `name` only if it is a regular file; when missing, create it empty if `create_mode` is given.

        The entry is first opened with `O_PATH` (which runs no driver code and opens no FIFO),
        checked, and that very inode re-opened through `/proc/self/fd`: a device node, a FIFO,
        a socket or a link is refused (UnsafePathError) without ever being opened.
        """
        while True:
            try:
                return open_regular(name, self.fd, flags)
            except NotRegularError:
                raise UnsafePathError(f"{self.join(name)} is not a regular file") from None
            except FileNotFoundError:
                if create_mode is None:
                    raise
            new = flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
            try:
                return os.open(name, new, create_mode, dir_fd=self.fd)
            except FileExistsError:
                continue  # created meanwhile: look at what it is

    def touch(self, name: str) -> None:
        """Create `name` empty if missing (never through a link, never opening a device)."""
        try:
            fd = self._open_regular(name, os.O_WRONLY | os.O_NONBLOCK, 0o644)
        except OSError as error:
            raise _file_error(self.join(name), error) from None
        os.close(fd)

    def read_bounded(self, name: str, limit: int) -> bytes:
        """Read a regular file owned by root or this user and not writable by others, of at most `limit` bytes."""
        try:
            fd = self._open_regular(name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as error:
            raise _file_error(self.join(name), error) from None
        try:
            st = os.fstat(fd)
            _check_owner_and_mode(self.join(name), st)
            if st.st_size > limit:
                raise UnsafePathError(f"{self.join(name)} is larger than {limit} bytes")
            return os.read(fd, limit + 1)[:limit]
        finally:
            os.close(fd)

    def atomic_write(self, name: str, write: Callable[[BinaryIO], object], mode: int = 0o644) -> None:
        """Replace `name` with what `write` writes, atomically; the previous file survives any failure."""
        self.check_target(name)
        temporary, fd = self._temporary(name)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, mode, dir_fd=self.fd)
            os.replace(temporary, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException:
            self.unlink(temporary)
            raise
        os.fsync(self.fd)

    def _temporary(self, name: str) -> tuple[str, int]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        while True:
            temporary = f".{name}.{secrets.token_hex(6)}"
            try:
                return temporary, os.open(temporary, flags, 0o600, dir_fd=self.fd)
            except FileExistsError:
                continue

    @contextlib.contextmanager
    def lock(self, blocking: bool = True) -> Iterator[bool]:
        """Hold the directory's lock; yields False (without waiting) when `blocking` is off and it is taken."""
        try:
            fd = self._open_regular(LOCK_NAME, os.O_RDWR | os.O_NONBLOCK, 0o600)
        except OSError as error:
            raise _file_error(self.join(LOCK_NAME), error) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold an flock(2) on the directory itself: serialises writers without leaving a file in it."""
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


def _directory_error(path: str, error: OSError) -> Exception:
    if error.errno == errno.ENOENT:
        return UnsafePathError(f"{path} does not exist")
    if error.errno == errno.ELOOP or (error.errno == errno.ENOTDIR and os.path.islink(os.path.normpath(path))):
        return UnsafePathError(f"{path} is a symbolic link")
    if error.errno == errno.ENOTDIR:
        return UnsafePathError(f"{path} is not a directory")
    return error


def _file_error(path: str, error: OSError) -> Exception:
    if error.errno == errno.ELOOP:
        return UnsafePathError(f"{path} is not a regular file")
    return error


def atomic_write(
    path: str, data: bytes | Callable[[BinaryIO], object], mode: int = 0o644, *, private: bool = True
) -> None:
    """Replace `path` with `data` (bytes, or a function writing to the temporary file) atomically.

    `private`: the directory must be safe (see module); otherwise any directory will do (a
    capture's), the rename being atomic and never following a link.
    """
    directory, name = os.path.split(os.path.abspath(path))
    with SafeDirectory.open(directory, private=private) as opened:
        opened.atomic_write(name, _writer(data) if isinstance(data, bytes) else data, mode)


def _writer(data: bytes) -> Callable[[BinaryIO], object]:
    def write(out: BinaryIO) -> None:
        out.write(data)

    return write
