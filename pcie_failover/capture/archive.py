"""Write what the readers touched into a gzip'd tar whose `sysfs/` directory is a --sysfs-root; unpack one safely.

Only what a reader touched goes in (`recording.RecordingRoot`): files with the bytes the reader
got (config space is read as its standard 256 bytes: the extended space can hold a device
serial number), and the links, directories and listed names on the way, as placeholders.
Write-only, side-effecting and private attributes are never archived even if a reader should
come to read one (`remove`, `reset`, `resourceN`, `rom`, `vpd`, `serial`, ...). Netlink facts go
into the sidecar file, the devices' vendor and device names into the names file.
Only relative links that stay inside `sysfs/` are kept (`inside_target`), and nothing is
archived beneath a link, so even a naive extractor writes nothing outside the archive's
directory. `extract` is the project's own unpacking (tests, lab): stricter than tarfile's
`data` filter, which Python 3.11.2 lacks.
"""

from __future__ import annotations

import copy
import io
import os
import re
import stat
import tarfile
import time
from collections.abc import Callable
from typing import BinaryIO

from pcie_failover.capture.recording import Touched
from pcie_failover.sysfs.names import NAMES_FILE
from pcie_failover.sysfs.root import CONFIG_READ_LIMIT, MAX_LINKS, SysfsError, SysfsRoot

TOP = "sysfs"
SKIP_FILES = frozenset(
    {
        "remove", "rescan", "reset", "resource", "rom", "vpd", "new_id", "remove_id", "bind", "unbind",
        "sriov_vf_msix_count", "phys_port_id", "phys_switch_id", "serial", "label",
    }
)  # fmt: skip
_RESOURCE = re.compile(r"resource\d+(_wc)?")
KEPT_MODE = 0o755  # no setuid, setgid, sticky or write bits for others: an extractor as root makes what it says


def plain(rel: str) -> bool:
    """Whether `rel` names a place the way an extractor will: no empty, `.` or `..` component ("" is the top)."""
    return not rel or all(part not in ("", ".", "..") for part in rel.split("/"))


def inside_target(directory: str, target: str) -> str | None:
    """`target` of a link in `directory` (relative to the archive's top), normalised, if it resolves below the top.

    Only the kernel's form is kept: relative, every `..` first and no more of them than
    `directory` is deep, then names (`../../../bus/pci/drivers/igb`), or none when it leads to an
    ancestor below the top (`../..`, as a hand-made tree's `net/IF/device` may); `.` and empty
    components are dropped. Absolute targets, targets that climb out and targets that resolve
    to the top are None, and so are targets with a character that is not printable (no kernel
    names a device so, and `tar tv` would print it raw). As nothing is archived beneath a link,
    an extractor resolves every kept link to the same place, inside the archive.
    """
    if target.startswith("/") or not target.isprintable() or not plain(directory):
        return None
    parts = [part for part in target.split("/") if part not in ("", ".")]
    ups = next((i for i, part in enumerate(parts) if part != ".."), len(parts))
    names = parts[ups:]
    depth = len([part for part in directory.split("/") if part])
    if not parts or ".." in names or ups > depth or (not names and ups == depth):
        return None
    return "/".join(parts)


