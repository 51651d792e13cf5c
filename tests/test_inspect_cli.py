"""`inspect` on the command line, against a small QMP server: recorded QEMU replies, and what QEMU never does."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pcie_failover.inspect import cli as inspect_cli
from pcie_failover.inspect import qmp as inspect_qmp
from pcie_failover.inspect.read import QUERIES, key
from tests.support.cli import SCHEMA, Run
from tests.support.qmp import FakeQmp, recording


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
    """The peer is this test's own process: one line naming the socket, the pid, and what runs there."""
    server = serve("driver-not-loaded")
    found = inspect(cli, server, "--format", "json")
    assert found.code == 1  # not negotiated: standby-only, whatever the unknown configuration holds
    comm = Path("/proc/self/comm").read_text().strip()
    exe = os.readlink("/proc/self/exe")
    assert found.json["input"]["config_note"] == (
        f"the process behind {server.path} (pid {os.getpid()}) is not QEMU: comm {comm!r}, exe {exe}"
    )
    assert found.json["pairs"][0]["verdict"] == "standby-only"


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


def test_a_greeting_without_the_handshake(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inspect_qmp, "TIMEOUT", 0.3)
    server = serve(capabilities=False)
    found = inspect(cli, server)
    assert (found.code, found.out) == (3, "")
    assert found.err == (
        f"pcie-failover inspect: {server.path}: QEMU sent its QMP greeting but did not answer qmp_capabilities "
        "within 0 s\n"
    )


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


def _stamp(seconds: float) -> dict[str, int]:
    return {"seconds": int(seconds), "microseconds": round((seconds - int(seconds)) * 1e6)}


@pytest.mark.parametrize("output", ["table", "json"])
def test_watch_prints_each_event_and_change(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], tmp_path: Path, output: str
) -> None:
    """The pair line FAILOVER_NEGOTIATED caused comes after it, stamped no earlier (QEMU's clock may run ahead)."""
    rounds = iter(["negotiate", "close"])
    later = int(time.time()) + 3600

    def script(server: FakeQmp, command: str) -> None:
        if command != "query-migrate-capabilities":  # the last query of each reading
            return
        step = next(rounds)
        if step == "negotiate":
            server.replies = recording("active")["replies"]
            stamp = {"seconds": later, "microseconds": 620432}
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
        assert kinds[2]["time"] == kinds[1]["time"] == later + 0.620432
    else:
        assert len(lines) == 4
        assert " pair net0 + hostdev0: standby-only: not negotiated:" in lines[0]
        assert lines[1:] == [
            f"{later}.620432 event FAILOVER_NEGOTIATED device-id=net0",
            f"{later}.620432 pair net0 + hostdev0: active: negotiated; hostdev0 plugged at rp-hostdev0 slot 0.0",
            "QEMU closed the monitor",
        ]


def test_watch_orders_a_burst_by_timestamp(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], tmp_path: Path
) -> None:
    """Events that arrive together are printed by QEMU's timestamp, each pair line after what caused it."""
    rounds = iter(["burst", "close"])
    base = int(time.time()) + 3600.0

    def script(server: FakeQmp, command: str) -> None:
        if command != "query-migrate-capabilities":
            return
        if next(rounds) == "burst":
            server.replies = recording("active")["replies"]
            for offset, name in ((0.3, "RESUME"), (0.1, "FAILOVER_NEGOTIATED"), (0.2, "RESET")):
                server.send({"event": name, "data": {}, "timestamp": _stamp(base + offset)})
        else:
            server.hang_up()

    server = serve("driver-not-loaded", after=script)
    found = inspect(cli, server, "--qemu-args", args_file(tmp_path, "active"), "--watch", "--format", "json")
    assert (found.code, found.err) == (0, "")
    kinds = [json.loads(line) for line in found.out.splitlines()]
    times = [k["time"] for k in kinds if "time" in k]
    assert times == sorted(times)
    assert [(k["kind"], k.get("event") or k.get("verdict")) for k in kinds] == [
        ("pair", "standby-only"), ("event", "FAILOVER_NEGOTIATED"), ("event", "RESET"), ("event", "RESUME"),
        ("pair", "active"), ("closed", None),
    ]  # fmt: skip
    assert kinds[4]["time"] == kinds[3]["time"] == base + 0.3  # microseconds: exact in a float here


