"""The edge: one QMP session over a unix socket with the QEMU project's `qemu.qmp` client.

Only `read.QUERIES` are ever sent (after the `qmp_capabilities` handshake every client does).
Every wait has a timeout; every failure is a `MonitorError` with one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import struct
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from qemu.qmp import ExecuteError, QMPClient, QMPError, Runstate

from pcie_failover.inspect.read import QUERIES, Idle, MonitorError, QueryError

T = TypeVar("T")
TIMEOUT = 10.0  # seconds for the greeting and for each reply


def _peer_pid(sock: socket.socket) -> int | None:
    """The pid of the process that listens on the other end (SO_PEERCRED); None outside its pid namespace."""
    pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid if pid > 0 else None


def _why(error: BaseException) -> str:
    """The innermost reason of a qemu.qmp error, as one line."""
    while isinstance(error, QMPError) and isinstance(getattr(error, "exc", None), BaseException):
        error = error.exc  # type: ignore[attr-defined]
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text if not isinstance(error, EOFError) else "it hung up"


class Monitor:
    """A connected QMP monitor: queries and events."""

    via = "qmp"

    def __init__(self, path: str) -> None:
        self.path = path
        self.pid: int | None = None
        self._loop = asyncio.new_event_loop()
        self._client = QMPClient("pcie-failover")

    def _run(self, awaitable: Awaitable[T], timeout: float | None) -> T:
        # A monitor that hangs up is an error to report, not a SIGPIPE that ends the process (main sets SIG_DFL).
        previous = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        try:
            return self._loop.run_until_complete(asyncio.wait_for(awaitable, timeout))
        finally:
            signal.signal(signal.SIGPIPE, previous)

    def open(self) -> None:
        """Connect, learn QEMU's pid and negotiate; MonitorError otherwise."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(TIMEOUT)
            sock.connect(self.path)
            self.pid = _peer_pid(sock)
            sock.setblocking(False)
            self._run(self._client.connect(sock), TIMEOUT)
        except TimeoutError:
            sock.close()
            if self._client.greeting is not None:  # the greeting came; the qmp_capabilities handshake did not
                raise MonitorError(
                    f"{self.path}: QEMU sent its QMP greeting but did not answer qmp_capabilities within "
                    f"{TIMEOUT:.0f} s"
                ) from None
            raise MonitorError(
                f"{self.path}: no QMP greeting within {TIMEOUT:.0f} s (not a QEMU monitor, or another client "
                "holds it: QEMU serves one client per monitor)"
            ) from None
        except OSError as error:
            sock.close()
            raise MonitorError(f"cannot connect to {self.path}: {error.strerror or error}") from None
        except QMPError as error:
            sock.close()
            raise MonitorError(f"{self.path} is not a QEMU QMP monitor: {_why(error)}") from None

    def ask(self, command: str, arguments: Mapping[str, object] | None = None) -> object:
        """Run one query; QueryError when QEMU answers with an error, MonitorError when it does not answer."""
        if command not in QUERIES:
            raise ValueError(f"{command} is not a query inspect may send")
        try:
            return self._run(self._client.execute(command, arguments), TIMEOUT)
        except ExecuteError as error:
            raise QueryError(error.error_class, str(error)) from None
        except TimeoutError:
            raise MonitorError(f"{self.path}: QEMU did not answer {command} within {TIMEOUT:.0f} s") from None
        except (QMPError, OSError, EOFError) as error:
            raise MonitorError(f"{self.path}: {command} failed: {_why(error)}") from None

    def next_event(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event; None when QEMU closed the monitor; Idle after `timeout` seconds without one."""

        async def wait() -> dict[str, Any] | None:
            event = asyncio.ensure_future(self._client.events.get())
            closed = asyncio.ensure_future(self._closed())
            done, _ = await asyncio.wait({event, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for task in (event, closed):
                if task not in done:
                    task.cancel()
            if not done:
                raise Idle
            return dict(event.result()) if event in done else None

        return self._run(wait(), None)

    def pending_events(self) -> list[dict[str, Any]]:
        """The events that arrived and were not returned yet, oldest first (the loop runs 10 ms to take them in)."""
        if self._loop.is_closed():
            return []
        with contextlib.suppress(Exception):  # a monitor that hung up: next_event() says so
            self._run(asyncio.sleep(0.01), 1.0)
        return [dict(event) for event in self._client.events.clear()]

    async def _closed(self) -> None:
        while self._client.runstate is Runstate.RUNNING:
            await self._client.runstate_changed()

    def close(self) -> None:
        """Disconnect and release the loop; safe to call twice."""
        if not self._loop.is_closed():
            with contextlib.suppress(Exception):  # a monitor that is already gone
                self._run(self._client.disconnect(), 5.0)
            self._loop.close()
