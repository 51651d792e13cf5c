"""Shared harness: one QEMU process with a serial log file, QMP and sure teardown.

    with Guest(spec) as guest:
        guest.wait_for(r"LAB-INIT-READY", timeout=120)
        guest.qmp.execute("device_add", {...})

Leaving the block always kills QEMU, even when the body raised.
"""

from __future__ import annotations

import codecs
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from qemu.qmp import QMPError

from lab.qmp import Qmp

POLL = 0.1
# no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer check can time out and,
# with interrupt remapping (VT-d), panic: "timer doesn't work through Interrupt-remapped IO-APIC".
GUEST_CMDLINE = "console=ttyS0 panic=-1 no_timer_check"


class GuestError(RuntimeError):
    """QEMU failed, exited early, or a wait timed out (message ends with log tails)."""


@dataclass(frozen=True)
class Share:
    """A host directory exported to the guest over virtio-9p."""

    tag: str
    path: Path
    readonly: bool = True
    addr: str | None = None

    def args(self) -> list[str]:
        """QEMU arguments for this share."""
        ro = ",readonly=on" if self.readonly else ""
        addr = f",bus=pcie.0,addr={self.addr}" if self.addr else ""
        return [
            "-fsdev",
            f"local,id=fs-{self.tag},path={self.path},security_model=none{ro}",
            "-device",
            f"virtio-9p-pci,id=share-{self.tag},fsdev=fs-{self.tag},mount_tag={self.tag}{addr}",
        ]


@dataclass(frozen=True)
class GuestSpec:
    """Everything needed to start one guest; `workdir` receives its logs and sockets."""

    name: str
    workdir: Path
    kernel: Path
    initrd: Path
    append: str
    machine: str = "q35"
    devices: tuple[str, ...] = ()
    shares: tuple[Share, ...] = ()
    extra: tuple[str, ...] = ()
    memory_mib: int = 1024
    smp: int = 1
    qemu: str = "qemu-system-x86_64"
    start_timeout: float = 30.0

    @property
    def serial_log(self) -> Path:
        """File receiving the guest's ttyS0."""
        return self.workdir / "serial.log"

    @property
    def qmp_socket(self) -> Path:
        """QMP unix socket QEMU listens on."""
        return self.workdir / "qmp.sock"

    def argv(self) -> list[str]:
        """The full QEMU command line."""
        argv = [
            self.qemu,
            "-name",
            self.name,
            "-accel",
            "tcg",
            "-M",
            self.machine,
            "-m",
            str(self.memory_mib),
            "-smp",
            str(self.smp),
            "-nodefaults",
            "-display",
            "none",
            "-no-reboot",
            "-kernel",
            str(self.kernel),
            "-initrd",
            str(self.initrd),
            "-append",
            self.append,
            "-chardev",
            f"file,id=serial0,path={self.serial_log}",
            "-serial",
            "chardev:serial0",
            "-chardev",
            f"socket,id=qmp0,path={self.qmp_socket},server=on,wait=off",
            "-mon",
            "chardev=qmp0,mode=control",
        ]
        for device in self.devices:
            argv += ["-device", device]
        for share in self.shares:
            argv += share.args()
        return argv + list(self.extra)


@dataclass
class Guest:
    """A running QEMU; use as a context manager."""

    spec: GuestSpec
    qmp: Qmp = field(init=False)
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _serial: str = field(default="", init=False)
    _cursor: int = field(default=0, init=False)
    _offset: int = field(default=0, init=False)
    _decoder: codecs.IncrementalDecoder = field(init=False)

    def __post_init__(self) -> None:
        self.qmp = Qmp(self.spec.name)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def __enter__(self) -> Guest:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    @property
    def qemu_log(self) -> Path:
        """QEMU's own stdout and stderr."""
        return self.spec.workdir / "qemu.log"

    def start(self) -> None:
        """Start QEMU and connect QMP; tears everything down again on failure."""
        self.spec.workdir.mkdir(parents=True, exist_ok=True)
        for stale in (self.spec.serial_log, self.spec.qmp_socket):
            stale.unlink(missing_ok=True)
        with open(self.qemu_log, "wb") as log:
            self._proc = subprocess.Popen(
                self.spec.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        deadline = time.monotonic() + self.spec.start_timeout
        while not self.spec.qmp_socket.exists():
            self._check_alive("while starting")
            if time.monotonic() > deadline:
                raise self._error(f"no QMP socket after {self.spec.start_timeout:.0f} s")
            time.sleep(POLL)
        try:
            self.qmp.connect(self.spec.qmp_socket, timeout=self.spec.start_timeout)
        except (QMPError, TimeoutError) as error:
            raise self._error(f"QMP connect failed: {error!r}") from error

    def _check_alive(self, doing: str) -> None:
        if self._proc is None or self._proc.poll() is not None:
            code = None if self._proc is None else self._proc.returncode
            raise self._error(f"QEMU exited (status {code}) {doing}")

    def _error(self, message: str) -> GuestError:
        def tail(path: Path) -> str:
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            return "\n".join(lines[-20:])

        return GuestError(
            f"{self.spec.name}: {message}\n--- qemu.log ---\n{tail(self.qemu_log)}"
            f"\n--- serial.log ---\n{tail(self.spec.serial_log)}"
        )

    def _read_serial(self) -> None:
        with open(self.spec.serial_log, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        self._serial += self._decoder.decode(chunk)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """Wait for `pattern` (multiline regex) in serial output after the previous match."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            exited = self._proc is None or self._proc.poll() is not None
            if self.spec.serial_log.exists():
                self._read_serial()
            found = regex.search(self._serial, self._cursor)
            if found:
                self._cursor = found.end()
                return found
            if exited:
                raise self._error(f"QEMU exited before {pattern!r} appeared")
            if time.monotonic() > deadline:
                raise self._error(f"{pattern!r} not seen within {timeout:.0f} s")
            time.sleep(POLL)

    def wait_exit(self, timeout: float) -> int:
        """Wait for QEMU to exit by itself (e.g. guest power-off); return its status."""
        if self._proc is None:
            raise self._error("QEMU was never started")
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise self._error(f"QEMU still running after {timeout:.0f} s") from None

    def close(self) -> None:
        """Close QMP and make sure QEMU is gone: terminate, then kill."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self.qmp.close()
