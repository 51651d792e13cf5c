"""`install-units`: the udev rule, systemd units and tmpfiles entry shipped in the package, installed.

The same destinations as `make install-udev` has always used: `<udevdir>/rules.d/90-pcie-failover.rules`,
`<unitdir>/<unit>` with `@BINDIR@` replaced, `<tmpfilesdir>/pcie-failover.conf`; the directories come
from pkg-config (`udev`'s `udevdir`, `systemd`'s `systemdsystemunitdir` and `tmpfilesdir`) unless given.
Every target is checked before anything is written: an existing file that differs from the packaged
one is refused unless `force` (an administrator may have edited a unit), one that is not a regular file
(a link, a directory) always. Files are written atomically (temporary file, fsync, rename). Only without
a destdir, and as root, are systemd and udev told (`systemd-tmpfiles --create`, `systemctl daemon-reload`,
`udevadm control --reload`); programs are looked for in the system directories only, never on PATH.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources

from pcie_failover.adapters.files import SafeDirectory, UnsafePathError
from pcie_failover.adapters.programs import SYSTEM_ENV, system_program

RULE = "90-pcie-failover.rules"
TMPFILES = "pcie-failover.tmpfiles"
TMPFILES_AS = "pcie-failover.conf"
UNITS = (
    "pcie-failover-audit.service",
    "pcie-failover-audit.path",
    "pcie-failover-audit.timer",
    "pcie-failover-watch.service",
)
BINDIR_MARK = b"@BINDIR@"
SYSTEM_DIRECTORIES = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")  # where systemctl, udevadm, pkg-config are looked for
_TIMEOUT_S = 120.0
_READ_LIMIT = 1024 * 1024
# Written into ExecStart=: no space, quote, backslash, `%` (a specifier) or `$` (a variable) that systemd would read.
_SAFE_BINDIR = re.compile(r"/[A-Za-z0-9._+@:/-]*")
PKG_CONFIG = {  # option -> (pkg-config package, variable, the Makefile's fallback)
    "udevdir": ("udev", "udevdir", "/lib/udev"),
    "unitdir": ("systemd", "systemdsystemunitdir", "/lib/systemd/system"),
    "tmpfilesdir": ("systemd", "tmpfilesdir", "/usr/lib/tmpfiles.d"),
}


class InstallError(Exception):
    """The units cannot be installed as asked (exit 2); the message is one line. `usage`: an option as typed
    is wrong (not the files found), so the CLI points to --help."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Target:
    """One file to install: its directory (destdir included), name and content."""

    directory: str
    name: str
    content: bytes

    @property
    def path(self) -> str:
        """Where it goes."""
        return os.path.join(self.directory, self.name)


@dataclass(frozen=True)
class Step:
    """What was done about one file or one command: `installed`, `replaced`, `unchanged`, `ran`, `skipped`, `failed`."""

    outcome: str
    what: str


def program(name: str) -> str | None:
    """`name` in a system directory, never from PATH (this runs as root)."""
    return system_program(name, SYSTEM_DIRECTORIES)


