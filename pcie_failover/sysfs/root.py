"""The only filesystem user: a sysfs root given as a value, with bounded reads confined to it.

Paths handed to these methods are relative to the root and built from validated names.
Every component of every path is looked up relative to an open descriptor of the
directory above it, never by a path string: a symbolic link anywhere in a path is read
with `readlinkat` and followed only while it stays inside the root (sysfs links are
relative; an absolute target, a `..` above the root, a loop or a name with a control
character is refused), so a copied tree cannot lead a read, a listing or a capture
to `/etc`. Only regular files are opened: the entry is opened with `O_PATH` (which runs
no driver code), checked, and re-opened through `/proc/self/fd`, so it cannot be swapped
for a device node or a FIFO in between. Every read is counted (tests hold single-device
commands to a constant number of reads) and bounded.
"""

from __future__ import annotations

import errno
import os
import stat
import weakref
from collections import OrderedDict

from pcie_failover.adapters.regular import NotRegularError, open_regular

LIVE_SYSFS = "/sys"
DEFAULT_READ_LIMIT = 4096
CONFIG_READ_LIMIT = 256  # the standard configuration space
MAX_LINKS = 40  # the kernel's own limit on links followed in one lookup (MAXSYMLINKS)
_DIR_CACHE = 256  # open directory descriptors kept per root

_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY = _PATH | os.O_DIRECTORY


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


def _error(rel: str, error: OSError) -> SysfsError:
    return SysfsError(rel, _reason(error), error.errno in (errno.ENOENT, errno.ENOTDIR))


