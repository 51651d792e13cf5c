"""The one writer of `prepare`: sysfs attribute writes under the live /sys, iproute2, modprobe, driverctl, udev rules.

Nothing else in the tool changes the host. Each write is checked against a short list of what `prepare`
may write at all before anything is opened:
- sysfs: `bus/pci/drivers_probe`, `bus/pci/devices/<address>/driver_override` and
  `bus/pci/drivers/<driver>/{bind,unbind}` only, opened relative to a descriptor of `/sys` (which must
  be the sysfs mount), `O_WRONLY|O_TRUNC|O_NOFOLLOW|O_NOCTTY` (never created), and written only when fstat
  says it is a regular file (a sysfs attribute); the value goes in one write(2), as `echo VALUE >` would write it;
- programs: `ip`, `modprobe`, `driverctl` from system directories only (never $PATH), with a fixed
  environment, a timeout, and their arguments as a list (no shell);
- files: udev rules named `/etc/udev/rules.d/70-pcie-failover-<address>.rules` only, written atomically
  through adapters/files.py (directory checked, never through a link), with the mode the action names
  (0644 for prepare's own rule; the recorded one when --undo restores a rule that was there before).
The list itself is prepare/confine.py, which the planner checks too (a plan the writer would refuse is refused
before anything runs, --dry-run included).

Tests inject a directory standing in for /sys (`require_sysfs_mount=False`), the programs and a directory
standing in for / under /etc (`config_root`); the CLI passes none of these.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Mapping

from pcie_failover.adapters.files import SafeDirectory, UnsafePathError, atomic_write
from pcie_failover.adapters.programs import SYSTEM_ENV, system_program
from pcie_failover.model.address import InputError, MacAddress, PciAddress, validate_ifname
from pcie_failover.prepare.confine import check_action, check_attribute, check_words
from pcie_failover.prepare.model import Action, ActionKind, WriteError

SYSFS = "/sys"
PROGRAMS = ("ip", "modprobe", "driverctl")  # all the writer runs
_TIMEOUT_S = 60.0  # modprobe of vfio-pci and driverctl's rebinding can be slow


def _is_sysfs_mount(path: str) -> bool:
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 4 and fields[4] == path and " - sysfs " in line:
                    return True
    except OSError:
        return False
    return False


class LiveWriter:
    """Writes to the running kernel (see module)."""

    def __init__(
        self,
        sysfs: str = SYSFS,
        *,
        require_sysfs_mount: bool = True,
        programs: Mapping[str, str | None] | None = None,
        config_root: str = "",
    ) -> None:
        self.sysfs = sysfs
        self.require_sysfs_mount = require_sysfs_mount
        self.config_root = config_root
        self._programs = dict(programs) if programs is not None else {name: system_program(name) for name in PROGRAMS}

    def program(self, name: str) -> str:
        """The program's path, or its bare name when it is not installed (the printed script says so then)."""
        return self._programs.get(name) or name

    def execute(self, action: Action) -> None:
        """Make one write; WriteError (one line) when it cannot be made."""
        check_action(action)
        kind, args = action.kind, action.args
        if kind is ActionKind.SYSFS:
            self.write_attribute(args[0], args[1])
        elif kind in (ActionKind.IP, ActionKind.MODPROBE, ActionKind.DRIVERCTL):
            self._run(kind.value, args)
        elif kind is ActionKind.VF_ADDRESS:
            self._vf_address(args[0], args[1])
        elif kind is ActionKind.FILE_PUT:
            self._put(args[0], args[1], int(args[2], 8))
        elif kind is ActionKind.FILE_REMOVE:
            self._remove(args[0])
        else:  # pragma: no cover - every kind is handled above
            raise WriteError(f"unknown write {kind}")

    def write_attribute(self, rel: str, value: str) -> None:
        """`echo VALUE > /sys/REL`, confined as the module says."""
        check_attribute(rel, value)
        if self.require_sysfs_mount and not _is_sysfs_mount(self.sysfs):
            raise WriteError(f"{self.sysfs} is not the sysfs mount: nothing written")
        shown = f"{self.sysfs}/{rel}"
        try:
            root = os.open(self.sysfs, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as error:
            raise WriteError(f"cannot open {self.sysfs}: {error.strerror}") from None
        try:
            try:
                fd = os.open(rel, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC, dir_fd=root)
            except OSError as error:
                raise WriteError(f"cannot open {shown}: {_reason(error)}") from None
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise WriteError(f"{shown} is not a sysfs attribute: nothing written")
                data = f"{value}\n".encode()
                try:
                    written = os.write(fd, data)
                except OSError as error:
                    raise WriteError(f"echo {value} > {shown}: {_reason(error)}") from None
                if written != len(data):
                    raise WriteError(f"echo {value} > {shown}: short write")
            finally:
                os.close(fd)
        finally:
            os.close(root)

    def driver_of(self, address: str) -> str:
        """The driver bound to the device now ("" when none)."""
        PciAddress.parse(address)
        try:
            return os.path.basename(os.readlink(f"{self.sysfs}/bus/pci/devices/{address}/driver"))
        except OSError:
            return ""

    def _run(self, name: str, args: tuple[str, ...]) -> None:
        check_words(name, args)
        path = self._programs.get(name)
        command = " ".join((name, *args))
        if path is None:
            raise WriteError(f"{command}: {name} is not installed")
        try:
            done = subprocess.run(
                [path, *args],
                capture_output=True,
                timeout=_TIMEOUT_S,
                check=False,
                env=SYSTEM_ENV,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise WriteError(f"{command}: {error}") from None
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise WriteError(f"{command}: {lines[-1] if lines else f'exit status {done.returncode}'}")

    def _vf_address(self, address: str, mac: str) -> None:
        """The VF's own interface (found now: a rebind may have renamed it) takes `mac`."""
        PciAddress.parse(address)
        MacAddress.parse(mac)
        try:
            names = os.listdir(f"{self.sysfs}/bus/pci/devices/{address}/net")
        except OSError as error:
            raise WriteError(f"{address} has no network interface to give {mac}: {_reason(error)}") from None
        if len(names) != 1:
            raise WriteError(f"{address} has {len(names)} network interfaces, not one, to give {mac}")
        try:
            name = validate_ifname(names[0])
        except InputError as error:
            raise WriteError(str(error)) from None
        self._run("ip", ("link", "set", "dev", name, "address", mac))

    def _put(self, path: str, content: str, mode: int) -> None:
        try:
            atomic_write(self.config_root + path, content.encode(), mode)
        except (UnsafePathError, OSError) as error:
            raise WriteError(f"cannot write {path}: {error}") from None

    def _remove(self, path: str) -> None:
        directory, name = os.path.split(self.config_root + path)
        try:
            with SafeDirectory.open(directory) as opened:
                opened.check_target(name)
                opened.unlink(name)
        except (UnsafePathError, OSError) as error:
            raise WriteError(f"cannot remove {path}: {error}") from None


def _reason(error: OSError) -> str:
    name = errno.errorcode.get(error.errno or 0, "")
    return f"{error.strerror} ({name})" if name else str(error)
