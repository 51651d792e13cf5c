"""The edge for libvirt guests: the same queries as qmp.py, each through `virsh qemu-monitor-command`.

`virsh qemu-monitor-command -- NAME '{"execute": ..., "arguments": ...}'` prints QEMU's reply object
(`{"return": ..., "id": "libvirt-N"}`, or `{"error": {...}, "id": ...}`, exit 0 either way) on one line;
`virsh qemu-monitor-event --domain NAME --loop` prints one line per event:
`event NAME at SECONDS.MICROS for domain 'DOMAIN': DATA` (DATA: the event's JSON `data`, or `<null>`).
NAME is always one argv element, never seen by a shell. Only `read.QUERIES` are ever sent; every
failure is a MonitorError (virsh missing, failing or hanging) or a ReplyError (what virsh never prints).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shlex
import subprocess
import time
from collections.abc import Mapping
from typing import IO, Any

from pcie_failover.inspect.read import QUERIES, Idle, MonitorError, QueryError, ReplyError

TIMEOUT = 30.0  # seconds for each `virsh qemu-monitor-command` (libvirt waits up to 30 s for the monitor itself)
MAX_REPLY_BYTES = 4 << 20
_EVENT = re.compile(r"event (?P<event>[A-Z0-9_]+) at (?P<seconds>\d+)\.(?P<micros>\d{6}) for domain '(?P<rest>.*)\Z")
MISSING = "--domain needs virsh (Debian: libvirt-clients), not found on PATH"
# virsh's own lines after the events (tools/virsh-domain-event.c cmdQemuMonitorEvent()), in the C locale the
# event stream runs in: not events, and no error either
_TRAILER = re.compile(r"events received: \d+|event loop (interrupted|timed out)")


def _said(stderr: bytes) -> str:
    """virsh's error lines, as one line."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    return "; ".join(lines) or "no message"