@pytest.mark.parametrize("output", ["table", "json"])
def test_watch_error_is_one_line_in_the_output_format(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], tmp_path: Path, output: str
) -> None:
    """A non-numeric event timestamp: exit 3 (a reply we cannot read), a JSON line under --format json."""

    def script(server: FakeQmp, command: str) -> None:
        if command == "query-migrate-capabilities":
            stamp = {"seconds": "soon", "microseconds": 0}
            server.send({"event": "FAILOVER_NEGOTIATED", "data": {"device-id": "net0"}, "timestamp": stamp})

    server = serve("driver-not-loaded", after=script)
    found = inspect(cli, server, "--qemu-args", args_file(tmp_path, "active"), "--watch", "--format", output)
    message = "QMP event FAILOVER_NEGOTIATED timestamp seconds: a string where QEMU sends an integer"
    assert found.code == 3
    if output == "json":
        *_, last = found.out.splitlines()
        assert json.loads(last) == {"kind": "error", "code": 3, "error": "input", "message": message}
        jsonschema.validate(json.loads(last), {"$ref": "#/$defs/inspectWatchLine", "$defs": SCHEMA["$defs"]})
        assert found.err == ""
    else:
        assert found.err == f"pcie-failover inspect: {message}\n"
    early = cli("inspect", "--qmp", str(tmp_path / "none.sock"), "--watch", "--format", "json")
    assert (early.code, early.out) == (
        3,
        json.dumps({"kind": "error", "code": 3, "error": "input", "message": (
            f"cannot connect to {tmp_path / 'none.sock'}: No such file or directory")}) + "\n",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ([{"capability": "events"}], "query-migrate-capabilities events state: missing where QEMU sends a boolean"),
        ([{"capability": "events", "state": "on"}], "query-migrate-capabilities events state: a string where QEMU "
         "sends a boolean"),
        ([["events", True]], "query-migrate-capabilities entry: the reply is not a JSON object"),
        ({"events": True}, "query-migrate-capabilities: the reply is not a JSON array"),
    ],
)  # fmt: skip
def test_malformed_migrate_capabilities_exit_3(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], reply: object, message: str
) -> None:
    replies = recording("active")["replies"] | {key("query-migrate-capabilities", None): {"return": reply}}
    found = inspect(cli, serve(replies=replies))
    assert (found.code, found.out, found.err) == (3, "", f"pcie-failover inspect: {message}\n")


def test_the_table_takes_the_terminals_layout(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """cli passes terminal_layout(): COLUMNS=60 wraps every row (piped: no colour); no COLUMNS: the plain table."""
    for name in ("COLUMNS", "NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    piped = inspect(cli, serve("primary-failed"), "--qemu-args", args_file(tmp_path, "primary-failed")).out
    monkeypatch.setenv("COLUMNS", "60")
    narrow = inspect(cli, serve("primary-failed"), "--qemu-args", args_file(tmp_path, "primary-failed"))
    assert narrow.code == 1
    assert "\x1b" not in narrow.out
    assert max(len(line) for line in piped.splitlines()) > 60
    wide = [line for line in narrow.out.splitlines() if len(line) > 60]
    assert wide
    assert all(len(line.split()) == 1 for line in wide), wide  # the --qemu-args path: a word is never cut
    assert narrow.out.replace("qmp1.sock", "qmp0.sock").split() == piped.split()


def test_a_paused_vm_exits_4(cli: Callable[..., Run], serve: Callable[..., FakeQmp], tmp_path: Path) -> None:
    replies = recording("active")["replies"] | {
        key("query-status", None): {"return": {"running": False, "status": "paused"}}
    }
    found = inspect(cli, serve(replies=replies), "--qemu-args", args_file(tmp_path, "active"))
    assert found.code == 4
    assert "pair net0 + hostdev0: undetermined\n" in found.out
    assert "  reason     the VM is paused: its guest does not run," in found.out
    assert found.out.endswith("verdict: undetermined: QEMU did not say enough to judge a pair\n")


def test_qom_get_null_exits_3(cli: Callable[..., Run], serve: Callable[..., FakeQmp]) -> None:
    failover = key("qom-get", {"path": "/machine/peripheral/net0", "property": "failover"})
    found = inspect(cli, serve(replies=recording("active")["replies"] | {failover: {"return": None}}))
    assert (found.code, found.out, found.err) == (
        3, "", "pcie-failover inspect: qom-get /machine/peripheral/net0 failover: null where QEMU sends a boolean\n",
    )  # fmt: skip


def test_watch_reads_again_on_a_timer_when_qemu_sends_no_event(
    cli: Callable[..., Run], serve: Callable[..., FakeQmp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QEMU plugs the primary back after a failed or cancelled migration (or an operator's device_add) without an
    event: --watch reads again every POLL seconds, and prints a line only for what changed."""
    monkeypatch.setattr(inspect_cli, "POLL", 0.2)
    rounds = iter(["change", "same", "close"])

    def script(server: FakeQmp, command: str) -> None:
        if command != "query-migrate-capabilities":  # the last query of each reading
            return
        step = next(rounds, "close")
        if step == "change":
            server.replies = recording("active")["replies"]  # no event says so
        elif step == "close":
            server.hang_up()

    server = serve("driver-not-loaded", after=script)

    def end() -> None:
        if server.conn is not None:
            with contextlib.suppress(OSError):
                server.conn.shutdown(socket.SHUT_RDWR)

    backstop = threading.Timer(10.0, end)
    backstop.start()  # a watch that never reads again ends here, with what it printed
    try:
        found = inspect(cli, server, "--qemu-args", args_file(tmp_path, "active"), "--watch", "--format", "json")
    finally:
        backstop.cancel()
    assert (found.code, found.err) == (0, "")
    lines = [json.loads(line) for line in found.out.splitlines()]
    assert [(k["kind"], k.get("verdict")) for k in lines] == [
        ("pair", "standby-only"), ("pair", "active"), ("closed", None),
    ]  # fmt: skip
    assert lines[1]["reason"] == "negotiated; hostdev0 plugged at rp-hostdev0 slot 0.0"
    assert server.sent.count("query-status") == 3  # the first reading, then two on the timer
