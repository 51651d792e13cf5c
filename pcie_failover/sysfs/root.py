"""The only filesystem user: a sysfs root given as a value, with bounded reads confined to it.

Paths handed to these methods are relative to the root and built from validated names.
Every component of every path is looked up relative to an open descriptor of the
directory above it, never by a path string: a symbolic link anywhere in a path is read
with `readlinkat` and followed only while it stays inside the root (sysfs links are
relative; an absolute target, a `..` above the root, a loop or a name with a control
character is refused), so a copied tree cannot lead a read, a listing or a capture
to `/etc`. Only regular files are opened: the entry is opened with `O_PATH` (which runs
no driver code), checked, and re-opened through `/proc/self/fd`, so it
cannot be swapped for a device node or a FIFO in between. Every read is counted (tests hold
single-device commands to a constant number of reads) and bounded.

A root remembers, for its lifetime, its directory descriptors and what each entry on a walk was
(a directory, or a link and its target): each is looked at once. A long-running caller takes a
`fresh()` root for each pass.
"""

from __future__ import annotations

import errno
import os
import stat
import weakref
from collections import OrderedDict

from pcie_failover.adapters.regular import NotRegularError

LIVE_SYSFS = "/sys"
DEFAULT_READ_LIMIT = 4096
CONFIG_READ_LIMIT = 256  # the standard configuration space
MAX_LINKS = 40  # the kernel's own limit on links followed in one lookup (MAXSYMLINKS)
_DIR_CACHE = 256  # open directory descriptors kept per root

_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY = _PATH | os.O_DIRECTORY
_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_UNSEEN = "\0unseen"  # what an entry is, not known yet (no link target holds a NUL)
_OTHER = "\0other"  # neither a directory nor a link (not remembered: only directories and links are)
# Re-opened by /proc/self/fd/N, looked up anew each time: not a held /proc/PID/fd (getpid() is this PID namespace's
# number, which names another process in a parent namespace's /proc), nor a held descriptor (its number can be
# closed and reused by other code).
_SELF_FD = "/proc/self/fd/"


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