def _messages_in_c(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with virsh in the C locale: its trailing lines in English (they are matched); it prints the domain's
    name and the events' JSON as bytes whatever the locale."""
    return {**environ, "LC_ALL": "C"}


def _event(line: str) -> dict[str, Any]:
    """One `qemu-monitor-event` line as the QMP event it prints; ReplyError when it is not one."""
    found = _EVENT.match(line)
    if found is None:
        raise ReplyError(f"virsh qemu-monitor-event printed a line that is not an event: {line[:80]!r}")
    # `DOMAIN': DATA`: the domain's name may hold anything, DATA is JSON or <null>: the first split that parses
    rest, data = found["rest"], None
    for at in (m.end() for m in re.finditer(r"': ", rest)):
        if rest[at:] == "<null>":
            data = {}
            break
        with contextlib.suppress(ValueError):
            data = json.loads(rest[at:])
            break
    if not isinstance(data, dict):
        raise ReplyError(f"virsh qemu-monitor-event printed {found['event']} without its JSON data")
    stamp = {"seconds": int(found["seconds"]), "microseconds": int(found["micros"])}
    return {"event": found["event"], "data": data, "timestamp": stamp}


class VirshMonitor:
    """A libvirt domain's QEMU monitor, through virsh: queries and (with `events()`) events."""

    via = "domain"

    def __init__(self, name: str, events: bool = False) -> None:
        self.name = name
        self.watch = events
        self.path = name  # the target, as reports name it
        self.pid: int | None = None  # libvirt does not say which process runs the domain
        self._events: subprocess.Popen[bytes] | None = None
        self._buffer = b""  # what virsh printed past the last whole line
        self._ended = False  # virsh's event stream reached its end

    def open(self) -> None:
        """Start the event stream when asked (before the first reading: no event in between is lost).

        Nothing else to open: each query runs virsh (which connects to libvirt) once.
        """
        if self.watch:
            self.events()

    def ask(self, command: str, arguments: Mapping[str, object] | None = None) -> object:
        """Run one query; QueryError when QEMU answers with an error, MonitorError when virsh fails."""
        if command not in QUERIES:
            raise ValueError(f"{command} is not a query inspect may send")
        request = json.dumps({"execute": command} | ({"arguments": dict(arguments)} if arguments else {}))
        shown = f"virsh qemu-monitor-command {shlex.quote(self.name)}"
        try:
            done = subprocess.run(
                ["virsh", "qemu-monitor-command", "--", self.name, request],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise MonitorError(MISSING) from None
        except subprocess.TimeoutExpired:
            raise MonitorError(f"{shown} did not answer {command} within {TIMEOUT:.0f} s") from None
        except OSError as error:
            raise MonitorError(f"cannot run virsh: {error.strerror or error}") from None
        if done.returncode != 0:
            raise MonitorError(f"{shown} {command} failed (exit {done.returncode}): {_said(done.stderr)}")
        return self._reply(command, done.stdout)

    @staticmethod
    def _reply(command: str, stdout: bytes) -> object:
        """The `return` of a QMP reply object printed by virsh; QueryError for an `error` reply."""
        what = f"{command}: virsh printed"
        if len(stdout) > MAX_REPLY_BYTES:
            raise ReplyError(f"{what} more than {MAX_REPLY_BYTES} bytes")
        try:
            reply = json.loads(stdout.decode())
        except (UnicodeDecodeError, ValueError):
            raise ReplyError(f"{what} what is not a QMP reply (not JSON)") from None
        if isinstance(reply, dict) and "return" in reply:
            return reply["return"]
        error = reply.get("error") if isinstance(reply, dict) else None
        if isinstance(error, dict) and isinstance(error.get("class"), str) and isinstance(error.get("desc"), str):
            raise QueryError(error["class"], error["desc"])
        raise ReplyError(f"{what} a JSON value that is not a QMP reply (no `return`, no `error`)")

    def events(self) -> None:
        """Start `virsh qemu-monitor-event --domain NAME --loop`."""
        try:
            self._events = subprocess.Popen(
                ["virsh", "qemu-monitor-event", "--domain", self.name, "--loop"],
                env=_messages_in_c(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except FileNotFoundError:
            raise MonitorError(MISSING) from None
        except OSError as error:
            raise MonitorError(f"cannot run virsh: {error.strerror or error}") from None

    def _fill(self, wait: bool) -> bool:
        """Read what virsh printed into the buffer (waiting for it when `wait`); False at the stream's end."""
        events = self._events
        assert events is not None
        assert events.stdout is not None
        descriptor = events.stdout.fileno()
        if not wait and not select.select([descriptor], [], [], 0)[0]:
            return True
        chunk = os.read(descriptor, 65536)
        if not chunk:
            self._ended = True
            self._buffer += b"\n" if self._buffer else b""  # a last line without its newline is a line
            return False
        self._buffer += chunk
        if len(self._buffer) > MAX_REPLY_BYTES and b"\n" not in self._buffer:
            raise ReplyError(f"virsh qemu-monitor-event printed a line of more than {MAX_REPLY_BYTES} bytes")
        return True

    def _line(self) -> str | None:
        """The next whole non-empty line in the buffer that is not one of virsh's own trailing lines, if any."""
        while b"\n" in self._buffer:
            line, self._buffer = self._buffer.split(b"\n", 1)
            text = line.decode(errors="replace")
            if text.strip() and not _TRAILER.fullmatch(text.strip()):
                return text
        return None

    def next_event(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next event; None when virsh's event stream ended (exit 0), MonitorError when virsh failed; Idle
        after `timeout` seconds without one."""
        if self._events is None:
            self.events()
        events = self._events
        assert events is not None
        assert events.stdout is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while (text := self._line()) is None and not self._ended:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([events.stdout.fileno()], [], [], left)[0]:
                    raise Idle
            self._fill(wait=True)
        if text is not None:
            return _event(text)
        stderr: IO[bytes] | None = events.stderr
        said = _said(stderr.read(MAX_REPLY_BYTES)) if stderr is not None else "no message"
        code = events.wait()
        if code != 0:
            command = f"virsh qemu-monitor-event --domain {shlex.quote(self.name)} --loop"
            raise MonitorError(f"{command} failed (exit {code}): {said}")
        return None

    def pending_events(self) -> list[dict[str, Any]]:
        """The events virsh printed so far and not returned yet, oldest first; never waits."""
        if self._events is None:
            return []
        while not self._ended and self._fill(wait=False):
            if not select.select([self._events.stdout.fileno()], [], [], 0)[0]:  # type: ignore[union-attr]
                break
        found = []
        while (text := self._line()) is not None:
            found.append(_event(text))
        return found

    def close(self) -> None:
        """Stop the event stream (only the virsh this monitor started); safe to call twice."""
        events, self._events = self._events, None
        if events is None:
            return
        if events.poll() is None:
            events.terminate()
            try:
                events.wait(5.0)
            except subprocess.TimeoutExpired:
                events.kill()
                events.wait()
        for stream in (events.stdout, events.stderr):
            if stream is not None:
                stream.close()
