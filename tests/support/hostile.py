"""Shared pieces of the hostile corpus: trees, decoys, and the CLI run as root and as `nobody`.

Every CLI-level case of tests/test_hostile_*.py runs twice: as root, in this process (the
suite's usual `cli`, with bytes captured), and as `nobody` (uid/gid 65534, no groups) in a
child started with `setpriv`, on the same tree in a directory under /dev/shm (or /tmp)
that `nobody` can read. The child runs this module (`python -m tests.support.hostile`), which takes a batch of
argument lists and replies with each run's exit code, stdout and stderr, so a case costs
one process, not one per command. Runs that need a process of their own (a signal, the
archive on a real pipe) use `spawn`.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

REPO = Path(__file__).resolve().parent.parent.parent
SECRET = "SECRET-OUTSIDE-THE-ROOT"
NOBODY_UID = 65534
NOBODY = ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_UID}", "--clear-groups"]
USERS = ("root", "nobody")
DOCUMENTED_EXITS = frozenset({0, 1, 2, 3, 4})  # check, list, pair, capture: never 70 (a bug) on any tree
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "PYTHONPATH": str(REPO)}
VF_DIR = "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2"
PF_DIR = "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0"
# Bytes a report must never carry raw: C0/C1 controls (ESC, BEL, NUL, NEL), bidi overrides, line separators.
RAW_CONTROLS = (b"\x1b", b"\x07", b"\x00", b"\r", "\x85".encode(), "\u202e".encode(), "\u2028".encode())


@dataclass(frozen=True)
class Outcome:
    """One CLI run: exit code and the raw bytes of stdout and stderr."""

    code: int
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        """stdout and stderr together, decoded (for assertions on content)."""
        return (self.out + self.err).decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        """stderr decoded."""
        return self.err.decode("utf-8", "replace")


@functools.cache
def why_no_nobody() -> str | None:
    """Why the `nobody` runs cannot happen here (None when they can)."""
    if os.geteuid() != 0:
        return "dropping to nobody needs root"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    done = subprocess.run(
        [*NOBODY, sys.executable, "-c", "import pcie_failover.cli, tests.support.hostile"],
        capture_output=True,
        cwd="/",
        env=ENV,
        check=False,
    )
    if done.returncode != 0:
        return "nobody cannot read this checkout or its virtualenv (a root-only parent directory)"
    return None


def as_user(user: str) -> str:
    """`user`, or skip the test (with the reason) when it is `nobody` and that cannot be arranged here."""
    reason = why_no_nobody() if user == "nobody" else None
    if reason is not None:
        import pytest  # not at the top: this module is also the child's entry point, kept quick to start

        pytest.skip(f"not run as nobody: {reason}")
    return user


def _scratch() -> str:
    """/dev/shm where it is a usable tmpfs (building a tree there is some 30 times faster), else /tmp."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else "/tmp"


@contextlib.contextmanager
def shared_directory() -> Iterator[Path]:
    """A fresh directory nobody can enter and read (pytest's tmp_path is root-only), on /dev/shm or /tmp."""
    path = Path(tempfile.mkdtemp(prefix="pcie-failover-hostile-", dir=_scratch()))
    try:
        path.chmod(0o755)
        yield path
    finally:  # rm, not shutil.rmtree, which recurses once per level (a tree 2000 deep exhausts Python's stack)
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def run_here(argvs: Sequence[Sequence[str]]) -> list[Outcome]:
    """Run each argument list through the CLI's entry point in this process, capturing bytes."""
    from pcie_failover.cli import main

    outcomes = []
    for argv in argvs:
        out, err = io.BytesIO(), io.BytesIO()
        stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
        stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(list(argv))
            stdout.flush()
            stderr.flush()
        outcomes.append(Outcome(code, out.getvalue(), err.getvalue()))
    return outcomes


