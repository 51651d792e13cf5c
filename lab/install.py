"""Install and locate the lab's parts: QEMU 10 (bookworm-backports), Debian kernel, busybox.

Every step is idempotent: nothing is written or installed when already present.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
BACKPORTS_SOURCES = Path("/etc/apt/sources.list.d/bookworm-backports.sources")
QEMU = "qemu-system-x86_64"
QEMU_MIN_MAJOR = 10
APT_TIMEOUT = 900


class LabUnavailableError(RuntimeError):
    """The lab cannot run here; the message says why."""


@dataclass(frozen=True)
class Kernel:
    """A guest kernel image with its installed modules."""

    version: str
    image: Path


def bookworm_source(debian_sources: str) -> dict[str, str]:
    """The fields (URIs, Signed-By, ...) of the deb822 stanza that lists the `bookworm` suite."""
    for stanza in debian_sources.split("\n\n"):
        fields = {
            key.strip(): value.strip()
            for key, _, value in (line.partition(":") for line in stanza.splitlines())
            if value and not key.startswith("#")
        }
        if "bookworm" in fields.get("Suites", "").split() and "URIs" in fields:
            return fields
    raise LabUnavailableError(f"no bookworm stanza in {DEBIAN_SOURCES}")


def backports_stanza(debian_sources: str) -> str:
    """A deb822 stanza for bookworm-backports reusing the Debian source's URI and key."""
    fields = bookworm_source(debian_sources)
    keyring = fields.get("Signed-By", "/usr/share/keyrings/debian-archive-keyring.gpg")
    return f"Types: deb\nURIs: {fields['URIs']}\nSuites: bookworm-backports\nComponents: main\nSigned-By: {keyring}\n"


def qemu_version() -> str | None:
    """`x.y.z` of the installed qemu-system-x86_64, or None."""
    if shutil.which(QEMU) is None:
        return None
    out = subprocess.run([QEMU, "--version"], check=False, capture_output=True, text=True, timeout=30).stdout
    found = re.search(r"version (\d+\.\d+\.\d+)", out)
    return found.group(1) if found else None


def installed(package: str) -> bool:
    """True when dpkg reports `package` as installed."""
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], check=False, capture_output=True, text=True, timeout=30
        )
    except OSError:
        return False
    return result.returncode == 0 and result.stdout.endswith(" installed")


def apt(*args: str) -> None:
    """Run apt-get non-interactively; failures become LabUnavailableError."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(
            ["apt-get", "-q", *args],
            env=env,
            check=True,
            timeout=APT_TIMEOUT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        raise LabUnavailableError(f"apt-get {' '.join(args)} failed: {error}") from error


def qemu_is_recent() -> bool:
    """True when the installed QEMU is at least version 10."""
    version = qemu_version()
    return version is not None and int(version.split(".")[0]) >= QEMU_MIN_MAJOR


def ensure_installed() -> None:
    """Install whatever is missing (needs root and Debian's apt)."""
    missing_base = [p for p in ("linux-image-amd64", "busybox-static") if not installed(p)]
    if qemu_is_recent() and not missing_base:
        return
    if os.geteuid() != 0:
        raise LabUnavailableError("lab packages are missing and installing them needs root")
    if not qemu_is_recent():
        if not BACKPORTS_SOURCES.exists():
            if not DEBIAN_SOURCES.exists():
                raise LabUnavailableError(f"{DEBIAN_SOURCES} not found (not Debian 12?)")
            BACKPORTS_SOURCES.write_text(backports_stanza(DEBIAN_SOURCES.read_text()))
        apt("update")
        apt("install", "-y", "-t", "bookworm-backports", "qemu-system-x86")
    if missing_base:
        apt("install", "-y", *missing_base)
    if not qemu_is_recent():
        raise LabUnavailableError(f"{QEMU} {QEMU_MIN_MAJOR}+ still missing after install")


def guest_kernel() -> Kernel:
    """The newest /boot/vmlinuz-* whose modules are installed."""
    for image in sorted(Path("/boot").glob("vmlinuz-*"), reverse=True):
        version = image.name.removeprefix("vmlinuz-")
        if (Path("/lib/modules") / version / "modules.dep").exists():
            return Kernel(version, image)
    raise LabUnavailableError("no /boot/vmlinuz-* with modules under /lib/modules")