class _Archive:
    def __init__(self, root: SysfsRoot, tar: tarfile.TarFile) -> None:
        self.root = root
        self.tar = tar
        self.done: dict[str, bytes] = {}  # archived path -> its tar type
        self.placed: dict[str, str | None] = {}  # a directory as named -> its link-free path (None: not there)
        self.mtime = int(time.time())

    def _info(self, rel: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(f"{TOP}/{rel}" if rel else TOP)
        info.type, info.mode, info.mtime = kind, mode, self.mtime
        return info

    def _parents(self, rel: str) -> bool:
        """Archive the missing parents of `rel`; False when one was archived as a link (nothing goes beneath one).

        Walks up only to the first parent already archived (whose own parents were checked when
        it was added), so a tree of depth d costs O(d) lookups, not O(d^2).
        """
        missing: list[str] = []
        end = rel.rfind("/")
        while end > 0 and rel[:end] not in self.done:
            missing.append(rel[:end])
            end = rel.rfind("/", 0, end)
        if end > 0 and self.done[rel[:end]] == tarfile.SYMTYPE:
            return False
        for parent in reversed(missing):
            self._add(parent, tarfile.DIRTYPE, 0o755)
        return True

    def _add(self, rel: str, kind: bytes, mode: int, content: bytes = b"", linkname: str = "") -> None:
        if not plain(rel):  # `drivers/..` is one place to this tool and another to an extractor: never archived
            return
        self.done[rel] = kind
        info = self._info(rel, kind, mode)
        info.linkname = linkname
        info.size = len(content) if kind == tarfile.REGTYPE else 0
        self.tar.addfile(info, io.BytesIO(content) if kind == tarfile.REGTYPE else None)

    def directory(self, rel: str, mode: int) -> bool:
        """Archive a directory; False when it cannot hold entries (a link is archived there, or above it)."""
        if rel in self.done:
            return self.done[rel] == tarfile.DIRTYPE
        if rel and not self._parents(rel):
            return False
        self._add(rel, tarfile.DIRTYPE, stat.S_IMODE(mode) & KEPT_MODE)
        return True

    def link(self, rel: str, target: str) -> None:
        """Archive a link whose target stays inside the archive (`inside_target`); others are left out."""
        kept = inside_target(rel.rpartition("/")[0], target)
        if rel not in self.done and kept is not None and self._parents(rel):
            self._add(rel, tarfile.SYMTYPE, 0o777, linkname=kept)

    def file(self, rel: str, mode: int, content: bytes | None) -> None:
        """Archive a regular file: the bytes read (not for a private or side-effecting name), else empty."""
        name = rel.rsplit("/", 1)[-1]
        if rel in self.done or (content and (name in SKIP_FILES or _RESOURCE.fullmatch(name))):
            return
        if name == "config" and content:
            content = content[:CONFIG_READ_LIMIT]  # the standard config space at most, whoever read more
        if self._parents(rel):
            self._add(rel, tarfile.REGTYPE, stat.S_IMODE(mode) & KEPT_MODE, content or b"")

    def place(self, rel: str, follow: bool) -> str | None:
        """Archive the directories and links on the way to `rel`; its link-free path (None: not there).

        Mirrors `SysfsRoot`'s own walk: links are read and followed inside the root, and the last
        component is followed only when `follow`. Directories already placed are not walked again.
        """
        head, _, name = rel.rpartition("/")
        if head and head not in self.placed:
            self.placed[head] = self._walk("", head.split("/"), follow=True)
        start = self.placed.get(head, "") if head else ""
        return None if start is None else self._walk(start, [name], follow)

    def _walk(self, start: str, components: list[str], follow: bool) -> str | None:
        pending = [part for part in reversed(components) if part not in ("", ".")]
        parts = start.split("/") if start else []
        links = 0
        while pending:
            name = pending.pop()
            if name == "..":
                if not parts:
                    return None
                parts.pop()
                continue
            here = "/".join((*parts, name))
            if not pending and not follow:
                return here
            try:
                st = self.root.lstat(here)
                target = self.root.readlink(here) if stat.S_ISLNK(st.st_mode) else None
            except SysfsError:
                return None
            if target is not None:
                links += 1
                if links > MAX_LINKS or target.startswith("/"):
                    return None
                self.link(here, target)
                pending.extend(part for part in reversed(target.split("/")) if part not in ("", "."))
                continue
            if not pending:
                return here
            if not stat.S_ISDIR(st.st_mode) or not self.directory(here, stat.S_IMODE(st.st_mode)):
                return None
            parts.append(name)
        return "/".join(parts)

    def entry(self, rel: str, content: bytes | None = None) -> None:
        """Archive the entry at the link-free `rel` as it is: a link, a directory, or a file (empty unless read)."""
        if rel in self.done:
            return
        try:
            st = self.root.lstat(rel)
            if stat.S_ISLNK(st.st_mode):
                self.link(rel, self.root.readlink(rel))
            elif stat.S_ISDIR(st.st_mode):
                self.directory(rel, stat.S_IMODE(st.st_mode))
            elif stat.S_ISREG(st.st_mode):
                self.file(rel, st.st_mode, content)
        except SysfsError:
            return  # gone since it was read: the archive lacks it, as a check would


def write_archive(
    root: SysfsRoot,
    touched: Touched,
    extra: dict[str, bytes],
    out: BinaryIO,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Archive what the readers touched below `root`, and the `extra` files; return the number of entries.

    Files read hold the bytes the reader got; every other entry touched or listed is there as it
    is (a link with its target, a directory, a file as an empty placeholder): a listing shows the
    same names, and nothing the readers did not read is copied. A file that is there but could not
    be read is an empty directory, which cannot be read either: the capture's answer stays unknown
    rather than becoming what an empty file would say. `progress` hears (done, of how many).
    """
    ours = {NAMES_FILE, *(rel.split("/", 1)[0] for rel in extra)}
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        archive = _Archive(root, tar)
        archive.directory("", 0o755)
        for rel in sorted(touched.unreadable):
            placed = archive.place(rel, follow=False)
            if placed is not None:
                archive.directory(placed, 0o755)
        return _write(archive, touched, ours, extra, progress)


def _write(
    archive: _Archive,
    touched: Touched,
    ours: set[str],
    extra: dict[str, bytes],
    progress: Callable[[int, int], None] | None,
) -> int:
    todo = [
        *((rel, touched.files[rel], False) for rel in sorted(touched.files)),
        *((rel, None, False) for rel in sorted(touched.links | touched.entries)),
        *((rel, None, True) for rel in sorted(touched.followed)),
        *((f"{rel}/{name}", None, False) for rel in sorted(touched.listed) for name in touched.listed[rel]),
    ]
    for done, (rel, content, follow) in enumerate(todo, 1):
        if rel.split("/", 1)[0] not in ours:  # written afresh below
            placed = archive.place(rel, follow)
            if placed is not None:
                archive.entry(placed, content)
        if progress is not None:
            progress(done, len(todo))
    for rel, data in extra.items():
        archive.file(rel, 0o644, data)
    return len(archive.done)


class UnsafeArchiveError(ValueError):
    """An archive member that `extract` refuses to write; the message names it."""


_KINDS = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE})
_IMPLIED = b"implied"


def safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Every member, checked and sanitised, or UnsafeArchiveError for the first that is not safe to write.

    Refused: an empty or absolute name, a `.`, `..` or empty component, a type other than
    file, directory or symbolic link (hard links, devices, FIFOs), a name given twice, a
    member beneath a link, a link or file where an earlier member needs a directory, a link
    `inside_target` would not archive. Kept members lose set-id, sticky and group/other
    write bits, and belong to the extracting user. Linear in the total length of the names.
    """
    seen: dict[str, bytes] = {}  # member or implied parent directory -> its type (_IMPLIED for the latter)
    members = []
    for member in tar.getmembers():
        name = member.name
        if not name or name.startswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
            raise UnsafeArchiveError(f"unsafe member name {name!a}")
        if member.type not in _KINDS:
            raise UnsafeArchiveError(f"{name!a} is neither a file, a directory nor a symbolic link")
        if seen.get(name, _IMPLIED) != _IMPLIED or (name in seen and not member.isdir()):
            raise UnsafeArchiveError(f"{name!a} is in the archive twice, or where a directory was needed")
        implied = []
        parent = name.rpartition("/")[0]
        while parent and parent not in seen:
            implied.append(parent)
            parent = parent.rpartition("/")[0]
        if parent and seen[parent] not in (tarfile.DIRTYPE, _IMPLIED):
            raise UnsafeArchiveError(f"{name!a} is beneath a symbolic link or a file")
        if member.issym() and inside_target(name.rpartition("/")[0], member.linkname) is None:
            raise UnsafeArchiveError(f"{name!a} links outside the archive ({member.linkname!a})")
        seen.update(dict.fromkeys(implied, _IMPLIED))
        seen[name] = member.type
        safe = copy.copy(member)
        safe.mode = member.mode & 0o755
        safe.uid, safe.gid, safe.uname, safe.gname = os.geteuid(), os.getegid(), "", ""
        members.append(safe)
    return members


def extract(tar: tarfile.TarFile, dest: str | os.PathLike[str]) -> None:
    """Unpack `tar` into `dest` after `safe_members` (and tarfile's `data` filter where Python has it)."""
    members = safe_members(tar)
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, members, filter="data")
    else:
        tar.extractall(dest, members)