def _real_path(path: str) -> str:
    """`path` without links, when that names the same directory; else `path` as given, made absolute.

    A magic link (`/proc/PID/root/sys`, `/proc/PID/cwd`) reads as a path of this mount namespace
    (`/sys`) but leads into another one: the root is where it leads, and it is not this host's
    live /sys. A link that cannot be read (`/proc/1/root` as another user) is left for the first
    lookup to report.
    """
    given = os.path.abspath(path)
    try:
        real = os.path.realpath(path)
        return real if os.path.samestat(os.stat(given), os.stat(real)) else given
    except OSError:
        return given


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
        self.path = _real_path(path)
        self.origin = self.path if origin is None else os.path.abspath(origin)
        self.live = self.path == LIVE_SYSFS
        self.reads = 0
        self._dirs: OrderedDict[str, int] = OrderedDict()
        self._resolved: dict[str, tuple[tuple[str, ...], str]] = {}  # a directory path -> its link-free parts, joined
        self._kinds: dict[str, str | None] = {}  # a link-free path -> None: a directory; a link's target
        weakref.finalize(self, _close_all, self._dirs)

    def fresh(self) -> SysfsRoot:
        """The same root with nothing cached: for each pass of a long-running audit."""
        return SysfsRoot(self.path, self.origin)

    def reopen_problem(self) -> str | None:
        """Why a descriptor cannot be re-opened through /proc/self/fd, as every read and listing is; else None.

        Without a /proc of this process (a chroot or a mount namespace without one), each re-open
        fails with ENOENT, which would read as "missing": every listing empty, every optional
        attribute absent.
        """
        try:
            fd = self._directory("", ())
        except OSError:
            return None  # no root at all: the lookups say so, by its own name
        try:
            if os.path.samestat(os.stat(f"{_SELF_FD}{fd}"), os.fstat(fd)):
                return None
        except OSError:
            pass
        return f"{_SELF_FD}N does not lead to this process's descriptors (is /proc mounted?)"

    # -- lookups: every component relative to its directory's descriptor -------------------

    def _directory(self, key: str, parts: tuple[str, ...]) -> int:
        """An O_PATH descriptor of the link-free directory `parts` (joined: `key`) below the root."""
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
        """Cache a directory descriptor, closing the least recently used one past the limit.

        Opened with O_NOFOLLOW|O_DIRECTORY, the entry is a directory, not a link: its kind is remembered too.
        """
        self._dirs[key] = fd
        self._kinds[key] = None
        if len(self._dirs) > _DIR_CACHE:
            os.close(self._dirs.popitem(last=False)[1])
        return fd

    def _walk(self, rel: str, follow: bool, *, directory: bool = False) -> tuple[tuple[str, ...], str, str]:
        """(the link-free directory holding the last component, that directory joined, that component's name).

        Links before the last component are always followed inside the root; the last
        one only when `follow` (`directory`: the last one is wanted as a directory). The name is
        "." when `rel` ends at a directory itself. Each directory path's resolution is remembered
        for the root's lifetime.
        """
        head, _, name = rel.rpartition("/")
        if name in ("", ".", ".."):
            return self._follow((), "", rel.split("/"), rel, follow, directory=directory)
        known = self._resolved.get(head)
        if known is None:
            # From the parent's resolution when it is known (top-down walks: linear in depth), else from the root.
            parent, _, last_part = head.rpartition("/")
            start = self._resolved.get(parent) if parent else None
            if start is None:
                within, key, last = self._follow((), "", head.split("/"), rel, follow=True, directory=True)
            else:
                within, key, last = self._follow(start[0], start[1], [last_part], rel, follow=True, directory=True)
            if last != ".":
                within, key = (*within, last), f"{key}/{last}" if key else last
            known = self._resolved[head] = (within, key)
        if follow:
            return self._follow(known[0], known[1], [name], rel, follow, directory=directory)
        if not name.isprintable():
            raise SysfsError(rel, "a path component with control characters")
        return known[0], known[1], name

    def _follow(
        self,
        start: tuple[str, ...],
        key: str,
        components: list[str],
        rel: str,
        follow: bool,
        *,
        directory: bool = False,
    ) -> tuple[tuple[str, ...], str, str]:
        """Walk `components` from the directory `start` (joined: `key`), following links inside the root.

        `directory`: the last component is wanted as a directory (as every one before it is).

        What each entry on the way is (a directory, or a link and its target) is remembered for the
        root's lifetime, as directory descriptors and resolutions are: it is looked at once.
        """
        pending = [part for part in reversed(components) if part not in ("", ".")]
        parts = start
        kinds = self._kinds
        links = 0
        while pending:
            name = pending.pop()
            if not name.isprintable():
                raise SysfsError(rel, "a path component with control characters")
            if name == "..":
                if not parts:
                    raise SysfsError(rel, "link points outside the sysfs root")
                parts, key = parts[:-1], key.rpartition("/")[0]
                continue
            if not pending and not follow:
                return parts, key, name
            child = f"{key}/{name}" if key else name
            kind = kinds.get(child, _UNSEEN)
            if kind is _UNSEEN:
                kind = self._look(parts, key, name, rel, directory=directory or bool(pending))
            if kind is not None and kind is not _OTHER:  # a link
                links += 1
                if links > MAX_LINKS:
                    raise SysfsError(rel, "too many levels of symbolic links")
                if kind.startswith("/"):
                    raise SysfsError(rel, "link points outside the sysfs root (absolute target)")
                pending.extend(part for part in reversed(kind.split("/")) if part not in ("", "."))
                continue
            if not pending:
                return parts, key, name
            if kind is not None:
                raise SysfsError(rel, _reason(OSError(errno.ENOTDIR, "")), missing=True)
            parts, key = (*parts, name), child
        return parts, key, "."

    def _look(self, parts: tuple[str, ...], key: str, name: str, rel: str, *, directory: bool) -> str | None:
        """What the entry `name` of the directory `parts` is: None for a directory, else a link's target or _OTHER.

        An entry wanted as a directory is opened as one first (O_NOFOLLOW|O_DIRECTORY: ENOTDIR for a link or
        any other kind, which are then told apart as before); its descriptor is the one the walk goes on with.
        """
        child = f"{key}/{name}" if key else name
        kind: str | None
        try:
            here = self._directory(key, parts)
            if directory:
                try:
                    self._remember(child, os.open(name, _DIRECTORY, dir_fd=here))
                    return None
                except NotADirectoryError:  # not a directory: a link (its target), or another kind (EINVAL)
                    try:
                        kind = self._kinds[child] = os.readlink(name, dir_fd=here)
                    except OSError as error:
                        if error.errno != errno.EINVAL:
                            raise
                        return _OTHER
                    return kind
            entry = os.stat(name, dir_fd=here, follow_symlinks=False)
            kind = os.readlink(name, dir_fd=here) if stat.S_ISLNK(entry.st_mode) else _OTHER
        except OSError as error:
            raise _error(rel, error) from None
        if kind is _OTHER and stat.S_ISDIR(entry.st_mode):
            kind = None
        if kind is not _OTHER:
            self._kinds[child] = kind
        return kind

    def _stat(self, rel: str, follow: bool) -> os.stat_result:
        parts, key, name = self._walk(rel, follow)
        try:
            return os.stat(name, dir_fd=self._directory(key, parts), follow_symlinks=False)
        except OSError as error:
            raise _error(rel, error) from None

    def _open_regular(self, name: str, directory: int) -> tuple[int, int]:
        """A descriptor of the regular file `name`, opened for reading, and the size it had when checked.

        As adapters/regular.py's open_regular: O_PATH, fstat, and a re-open of that very inode through
        /proc/self/fd/N.
        """
        handle = os.open(name, _PATH, dir_fd=directory)
        try:
            found = os.fstat(handle)
            if not stat.S_ISREG(found.st_mode):
                raise NotRegularError(stat.S_ISLNK(found.st_mode))
            return os.open(f"{_SELF_FD}{handle}", _READ), found.st_size
        finally:
            os.close(handle)

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
            parts, key, name = self._walk(rel, follow=False)
            fd, size = self._open_regular(name, self._directory(key, parts))
        except NotRegularError as error:
            raise SysfsError(rel, "is a symbolic link, not an attribute" if error.is_link else str(error)) from None
        except OSError as error:
            raise _error(rel, error) from None
        try:
            chunk = os.read(fd, limit)
            got = len(chunk)
            if not chunk or got in (size, limit):  # all it held when checked: the read that would say so is saved
                return chunk
            chunks = [chunk]
            while got < limit:
                chunk = os.read(fd, limit - got)
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
                if got == size:
                    break
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
            parts, key, name = self._walk(rel, follow=False)
            target = os.readlink(name, dir_fd=self._directory(key, parts))
        except OSError as error:
            raise _error(rel, error) from None
        self._kinds[f"{key}/{name}" if key else name] = target  # a walk through it need not read it again
        return target

    def link_name(self, rel: str) -> str:
        """The last component of a link's target: `driver` -> `vfio-pci`."""
        return os.path.basename(self.readlink(rel).rstrip("/"))

    def listdir(self, rel: str) -> list[str]:
        """Sorted names in a directory (a link to a directory inside the root is followed)."""
        self.reads += 1
        try:
            parts, key, name = self._walk(rel, follow=True, directory=True)
            if name != ".":
                parts, key = (*parts, name), f"{key}/{name}" if key else name
            # That very directory (O_PATH, O_NOFOLLOW|O_DIRECTORY) re-opened for reading, as files are: opendir()
            # opens the path with O_DIRECTORY (five system calls; a descriptor handed to os.listdir costs ten).
            return sorted(os.listdir(f"{_SELF_FD}{self._directory(key, parts)}"))
        except OSError as error:
            raise _error(rel, error) from None

    def resolve(self, rel: str) -> str:
        """Resolve every link in `rel` inside the root; the entry must exist. Returns a root-relative path."""
        self.reads += 1
        parts, key, name = self._walk(rel, follow=True)
        try:
            os.stat(name, dir_fd=self._directory(key, parts), follow_symlinks=False)
        except OSError as error:
            raise _error(rel, error) from None
        return "/".join(parts if name == "." else (*parts, name))
