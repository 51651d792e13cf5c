"""The only filesystem user: a sysfs root given as a value, with bounded, confined reads.

Paths handed to these methods are relative to the root and built from validated
names. Every read is counted (tests hold single-device commands to a constant
number of reads), never follows a link out of the root, never blocks on a FIFO
and never reads more than a bound.
"""

from __future__ import annotations

import errno
import os
import stat

LIVE_SYSFS = "/sys"
DEFAULT_READ_LIMIT = 4096
CONFIG_READ_LIMIT = 256  # the standard configuration space


class SysfsError(Exception):
    """A path under the root could not be read; `missing` is True for ENOENT/ENOTDIR."""

    def __init__(self, path: str, reason: str, missing: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        self.missing = missing


def _reason(error: OSError) -> str:
    if error.errno is not None and error.errno in errno.errorcode:
        return f"{errno.errorcode[error.errno]} ({os.strerror(error.errno)})"
    return str(error)


def _missing(error: OSError) -> bool:
    return error.errno in (errno.ENOENT, errno.ENOTDIR)


class SysfsRoot:
    """A directory laid out like /sys; `live` when it is the running kernel's /sys."""

    def __init__(self, path: str) -> None:
        self.path = os.path.realpath(path)
        self.live = self.path == LIVE_SYSFS
        self.reads = 0

    def _abs(self, rel: str) -> str:
        return f"{self.path}/{rel}" if rel else self.path

    def is_directory(self, rel: str) -> bool:
        """Whether `rel` is a directory (following links inside the root)."""
        self.reads += 1
        try:
            resolved = self.resolve(rel)
        except SysfsError:
            return False
        return os.path.isdir(self._abs(resolved))

    def lstat(self, rel: str) -> os.stat_result:
        """The entry itself (a link is not followed)."""
        self.reads += 1
        try:
            return os.lstat(self._abs(rel))
        except OSError as error:
            raise SysfsError(rel, _reason(error), _missing(error)) from None

    def exists(self, rel: str) -> bool:
        """Whether `rel` exists, without following a final link."""
        self.reads += 1
        return os.path.lexists(self._abs(rel))

    def read_bytes(self, rel: str, limit: int = DEFAULT_READ_LIMIT) -> bytes:
        """Read at most `limit` bytes of a regular file; never follows a final link."""
        self.reads += 1
        path = self._abs(rel)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise SysfsError(rel, "is a symbolic link, not an attribute") from None
            raise SysfsError(rel, _reason(error), _missing(error)) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SysfsError(rel, "not a regular file")
            chunks: list[bytes] = []
            size = 0
            while size < limit:
                chunk = os.read(fd, limit - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return b"".join(chunks)
        except OSError as error:
            raise SysfsError(rel, _reason(error), _missing(error)) from None
        finally:
            os.close(fd)

    def read_text(self, rel: str, limit: int = DEFAULT_READ_LIMIT) -> str:
        """Read a text attribute, stripped of the trailing newline; undecodable bytes are an error."""
        data = self.read_bytes(rel, limit)
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise SysfsError(rel, "not UTF-8 text") from None

    def readlink(self, rel: str) -> str:
        """The target of a symbolic link, as written (sysfs links are relative)."""
        self.reads += 1
        try:
            return os.readlink(self._abs(rel))
        except OSError as error:
            raise SysfsError(rel, _reason(error), _missing(error)) from None

    def link_name(self, rel: str) -> str:
        """The last component of a link's target: `driver` -> `vfio-pci`."""
        return os.path.basename(self.readlink(rel).rstrip("/"))

    def listdir(self, rel: str) -> list[str]:
        """Sorted names in a directory."""
        self.reads += 1
        try:
            return sorted(os.listdir(self._abs(rel)))
        except OSError as error:
            raise SysfsError(rel, _reason(error), _missing(error)) from None

    def resolve(self, rel: str) -> str:
        """Resolve every link in `rel`; the result, relative to the root, must stay inside it."""
        self.reads += 1
        try:
            real = os.path.realpath(self._abs(rel), strict=True)
        except OSError as error:
            raise SysfsError(rel, _reason(error), _missing(error)) from None
        if real == self.path:
            return ""
        if not real.startswith(self.path + os.sep):
            raise SysfsError(rel, "link points outside the sysfs root")
        return real[len(self.path) + 1 :]
