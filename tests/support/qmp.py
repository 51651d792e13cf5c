"""Recorded QMP replies of real lab guests (tests/inspect_replies/) and a fake QEMU monitor serving them."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pcie_failover.inspect.read import key

REPLIES = Path(__file__).parent.parent / "inspect_replies"
GREETING = {"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": ""}, "capabilities": []}}
Hook = Callable[["FakeQmp", str], None]


def recording(state: str) -> dict[str, Any]:
    """One recorded state: the QEMU command line and every reply."""
    document: dict[str, Any] = json.loads((REPLIES / f"{state}.json").read_text())
    return document


@dataclass
class FakeQmp:
    """A one-client QMP server on a unix socket: answers from a recording, keeps what it was sent."""

    path: Path
    replies: dict[str, Any]
    greeting: bytes = json.dumps(GREETING).encode() + b"\n"
    after: Hook | None = None  # called after each answer; may swap replies, send events, hang up
    capabilities: bool = True  # answer qmp_capabilities (False: the greeting, then silence)
    sent: list[str] = field(default_factory=list)
    conn: socket.socket | None = None

    def __post_init__(self) -> None:
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def send(self, message: dict[str, Any]) -> None:
        """One JSON line to the client."""
        assert self.conn is not None
        self.conn.sendall(json.dumps(message).encode() + b"\n")

    def hang_up(self) -> None:
        """Close the client's connection."""
        assert self.conn is not None
        self.conn.shutdown(socket.SHUT_RDWR)

    def _requests(self) -> Iterator[dict[str, Any]]:
        """The client's JSON objects: a stream, as QEMU parses it (qemu.qmp sends no newline)."""
        assert self.conn is not None
        decoder, buffer = json.JSONDecoder(), ""
        while data := self.conn.recv(65536):
            buffer += data.decode()
            while buffer.strip():
                try:
                    request, end = decoder.raw_decode(buffer.lstrip())
                except json.JSONDecodeError:
                    break
                buffer = buffer.lstrip()[end:]
                yield request

    def _serve(self) -> None:
        self.conn, _ = self._server.accept()
        with self.conn:
            if self.greeting:
                self.conn.sendall(self.greeting)
            for request in self._requests():
                command, arguments = request["execute"], request.get("arguments")
                self.sent.append(command)
                if command == "qmp_capabilities" and not self.capabilities:
                    continue
                reply = {"return": {}} if command == "qmp_capabilities" else self.replies.get(key(command, arguments))
                reply = reply or {
                    "error": {"class": "CommandNotFound", "desc": f"The command {command} has not been found"}
                }
                self.send(reply if "id" not in request else {**reply, "id": request["id"]})
                if self.after is not None:
                    self.after(self, command)

    def close(self) -> None:
        """Stop listening."""
        self._server.close()
