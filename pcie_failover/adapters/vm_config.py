"""Where lint and inspect read a VM's configuration: a file or stdin, /proc/PID/cmdline, `virsh dumpxml`."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from pcie_failover.model.address import InputError

VIRSH_TIMEOUT = 60.0  # seconds for `virsh dumpxml`: a hung libvirtd is an error, not a hang


def _text(data: bytes, what: str) -> str:
    """`data` as text, when at most MAX_CONFIG_BYTES of UTF-8; raise InputError otherwise."""
    from pcie_failover.lint.parse import MAX_CONFIG_BYTES

    if len(data) > MAX_CONFIG_BYTES:
        raise InputError(f"{what} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise InputError(f"{what} is not UTF-8 text") from None


def read_config(path: str) -> str:
    """The text of FILE (`-`: stdin), at most MAX_CONFIG_BYTES; raise InputError otherwise."""
    from pcie_failover.lint.parse import MAX_CONFIG_BYTES

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_CONFIG_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from None
    return _text(data, path)


def virsh_command(name: str) -> str:
    """How the report names a domain read with virsh: the command, shell-quoted."""
    return f"virsh dumpxml {shlex.quote(name)}"


def read_domain(name: str) -> str:
    """Domain NAME's XML from `virsh dumpxml -- NAME` (NAME one argument, no shell); raise InputError otherwise."""
    command = virsh_command(name)
    try:
        done = subprocess.run(
            ["virsh", "dumpxml", "--", name],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=VIRSH_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise InputError("--domain needs virsh (Debian: libvirt-clients), not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{command} did not finish within {VIRSH_TIMEOUT:.0f} s") from None
    except OSError as error:
        raise InputError(f"cannot run virsh: {error.strerror}") from None
    if done.returncode != 0:
        said = [line.strip() for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise InputError(f"{command} failed (exit {done.returncode}): {'; '.join(said) or 'no message'}")
    return _text(done.stdout, command)


def _comm(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            return handle.read(64).decode(errors="replace").strip() or None
    except OSError:
        return None


def _exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:  # another user's process: EACCES
        return None


def read_qemu_cmdline(pid: int, who: str) -> str:
    """The argv (NUL-separated) of QEMU process `pid`, named `who` in messages (`--pid 42`, or `the process
    behind SOCK (pid 42)`); InputError when it is gone, unreadable, or not QEMU (then its comm and exe)."""
    from pcie_failover.lint.qemu_words import is_qemu_binary

    try:
        text = read_config(f"/proc/{pid}/cmdline")
    except InputError:
        raise InputError(f"{who}: no such process (or its command line cannot be read)") from None
    command = text.partition("\0")[0]
    if is_qemu_binary(command):
        return text
    comm, exe = _comm(pid), _exe(pid)
    what = ", ".join(part for part in (f"comm {comm!r}" if comm else "", f"exe {exe}" if exe else "") if part)
    raise InputError(f"{who} is not QEMU: {what or f'command {command[:80]!r}'}")


def read_pid(pid: int) -> str:
    """The argv of QEMU process PID (`lint --pid`), from /proc/PID/cmdline; raise InputError when gone or not QEMU."""
    if pid <= 0:
        raise InputError(f"--pid {pid} is not a process id")
    return read_qemu_cmdline(pid, f"--pid {pid}")
