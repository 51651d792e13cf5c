"""`inspect` on the command line, against a small QMP server: recorded QEMU replies, and what QEMU never does."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pcie_failover.inspect import qmp as inspect_qmp
from pcie_failover.inspect.read import QUERIES, key
from tests.conftest import Run
from tests.test_inspect import recording

GREETING = {"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": ""}, "capabilities": []}}
Hook = Callable[["FakeQmp", str], None]


@dataclass
class FakeQmp:
    """A one-client QMP server on a unix socket: answers from a recording, keeps what it was sent."""

    path: Path
    replies: dict[str, Any]
    greeting: bytes = json.dumps(GREETING).encode() + b"\n"
    after: Hook | None = None  # called after each answer; may swap replies, send events, hang up
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


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., FakeQmp]]:
    servers: list[FakeQmp] = []

    def start(state: str | None = None, replies: dict[str, Any] | None = None, **settings: Any) -> FakeQmp:
        replies = replies or ({} if state is None else recording(state)["replies"])
        server = FakeQmp(tmp_path / f"qmp{len(servers)}.sock", replies, **settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def args_file(tmp_path: Path, state: str) -> str:
    """The recorded QEMU command line as a file (NUL-separated, as /proc/PID/cmdline)."""
    path = tmp_path / f"{state}.args"
    path.write_text(recording(state)["cmdline"])
    return str(path)


def inspect(cli: Callable[..., Run], server: FakeQmp, *args: str) -> Run:
    return cli("inspect", "--qmp", str(server.path), "--no-host", *args)


EXPECTED = {
    "driver-not-loaded": (1, "standby-only"),
    "active": (0, "active"),
    "primary-failed": (1, "standby-only"),
    "no-virtio-status-hidden": (4, "undetermined"),
}


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_exit_codes_table_and_json(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], tmp_path: Path, state: str
) -> None:
    code, verdict = EXPECTED[state]
    table_server = serve(state)
    table = inspect(cli, table_server, "--qemu-args", args_file(tmp_path, state))
    assert (table.code, table.err) == (code, "")
    assert f"pair net0 + hostdev0: {verdict}\n" in table.out
    assert set(table_server.sent) <= QUERIES | {"qmp_capabilities"}
    document = inspect(cli, serve(state), "--qemu-args", args_file(tmp_path, state), "--format", "json")
    assert document.code == code
    assert document.json["verdict"] == verdict
    assert document.json["input"]["config"] == args_file(tmp_path, state)


def test_a_peer_that_is_not_qemu_leaves_the_configuration_unknown(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp]
) -> None:
    found = inspect(cli, serve("driver-not-loaded"), "--format", "json")
    assert found.code == 4  # a hidden primary shows only in the configuration
    assert "is not QEMU" in found.json["input"]["config_note"]
    assert found.json["pairs"][0]["verdict"] == "undetermined"


def test_no_socket(cli: Callable[..., Run], tmp_path: Path) -> None:
    found = cli("inspect", "--qmp", str(tmp_path / "none.sock"))
    assert found.code == 3
    assert (
        found.err == f"pcie-failover inspect: cannot connect to {tmp_path / 'none.sock'}: No such file or directory\n"
    )


def test_not_a_qmp_monitor(cli: Callable[..., Run], serve: Callable[..., FakeQmp]) -> None:
    server = serve(greeting=b"SSH-2.0-OpenSSH_9.2\r\n")
    found = inspect(cli, server)
    assert found.code == 3
    assert found.err.startswith(f"pcie-failover inspect: {server.path} is not a QEMU QMP monitor: ")
    assert found.err.count("\n") == 1
    error = inspect(cli, serve(greeting=b"{}\n"), "--format", "json").json["error"]
    assert (error["code"], error["kind"]) == (3, "input")


def test_a_silent_monitor(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inspect_qmp, "TIMEOUT", 0.3)
    found = inspect(cli, serve(greeting=b""))
    assert found.code == 3
    assert "no QMP greeting within 0 s (not a QEMU monitor, or another client holds it" in found.err


def test_qemu_hangs_up_mid_way(cli: Callable[..., Run], serve: Callable[..., FakeQmp]) -> None:
    def hang_up(server: FakeQmp, command: str) -> None:
        if command == "qom-list":
            server.hang_up()

    found = inspect(cli, serve("active", after=hang_up))
    assert found.code == 3
    assert found.err.startswith("pcie-failover inspect: ")
    assert found.err.count("\n") == 1


def test_replies_qemu_never_sends(cli: Callable[..., Run], serve: Callable[..., FakeQmp]) -> None:
    found = inspect(cli, serve(replies={key("query-version", None): {"return": []}}))
    assert (found.code, found.err) == (3, "pcie-failover inspect: query-version: the reply is not a JSON object\n")
    refused = inspect(
        cli, serve(replies={key("query-version", None): {"error": {"class": "GenericError", "desc": "no"}}})
    )
    assert (refused.code, refused.err) == (
        3,
        "pcie-failover inspect: query-version: QEMU answered with an error: GenericError: no\n",
    )


@pytest.mark.parametrize("output", ["table", "json"])
def test_watch_prints_each_event_and_change(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], tmp_path: Path, output: str
) -> None:
    rounds = iter(["negotiate", "close"])

    def script(server: FakeQmp, command: str) -> None:
        if command != "query-migrate-capabilities":  # the last query of each reading
            return
        step = next(rounds)
        if step == "negotiate":
            server.replies = recording("active")["replies"]
            stamp = {"seconds": 1796292949, "microseconds": 620432}
            server.send({"event": "FAILOVER_NEGOTIATED", "data": {"device-id": "net0"}, "timestamp": stamp})
        else:
            server.hang_up()

    server = serve("driver-not-loaded", after=script)
    found = inspect(cli, server, "--qemu-args", args_file(tmp_path, "active"), "--watch", "--format", output)
    assert found.code == 0
    lines = found.out.splitlines()
    if output == "json":
        kinds = [json.loads(line) for line in lines]
        assert [(k["kind"], k.get("verdict") or k.get("event")) for k in kinds] == [
            ("pair", "standby-only"), ("event", "FAILOVER_NEGOTIATED"), ("pair", "active"), ("closed", None),
        ]  # fmt: skip
    else:
        assert len(lines) == 4
        assert " pair net0 + hostdev0: standby-only: not negotiated:" in lines[0]
        assert lines[1] == "1796292949.620432 event FAILOVER_NEGOTIATED device-id=net0"
        assert " pair net0 + hostdev0: active: negotiated; hostdev0 plugged at rp-hostdev0 slot 0.0" in lines[2]
        assert lines[3] == "QEMU closed the monitor"
