"""Unpack a capture archive given as --sysfs-root into a private temporary directory, safely, and remove it at exit.

Python 3.11.2 has no tarfile extraction filters, so this is the extraction itself, not a
filter in front of `extractall`. The archive is read as a stream through a counter of
decompressed bytes (a decompression bomb stops at the bound, tar headers included). Kept:
regular files, directories and symbolic links whose names are `sysfs` or below it, with no
empty, `.` or `..` component, printable, at most MAX_DEPTH deep. Refused, with one line
naming the member: anything else (hard links, devices, FIFOs, sparse files), a name given
twice, a member beneath a link or a file, more than MAX_ENTRIES members, a file over
MAX_FILE bytes, more than MAX_TOTAL bytes in all. Nothing is written through a link: each
directory is opened relative to its parent's descriptor with `O_NOFOLLOW`, files are
created `O_EXCL|O_NOFOLLOW`, links with `symlinkat`, so an earlier member can never
redirect a later one. Link targets are kept as they are: the reader (`SysfsRoot`) follows
a link only while it stays inside the root. The directory is mode 0700, made with
`mkdtemp`, and removed by `remove_unpacked` (the CLI's `main` calls it on every exit,
SIGTERM and SIGINT included).
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import tarfile

    from _typeshed import WriteableBuffer

TOP = "sysfs"  # what `capture` writes: everything below sysfs/
MAX_ENTRIES = 250_000  # members (a capture of every function of 1024 generated VFs: about 30,000)
MAX_TOTAL = 256 * 1024 * 1024  # decompressed bytes, tar headers included
MAX_FILE = 64 * 1024 * 1024  # one file: the largest the reader reads (the netlink sidecar)
MAX_DEPTH = 64  # name components (sysfs paths are some 15 deep)
_CHUNK = 64 * 1024
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

_unpacked: list[str] = []


class ArchiveError(Exception):
    """The archive cannot be used as a sysfs root; the message (one line) says which member and why."""


class _Counted(io.RawIOBase):
    """A readable stream that refuses to yield more than `limit` bytes in all (so no read is larger)."""

    def __init__(self, stream: io.BufferedIOBase, limit: int, name: str) -> None:
        super().__init__()
        self.stream = stream
        self.left = limit
        self.name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.stream.read(min(len(view), self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise ArchiveError(f"{self.name}: more than {MAX_TOTAL} bytes once decompressed")
        view[: len(data)] = data
        return len(data)


def unpack_capture(path: str) -> str:
    """Unpack the capture archive at `path`; the path of its `sysfs` directory (ArchiveError if unusable)."""
    import gzip
    import tarfile
    import tempfile
    import zlib

    handle = os.open(path, os.O_PATH | os.O_CLOEXEC)  # the user's own path: as for a directory root
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise ArchiveError(f"{path}: not a regular file")
        fd = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC)
    finally:
        os.close(handle)
    directory = tempfile.mkdtemp(prefix="pcie-failover-capture-")  # mode 0700
    _unpacked.append(directory)
    with os.fdopen(fd, "rb") as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
        try:
            with tarfile.open(fileobj=_Counted(unzipped, MAX_TOTAL, path), mode="r|") as tar:
                _Extraction(path, directory).run(tar)
        except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
            raise ArchiveError(f"{path}: not a capture archive (a gzip'd tar): {error}") from None
        except OSError as error:
            raise ArchiveError(f"{path}: cannot unpack: {error.strerror or error}") from None
    return os.path.join(directory, TOP)


def remove_unpacked() -> None:
    """Remove every directory `unpack_capture` made in this process."""
    import shutil

    while _unpacked:
        shutil.rmtree(_unpacked.pop(), ignore_errors=True)


class _Extraction:
    """Members written below one directory, each relative to its parent's descriptor."""

    def __init__(self, archive: str, directory: str) -> None:
        import tarfile

        self.regular = (tarfile.REGTYPE, tarfile.AREGTYPE)  # not isreg(): no sparse file, which expands
        self.archive = archive
        self.top = os.open(directory, _DIRECTORY)
        self.open: list[tuple[str, int]] = []  # the directories of the last member's parent, top down
        self.entries = 0

    def run(self, tar: tarfile.TarFile) -> None:
        try:
            for member in tar:
                self.entries += 1
                if self.entries > MAX_ENTRIES:
                    raise ArchiveError(f"{self.archive}: more than {MAX_ENTRIES} members")
                self._member(tar, member)
        finally:
            for _, fd in self.open:
                os.close(fd)
            os.close(self.top)

    def _fail(self, member: tarfile.TarInfo, why: str) -> ArchiveError:
        return ArchiveError(f"{self.archive}: {member.name!a} {why}")

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = member.name.split("/")
        if parts[0] != TOP or any(part in ("", ".", "..") for part in parts) or not member.name.isprintable():
            raise self._fail(member, f"is not a plain name below {TOP}/")
        if len(parts) > MAX_DEPTH:
            raise ArchiveError(f"{self.archive}: a member is more than {MAX_DEPTH} levels deep")
        if len(parts) == 1 and not member.isdir():  # a link there would be the root itself
            raise self._fail(member, "is not a directory")
        parent, name = self._parent(member, parts[:-1]), parts[-1]
        try:
            if member.type in self.regular:
                if member.size > MAX_FILE:
                    raise self._fail(member, f"is larger than {MAX_FILE} bytes")
                self._file(parent, name, member.mode, tar.extractfile(member))
            elif member.isdir():
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=parent)
                if not stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                    raise FileExistsError
            elif member.issym():
                if not member.linkname or not member.linkname.isprintable():
                    raise self._fail(member, f"is a link to {member.linkname!a}")
                os.symlink(member.linkname, name, dir_fd=parent)
            else:
                raise self._fail(member, "is neither a file, a directory nor a symbolic link")
        except FileExistsError:
            raise self._fail(member, "is in the archive twice") from None

    def _parent(self, member: tarfile.TarInfo, parts: list[str]) -> int:
        """A descriptor of the directory `parts` (created as needed; never through a link or a file)."""
        kept = 0
        while kept < min(len(parts), len(self.open)) and self.open[kept][0] == parts[kept]:
            kept += 1
        while len(self.open) > kept:
            os.close(self.open.pop()[1])
        for part in parts[kept:]:
            here = self.open[-1][1] if self.open else self.top
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o700, dir_fd=here)
            try:
                fd = os.open(part, _DIRECTORY, dir_fd=here)
            except OSError:
                raise self._fail(member, "is beneath a link or a file") from None
            self.open.append((part, fd))
        return self.open[-1][1] if self.open else self.top

    @staticmethod
    def _file(parent: int, name: str, mode: int, content: IO[bytes] | None) -> None:
        with os.fdopen(os.open(name, _NEW_FILE, 0o600, dir_fd=parent), "wb") as out:
            while content is not None and (chunk := content.read(_CHUNK)):
                out.write(chunk)
            os.fchmod(out.fileno(), mode & 0o755)