def default_directory(option: str) -> str:
    """The directory pkg-config gives for `option` (udevdir, unitdir, tmpfilesdir), else the Makefile's fallback."""
    package, variable, fallback = PKG_CONFIG[option]
    pkg_config = program("pkg-config")
    if pkg_config is None:
        return fallback
    try:
        done = subprocess.run(
            [pkg_config, f"--variable={variable}", package],
            capture_output=True,
            text=True,
            env=SYSTEM_ENV,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return fallback
    found = done.stdout.strip()
    return found if done.returncode == 0 and found.startswith("/") else fallback


def default_bindir() -> str:
    """The directory of the running `pcie-failover` executable (sys.argv[0], links resolved)."""
    if os.path.basename(sys.argv[0]) != "pcie-failover":
        raise InstallError(
            f"cannot tell where pcie-failover is installed (this is {sys.argv[0]}): pass --bindir DIR", usage=True
        )
    return os.path.dirname(os.path.realpath(sys.argv[0]))


def plan(bindir: str, udevdir: str, unitdir: str, tmpfilesdir: str, destdir: str) -> list[Target]:
    """The files to install, @BINDIR@ replaced, below `destdir` ("" for the running system)."""
    if not _SAFE_BINDIR.fullmatch(bindir):
        raise InstallError(
            f"--bindir {bindir!a} cannot go into ExecStart= (an absolute path of [A-Za-z0-9._+@:/-])", usage=True
        )
    for option, directory in (("--udevdir", udevdir), ("--unitdir", unitdir), ("--tmpfilesdir", tmpfilesdir)):
        if not directory.startswith("/"):
            raise InstallError(f"{option} {directory!a} is not an absolute path", usage=True)
    packaged = resources.files("pcie_failover").joinpath("units")
    top = destdir.rstrip("/")
    targets = [
        Target(top + os.path.join(udevdir, "rules.d"), RULE, packaged.joinpath(RULE).read_bytes()),
        Target(top + tmpfilesdir, TMPFILES_AS, packaged.joinpath(TMPFILES).read_bytes()),
    ]
    mark = bindir.rstrip("/").encode()
    targets += [
        Target(top + unitdir, unit, packaged.joinpath(unit).read_bytes().replace(BINDIR_MARK, mark)) for unit in UNITS
    ]
    return targets


# What a unit's sandbox hides from the service, by the setting that hides it (systemd.exec(5)).
SANDBOX_HIDES = {
    "ProtectHome=yes": ("/home", "/root", "/run/user"),
    "PrivateTmp=yes": ("/tmp", "/var/tmp"),
}


def hidden(targets: list[Target]) -> dict[str, str]:
    """Each directory the units' services cannot see -> the setting that hides it, as the units to install say."""
    settings = {
        line.strip()
        for target in targets
        if target.name.endswith(".service")
        for line in target.content.decode().splitlines()
    }
    return {
        prefix: setting for setting, prefixes in SANDBOX_HIDES.items() if setting in settings for prefix in prefixes
    }


def _under(path: str, prefixes: dict[str, str]) -> tuple[str, str] | None:
    """The hidden directory `path` is in, and the setting hiding it; None when the service sees it."""
    return next(((p, why) for p, why in prefixes.items() if path == p or path.startswith(p + "/")), None)


def _interpreter(path: str) -> str | None:
    """The program on a script's `#!` line (a console script's Python), else None."""
    try:
        with open(path, "rb") as script:
            first = script.read(256).split(b"\n", 1)[0]
    except OSError:
        return None
    words = first[2:].split() if first.startswith(b"#!") else []
    return os.fsdecode(words[0]) if words else None


def check_bindir(bindir: str, destdir: str, targets: list[Target]) -> list[str]:
    """Whether the units' ExecStart= can run `bindir`/pcie-failover; InstallError when it cannot, else warnings.

    For the running system (no destdir) the program must be there, executable, and neither it (links
    resolved) nor its interpreter may be in a directory the services' sandbox hides (ProtectHome=yes:
    /home, /root, /run/user; PrivateTmp=yes: /tmp, /var/tmp): each udev event would then fail to start
    the audit. Below a destdir the program is not there yet: a hidden --bindir is only warned about.
    """
    hides = hidden(targets)
    program_path = os.path.join(bindir, "pcie-failover")
    if destdir:
        found = _under(os.path.normpath(bindir), hides)
        if found is None:
            return []
        return [f"--bindir {bindir} is under {found[0]}, which the services cannot see ({found[1]})"]
    if not os.path.isfile(program_path) or not os.access(program_path, os.X_OK):
        raise InstallError(
            f"--bindir {bindir} has no executable pcie-failover: install it there first (see README, Install)"
        )
    real = os.path.realpath(program_path)
    interpreter = _interpreter(real)
    for what, path in (("pcie-failover", real), ("its interpreter", interpreter and os.path.realpath(interpreter))):
        found = _under(path or "", hides)
        if found is not None:
            shown = path if path == program_path else f"{path} (from {program_path})"
            raise InstallError(
                f"{what}, {shown}, is under {found[0]}, which the services cannot see ({found[1]}): "
                "install it outside /home, /root and /tmp (see README, Install)"
            )
    return []


def _existing(target: Target) -> bytes | None:
    """The file now at the target (None: nothing there); UnsafePathError for anything but a regular file."""
    if not os.path.isdir(target.directory):
        return None
    with SafeDirectory.open(target.directory, private=False) as directory:
        if directory.lstat(target.name) is None:
            return None
        directory.check_target(target.name)
        return directory.read_bounded(target.name, _READ_LIMIT)


def install(targets: list[Target], force: bool) -> list[Step]:
    """Check every target, then write those that differ; InstallError (nothing written) when one cannot be."""
    outcomes: list[str] = []
    differing: list[str] = []
    for target in targets:
        try:
            now = _existing(target)
        except (UnsafePathError, OSError) as error:
            raise InstallError(f"{target.path}: {getattr(error, 'strerror', None) or error}") from None
        outcomes.append("installed" if now is None else "unchanged" if now == target.content else "replaced")
        if outcomes[-1] == "replaced":
            differing.append(target.path)
    if differing and not force:
        if len(differing) == 1:
            raise InstallError(f"{differing[0]} differs from the packaged file (--force replaces it)")
        raise InstallError(
            f"{differing[0]} and {len(differing) - 1} more differ from the packaged files (--force replaces them)"
        )
    for target, outcome in zip(targets, outcomes, strict=True):
        if outcome != "unchanged":
            _write(target)
    return [Step(outcome, target.path) for target, outcome in zip(targets, outcomes, strict=True)]


def _write(target: Target) -> None:
    try:
        with SafeDirectory.open(target.directory, private=False, create=True) as directory:
            directory.atomic_write(target.name, lambda out: out.write(target.content), 0o644)
    except (UnsafePathError, OSError) as error:
        raise InstallError(f"cannot write {target.path}: {getattr(error, 'strerror', None) or error}") from None


def reload(tmpfiles: str) -> list[Step]:
    """Tell systemd and udev (as root only): create the tmpfiles entry's directory, reload units and rules."""
    commands = (
        ("systemd-tmpfiles", "--create", tmpfiles),
        ("systemctl", "daemon-reload"),
        ("udevadm", "control", "--reload"),
    )
    steps = []
    for name, *args in commands:
        shown = " ".join((name, *args))
        path = program(name)
        if os.geteuid() != 0:
            steps.append(Step("skipped", f"{shown}: not root"))
        elif path is None:
            steps.append(Step("skipped", f"{shown}: {name} is not installed"))
        else:
            steps.append(_run(shown, [path, *args]))
    return steps


def _run(shown: str, argv: list[str]) -> Step:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=SYSTEM_ENV, timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Step("failed", f"{shown}: {error}")
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return Step("failed", f"{shown}: {said}")
    return Step("ran", shown)
