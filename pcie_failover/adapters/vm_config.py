"""Where lint and inspect read a VM's configuration: a file or stdin, /proc/PID/cmdline, `virsh dumpxml`."""

from __future__ import annotations

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


def read_pid(pid: int) -> str:
    """The argv of QEMU process PID, from /proc/PID/cmdline; raise InputError when gone or not QEMU."""
    from pcie_failover.lint.qemu_words import is_qemu_binary

    if pid <= 0:
        raise InputError(f"--pid {pid} is not a process id")
    try:
        text = read_config(f"/proc/{pid}/cmdline")
    except InputError:
        raise InputError(f"--pid {pid}: no such process (or its command line cannot be read)") from None
    command = text.partition("\0")[0]
    if not is_qemu_binary(command):
        raise InputError(f"--pid {pid} is not QEMU (its command is {command!r})")
    return text
