"""A synchronous QMP session on top of the QEMU project's `qemu.qmp` client.

Each session owns a private asyncio loop, so several guests can be driven from
one thread (e.g. a migration source and destination). Every call has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

from qemu.qmp import QMPClient

T = TypeVar("T")
Event = dict[str, object]


class Qmp:
    """Commands and events of one QEMU monitor."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._client = QMPClient(name)
        self._backlog: list[Event] = []

    def _run(self, awaitable: Awaitable[T], timeout: float) -> T:
        return self._loop.run_until_complete(asyncio.wait_for(awaitable, timeout))

    def connect(self, socket_path: Path, timeout: float = 10.0) -> None:
        """Connect to QEMU's QMP unix socket and negotiate capabilities."""
        self._run(self._client.connect(str(socket_path)), timeout)

    def execute(self, command: str, arguments: Mapping[str, object] | None = None, timeout: float = 30.0) -> object:
        """Run a command and return its `return` value; raises `qemu.qmp.ExecuteError`."""
        return self._run(self._client.execute(command, arguments), timeout)

    def events(self) -> list[Event]:
        """Return and forget every event received so far, oldest first."""
        self._run(asyncio.sleep(0.01), 1.0)
        pending, self._backlog = self._backlog, []
        return pending + [dict(event) for event in self._client.events.clear()]

    def wait_event(self, name: str, timeout: float, where: Callable[[Event], bool] | None = None) -> Event:
        """Consume the first event called `name` (matching `where`); keep the others."""
        for event in self._backlog:
            if event["event"] == name and (where is None or where(event)):
                self._backlog.remove(event)
                return event
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no QMP event {name} within {timeout:.0f} s")
            event = dict(self._run(self._client.events.get(), remaining))
            if event["event"] == name and (where is None or where(event)):
                return event
            self._backlog.append(event)

    def close(self) -> None:
        """Disconnect and release the loop; safe to call twice."""
        if not self._loop.is_closed():
            with contextlib.suppress(Exception):  # teardown must not fail on a dead QEMU
                self._run(self._client.disconnect(), 5.0)
            self._loop.close()