def _close_all(fds: OrderedDict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()


class SysfsRoot:
    """A directory laid out like /sys; `live` when it is the running kernel's /sys.

    `origin` is what the user named (absolute): the directory itself, or the capture directory or
    archive it came from (an archive is unpacked into a temporary directory that does not outlive
    the run, so a pair registered from it records the archive).

    Directory descriptors are cached for the root's lifetime: a long-running caller (watch)
    takes a `fresh()` root for each pass, so a directory the kernel re-created is seen anew.
    """

    def __init__(self, path: str, origin: str | None = None) -> None:
        self.path = os.path.realpath(path)
        self.origin = self.path if origin is None else os.path.abspath(origin)
        self.live = self.path == LIVE_SYSFS
        self.reads = 0
        self._dirs: OrderedDict[str, int] = OrderedDict()
        self._resolved: dict[str, tuple[str, ...]] = {}
        weakref.finalize(self, _close_all, self._dirs)

    def fresh(self) -> SysfsRoot:
        """The same root with nothing cached: for each pass of a long-running audit."""
        return SysfsRoot(self.path, self.origin)

    # -- lookups: every component relative to its directory's descriptor -------------------

    def _directory(self, parts: tuple[str, ...]) -> int:
        """An O_PATH descriptor of the link-free directory `parts` below the root."""
        key = "/".join(parts)
        fd = self._dirs.get(key)
        if fd is not None:
            self._dirs.move_to_end(key)
            return fd
        parent = self._dirs.get(key.rpartition("/")[0] if len(parts) > 1 else "") if parts else None
        if parent is not None:  # the usual case: readers walk top-down
            return self._remember(key, os.open(parts[-1], _DIRECTORY, dir_fd=parent))
        # Down from the root, iteratively (no recursion however deep the tree).
        fd = self._dirs.get("")
        if fd is None:
            fd = self._remember("", os.open(self.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            cached = self._dirs.get(prefix)
            fd = (
                cached
                if cached is not None
                else self._remember(prefix, os.open(parts[depth - 1], _DIRECTORY, dir_fd=fd))
            )
        return fd

    def _remember(self, key: str, fd: int) -> int:
        """Cache a directory descriptor, closing the least recently used one past the limit."""
        self._dirs[key] = fd
        if len(self._dirs) > _DIR_CACHE:
            os.close(self._dirs.popitem(last=False)[1])
        return fd

    def _walk(self, rel: str, follow: bool) -> tuple[tuple[str, ...], str]:
        """(the link-free directory holding the last component, that component's name).

        Links before the last component are always followed inside the root; the last
        one only when `follow`. The name is "." when `rel` ends at a directory itself.
        Each directory path's resolution is remembered for the root's lifetime.
        """
        head, _, name = rel.rpartition("/")
        if name in ("", ".", ".."):
            return self._follow((), rel.split("/"), rel, follow)
        parts = self._resolved.get(head)
        if parts is None:
            # From the parent's resolution when it is known (top-down walks: linear in depth), else from the root.
            parent, _, last_part = head.rpartition("/")
            start = self._resolved.get(parent) if parent else None
            components = [last_part] if start is not None else head.split("/")
            within, last = self._follow(start or (), components, rel, follow=True)
            parts = within if last == "." else (*within, last)
            self._resolved[head] = parts
        if follow:
            return self._follow(parts, [name], rel, follow)
        if not name.isprintable():
            raise SysfsError(rel, "a path component with control characters")
        return parts, name

    def _follow(
        self, start: tuple[str, ...], components: list[str], rel: str, follow: bool
    ) -> tuple[tuple[str, ...], str]:
        """Walk `components` from the directory `start`, following links inside the root."""
        pending = [part for part in reversed(components) if part not in ("", ".")]
        parts = list(start)
        links = 0
        while pending:
            name = pending.pop()
            if not name.isprintable():
                raise SysfsError(rel, "a path component with control characters")
            if name == "..":
                if not parts:
                    raise SysfsError(rel, "link points outside the sysfs root")
                parts.pop()
                continue
            if not pending and not follow:
                return tuple(parts), name
            try:
                here = self._directory(tuple(parts))
                entry = os.stat(name, dir_fd=here, follow_symlinks=False)
                target = os.readlink(name, dir_fd=here) if stat.S_ISLNK(entry.st_mode) else None
            except OSError as error:
                raise _error(rel, error) from None
            if target is not None:
                links += 1
                if links > MAX_LINKS:
                    raise SysfsError(rel, "too many levels of symbolic links")
                if target.startswith("/"):
                    raise SysfsError(rel, "link points outside the sysfs root (absolute target)")
                pending.extend(part for part in reversed(target.split("/")) if part not in ("", "."))
                continue
            if not pending:
                return tuple(parts), name
            if not stat.S_ISDIR(entry.st_mode):
                raise SysfsError(rel, _reason(OSError(errno.ENOTDIR, "")), missing=True)
            parts.append(name)
        return tuple(parts), "."

    def _stat(self, rel: str, follow: bool) -> os.stat_result:
        parts, name = self._walk(rel, follow)
        try:
            return os.stat(name, dir_fd=self._directory(parts), follow_symlinks=False)
        except OSError as error:
            raise _error(rel, error) from None

    # -- the interface ---------------------------------------------------------------------

    def is_directory(self, rel: str) -> bool:
        """Whether `rel` is a directory (following links inside the root)."""
        self.reads += 1
        try:
            return stat.S_ISDIR(self._stat(rel, follow=True).st_mode)
        except (SysfsError, OSError):
            return False

    def lstat(self, rel: str) -> os.stat_result:
        """The entry itself (a final link is not followed)."""
        self.reads += 1
        try:
            return self._stat(rel, follow=False)
        except OSError as error:
            raise _error(rel, error) from None

    def exists(self, rel: str) -> bool:
        """Whether `rel` exists, without following a final link."""
        self.reads += 1
        try:
            self._stat(rel, follow=False)
        except (SysfsError, OSError):
            return False
        return True

    def read_bytes(self, rel: str, limit: int = DEFAULT_READ_LIMIT) -> bytes:
        """Read at most `limit` bytes of a regular file; a final link or any other kind is refused."""
        self.reads += 1
        try:
            parts, name = self._walk(rel, follow=False)
            fd = open_regular(name, self._directory(parts), os.O_RDONLY | os.O_NONBLOCK)
        except NotRegularError as error:
            raise SysfsError(rel, "is a symbolic link, not an attribute" if error.is_link else str(error)) from None
        except OSError as error:
            raise _error(rel, error) from None
        try:
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
            raise _error(rel, error) from None
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
            parts, name = self._walk(rel, follow=False)
            return os.readlink(name, dir_fd=self._directory(parts))
        except OSError as error:
            raise _error(rel, error) from None

    def link_name(self, rel: str) -> str:
        """The last component of a link's target: `driver` -> `vfio-pci`."""
        return os.path.basename(self.readlink(rel).rstrip("/"))

    def listdir(self, rel: str) -> list[str]:
        """Sorted names in a directory (a link to a directory inside the root is followed)."""
        self.reads += 1
        try:
            parts, name = self._walk(rel, follow=True)
            fd = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self._directory(parts)
            )
        except OSError as error:
            raise _error(rel, error) from None
        try:
            return sorted(os.listdir(fd))
        except OSError as error:
            raise _error(rel, error) from None
        finally:
            os.close(fd)

    def resolve(self, rel: str) -> str:
        """Resolve every link in `rel` inside the root; the entry must exist. Returns a root-relative path."""
        self.reads += 1
        parts, name = self._walk(rel, follow=True)
        try:
            os.stat(name, dir_fd=self._directory(parts), follow_symlinks=False)
        except OSError as error:
            raise _error(rel, error) from None
        return "/".join(parts if name == "." else (*parts, name))