def run_as(user: str, argvs: Sequence[Sequence[str]]) -> list[Outcome]:
    """Run a batch of CLI invocations as `user` (root: in this process; nobody: one child under setpriv)."""
    if user == "root":
        return run_here(argvs)
    done = subprocess.run(
        [*NOBODY, sys.executable, "-m", "tests.support.hostile"],
        input=json.dumps([list(argv) for argv in argvs]),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=ENV,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [Outcome(code, base64.b64decode(out), base64.b64decode(err)) for code, out, err in json.loads(done.stdout)]


def run1(user: str, *args: str) -> Outcome:
    """One CLI invocation as `user`."""
    return run_as(user, [args])[0]


def command(user: str, args: Sequence[str]) -> list[str]:
    """The argument vector of `pcie-failover ARGS` run as `user` (run it with cwd=REPO, env=ENV)."""
    return [*(NOBODY if user == "nobody" else []), sys.executable, "-m", "pcie_failover", *args]


def spawn(user: str, args: Sequence[str]) -> subprocess.Popen[bytes]:
    """`pcie-failover ARGS` in a process of its own, as `user`, stdout and stderr piped."""
    return subprocess.Popen(command(user, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=ENV)


def decoy_of(root: Path, rel: str, outside: Path, name: str = "decoy") -> Path:
    """A copy of `root/rel` outside the root with every file's content replaced by SECRET."""
    decoy = outside / name
    source = root / rel
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, decoy, symlinks=True)
        for path in decoy.rglob("*"):
            if path.is_file() and not path.is_symlink():
                path.write_text(f"{SECRET}\n")
    elif source.is_symlink():  # never followed here: it may lead anywhere
        decoy.mkdir()
        for attribute in ("vendor", "device", "class", "address", "operstate", "flags", "uevent"):
            (decoy / attribute).write_text(f"{SECRET}\n")
    else:
        decoy.write_text(f"{SECRET}\n")
    return decoy


def remove(path: Path) -> None:
    """Remove a file, a link or a whole directory."""
    if path.is_symlink() or path.is_file() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def relink(path: Path, target: str) -> None:
    """Replace whatever is at `path` by a symbolic link to `target`."""
    remove(path)
    path.symlink_to(target)


def archive_problems(archive: bytes | Path) -> list[str]:
    """Everything in a capture that an extractor could be led astray by (empty: none).

    Each member is resolved the way an extractor would, links followed through the archive's own
    links: no absolute name or link, no member beneath a link, every link resolving below `sysfs/`
    and never to `sysfs/` itself; no device, FIFO or hard link; no name or link target with a
    character that is not printable; no setuid, setgid, sticky or others' write bit (an extractor as root
    makes the mode it reads); no SECRET in any file.
    """
    problems: list[str] = []
    fileobj = io.BytesIO(archive) if isinstance(archive, bytes) else None
    with tarfile.open(name=None if fileobj else archive, fileobj=fileobj, mode="r:gz") as tar:
        members = tar.getmembers()
        kinds = {m.name: m for m in members}
        for member in members:
            name = member.name
            if name.startswith("/") or ".." in name.split("/") or not (name == "sysfs" or name.startswith("sysfs/")):
                problems.append(f"unsafe name {name!r}")
            if not (name.isprintable() and member.linkname.isprintable()):
                problems.append(f"{name!a} -> {member.linkname!a} holds a character that is not printable")
            if not (member.isfile() or member.isdir() or member.issym()):
                problems.append(f"{name!r} is a special member")
            if not member.issym() and member.mode & 0o7002:
                problems.append(f"{name!r} has mode {member.mode:04o}")
            parts = name.split("/")
            for depth in range(1, len(parts)):
                parent = kinds.get("/".join(parts[:depth]))
                if parent is not None and not parent.isdir():
                    problems.append(f"{name!r} is beneath a link or a file")
            if member.issym():
                resolved = _resolve_in_archive(kinds, name)
                if resolved != LOOP and (resolved is None or resolved == ["sysfs"] or resolved[:1] != ["sysfs"]):
                    problems.append(f"{name!r} -> {member.linkname!r} leaves sysfs/ or is its top")
            if member.isfile():
                content = tar.extractfile(member)
                if content is not None and SECRET.encode() in content.read():
                    problems.append(f"{name!r} holds the secret")
    return problems


LOOP = ["<a loop: leads nowhere>"]


def _resolve_in_archive(kinds: dict[str, tarfile.TarInfo], name: str) -> list[str] | None:
    """Where `name` leads once extracted, as path components below the extraction directory.

    None: out of it (or absolute); LOOP: links that never end (no extractor writes through one).
    """
    pending = list(reversed(name.split("/")))
    parts: list[str] = []
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        member = kinds.get("/".join([*parts, part]))
        if member is not None and member.issym():
            hops += 1
            if member.linkname.startswith("/"):
                return None
            if hops > 40:
                return LOOP
            pending.extend(reversed(member.linkname.split("/")))
            continue
        parts.append(part)
    return parts


def _child() -> None:
    """`python -m tests.support.hostile`: run the batch on stdin, reply with base64'd outputs on stdout."""
    argvs = json.loads(sys.stdin.read())
    real = sys.stdout
    outcomes = run_here(argvs)
    encoded = [[o.code, base64.b64encode(o.out).decode(), base64.b64encode(o.err).decode()] for o in outcomes]
    real.write(json.dumps(encoded))


if __name__ == "__main__":
    _child()


def non_regular_opens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Watch os.open from now on: the list fills with every path opened (not just looked at with O_PATH)
    that is neither a regular file nor a directory."""
    real_open = os.open
    opened: list[str] = []

    def watching_open(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if not flags & os.O_PATH:
            try:
                st = os.stat(path, dir_fd=dir_fd, follow_symlinks=not flags & os.O_NOFOLLOW)
            except OSError:
                st = None
            if st is not None and not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                opened.append(str(path))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", watching_open)
    return opened
