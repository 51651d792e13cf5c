"""`inspect --domain NAME`: the recorded QEMU replies through a fake `virsh` on PATH (no libvirtd here).

The fake answers `qemu-monitor-command -- NAME JSON` from a recording (keyed by the query it receives),
`dumpxml -- NAME` with a domain XML consistent with it, and streams `qemu-monitor-event` lines. libvirt
names the devices: the recordings' ids are renamed as libvirt would have them (`ua-` user aliases, which
`<teaming persistent=>` needs, and `pci.N` root ports) for both --qmp and --domain.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pcie_failover.inspect import virsh as inspect_virsh
from pcie_failover.inspect.judge import judge
from pcie_failover.inspect.model import Config
from pcie_failover.inspect.read import QUERIES, Replay, ReplyError, read_vm
from pcie_failover.inspect.render import render_json
from pcie_failover.lint.command import run_lint
from pcie_failover.lint.model import ConfigKind
from tests.support.cli import Run
from tests.support.qmp import REPLIES, FakeQmp, recording

Cli = Callable[..., Run]
HOSTILE_NAME = "vm 1; touch pwned $(id) `id` --inactive"  # one argv word: no shell ever sees it
STATES = sorted(p.stem for p in REPLIES.glob("*.json"))
# `pair --for libvirt --format libvirt` (the vtd-acpi capture's VF, --mac 52:54:00:6f:55:cc) in a q35 domain,
# with the addresses libvirt gives a running domain: standby on root port pci.1, primary on pci.2.
DOMAIN_XML = """<domain type="kvm" id="7">
  <name>vm1</name>
  <os><type arch="x86_64" machine="pc-q35-10.0">hvm</type></os>
  <devices>
    <controller type="pci" index="0" model="pcie-root"><alias name="pcie.0"/></controller>
    <controller type="pci" index="1" model="pcie-root-port">
      <model name="pcie-root-port"/><target chassis="1" port="0x8"/><alias name="pci.1"/>
      <address type="pci" domain="0x0000" bus="0x00" slot="0x01" function="0x0" multifunction="on"/>
    </controller>
    <controller type="pci" index="2" model="pcie-root-port">
      <model name="pcie-root-port"/><target chassis="2" port="0x9"/><alias name="pci.2"/>
      <address type="pci" domain="0x0000" bus="0x00" slot="0x01" function="0x1"/>
    </controller>
    <interface type="ethernet">
      <mac address="52:54:00:6f:55:cc" />
      <model type="virtio" />
      <teaming type="persistent" />
      <alias name="ua-net0" />
      <address type="pci" domain="0x0000" bus="0x01" slot="0x00" function="0x0"/>
    </interface>
    <interface type="hostdev" managed="yes">
      <source>
        <address type="pci" domain="0x0000" bus="0x01" slot="0x10" function="0x0" />
      </source>
      <mac address="52:54:00:6f:55:cc" />
      <teaming type="transient" persistent="ua-net0" />
      <alias name="ua-hostdev0" />
      <address type="pci" domain="0x0000" bus="0x02" slot="0x0{slot}" function="0x0"/>
    </interface>
  </devices>
</domain>
"""
# The fake virsh: its state (replies, XML, event script, failures) in virsh.json beside it; argv logged.
FAKE_VIRSH = r"""#!{python} -IS
import json, os, sys, time
HERE = os.path.dirname(os.path.abspath(__file__))
STATE = os.path.join(HERE, "virsh.json")
READS = os.path.join(HERE, "reads")
with open(os.path.join(HERE, "argv.jsonl"), "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\n")
with open(STATE) as f:
    state = json.load(f)
command = sys.argv[1]
fake = state.get("fake", {{}}).get(command)
if fake:
    sys.stdout.write(fake.get("stdout", ""))
    sys.stdout.flush()
    sys.stderr.write(fake.get("stderr", ""))
    if fake.get("sleep"):
        os.execv("/bin/sleep", ["sleep", str(fake["sleep"])])
    sys.exit(fake.get("exit", 0))
if command == "dumpxml":
    sys.stdout.write(state["xml"])
elif command == "qemu-monitor-command":
    request = json.loads(sys.argv[4])
    key = json.dumps([request["execute"], request.get("arguments", {{}})], sort_keys=True)
    reply = state["replies"].get(key) or {{"error": {{"class": "CommandNotFound",
        "desc": "The command %s has not been found" % request["execute"]}}}}
    print(json.dumps(dict(reply, id="libvirt-42")))
    if request["execute"] == "query-migrate-capabilities":  # the last query of a reading
        with open(READS, "a") as f:
            f.write(".")
elif command == "qemu-monitor-event":
    for step in state["events"]:
        deadline = time.monotonic() + 20
        while (os.path.getsize(READS) if os.path.exists(READS) else 0) < step["after"]:
            if time.monotonic() > deadline:
                sys.exit(9)
            time.sleep(0.005)
        if step.get("replies"):
            state["replies"] = step["replies"]
            with open(STATE + ".new", "w") as f:
                json.dump(state, f)
            os.replace(STATE + ".new", STATE)
        if step.get("line"):
            print(step["line"], flush=True)
    sys.stderr.write(state.get("events_stderr", ""))
    sys.exit(state.get("events_exit", 0))
else:
    sys.exit(5)
"""


def as_libvirt(text: str) -> str:
    """A recording with libvirt's names: user aliases `ua-net0`, `ua-hostdev0`, root ports `pci.1`, `pci.2`."""
    text = text.replace("rp-hostdev0", "pci.2").replace("rp-net0", "pci.1")
    return re.sub(r"(?<![\w.-])(net0|hostdev0)\b", r"ua-\1", text)


def libvirt_recording(state: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(as_libvirt((REPLIES / f"{state}.json").read_text()))
    return document


def domain_xml(state: str) -> str:
    """The domain XML of a recorded state: its primary at the slot of the recorded command line."""
    word = next(w for w in recording(state)["cmdline"].split("\0") if "failover_pair_id" in w)
    slot = int(re.search(r"addr=0x([0-9a-f]+)", word)[1], 16)  # type: ignore[index]
    return DOMAIN_XML.format(slot=slot)


class FakeVirsh:
    """The fake's state file and argv log."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.state: dict[str, Any] = {"replies": {}, "xml": "", "events": []}

    def set(self, **settings: Any) -> FakeVirsh:
        self.state |= settings
        (self.bin_dir / "virsh.json").write_text(json.dumps(self.state))
        return self

    def serve(self, state: str, **settings: Any) -> FakeVirsh:
        return self.set(replies=libvirt_recording(state)["replies"], xml=domain_xml(state), **settings)

    @property
    def calls(self) -> list[list[str]]:
        log = self.bin_dir / "argv.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def virsh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeVirsh:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "virsh"
    script.write_text(FAKE_VIRSH.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    return FakeVirsh(bin_dir).set()


def inspect(cli: Cli, name: str, *args: str) -> Run:
    return cli("inspect", "--domain", name, "--no-host", *args)


def expected_document(state: str, name: str) -> dict[str, Any]:
    """The --domain document, built in-process: the recording, the domain XML through lint, judged."""
    vm = read_vm(Replay(libvirt_recording(state)["replies"]))
    source = f"virsh dumpxml {name}"
    lint = run_lint(
        domain_xml(state), ConfigKind.LIBVIRT, source=source, root=None, why_not="--no-host", version=vm.version
    )
    document: dict[str, Any] = json.loads(render_json(judge(name, None, vm, Config(source, lint, None), "domain")))
    return document


def live_part(document: dict[str, Any]) -> dict[str, Any]:
    """What comes from QEMU (and the verdicts): the document without its source and configuration fields."""
    pairs = [{k: v for k, v in p.items() if k not in ("configured", "host_check", "checks")} for p in document["pairs"]]
    return {k: v for k, v in document.items() if k not in ("input", "config", "pairs")} | {"pairs": pairs}


@pytest.mark.parametrize("state", STATES)
def test_same_verdicts_and_json_as_the_qmp_path(cli: Cli, virsh: FakeVirsh, tmp_path: Path, state: str) -> None:
    virsh.serve(state)
    found = inspect(cli, "vm1", "--format", "json")
    document = found.json
    assert found.err == ""
    assert document == expected_document(state, "vm1")
    assert document["input"] == {
        "qmp": None, "domain": "vm1", "pid": None, "config": "virsh dumpxml vm1", "config_note": None,
    }  # fmt: skip
    # the same replies through a QMP socket, with the same configuration as a QEMU command line
    server = FakeQmp(tmp_path / "qmp.sock", libvirt_recording(state)["replies"])
    args = tmp_path / "vm.args"
    args.write_text(libvirt_recording(state)["cmdline"])
    try:
        qmp = cli("inspect", "--qmp", str(server.path), "--no-host", "--qemu-args", str(args), "--format", "json")
    finally:
        server.close()
    assert found.code == qmp.code
    assert live_part(document) == live_part(qmp.json)
    assert document["config"]["verdict"] == qmp.json["config"]["verdict"]
    for pair, configured in zip(document["pairs"], qmp.json["pairs"], strict=True):
        assert pair["configured"]["standby"] == configured["configured"]["standby"]  # the XML matches the live VM
        assert pair["configured"]["primary"]["slot"] == configured["configured"]["primary"]["slot"]


@pytest.mark.parametrize(("state", "code", "verdict"), [("active", 0, "active"), ("primary-failed", 1, "standby-only")])
def test_table(cli: Cli, virsh: FakeVirsh, state: str, code: int, verdict: str) -> None:
    virsh.serve(state)
    table = inspect(cli, "vm1")
    assert (table.code, table.err) == (code, "")
    lines = table.out.splitlines()
    assert lines[0] == "inspect domain vm1: QEMU 10.0.2, running; configuration virsh dumpxml vm1"
    assert f"pair ua-net0 + ua-hostdev0: {verdict}" in lines


def test_each_query_is_one_virsh_call_name_one_argv_word_after_double_dash(cli: Cli, virsh: FakeVirsh) -> None:
    virsh.serve("active")
    found = inspect(cli, HOSTILE_NAME, "--format", "json")
    assert (found.code, found.json["input"]["domain"]) == (0, HOSTILE_NAME)
    assert found.json["input"]["config"] == "virsh dumpxml 'vm 1; touch pwned $(id) `id` --inactive'"
    calls = virsh.calls
    assert calls[-1] == ["dumpxml", "--", HOSTILE_NAME]
    queries = calls[:-1]
    assert len(queries) == len(libvirt_recording("active")["replies"])
    for call in queries:
        assert (call[:3], len(call)) == (["qemu-monitor-command", "--", HOSTILE_NAME], 4)
        request = json.loads(call[3])
        assert set(request) <= {"execute", "arguments"}
        assert request["execute"] in QUERIES
    assert not (Path.cwd() / "pwned").exists()


def test_virsh_missing(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    found = inspect(cli, "vm1")
    assert (found.code, found.out, found.err) == (
        3,
        "",
        "pcie-failover inspect: --domain needs virsh (Debian: libvirt-clients), not found on PATH\n",
    )
    error = inspect(cli, "vm1", "--format", "json").json["error"]
    assert (error["code"], error["kind"]) == (3, "input")


@pytest.mark.parametrize(
    ("said", "line"),
    [
        ("error: failed to get domain 'vm1'\n", "error: failed to get domain 'vm1'"),
        (
            "error: Requested operation is not valid: domain is not running\n",
            "error: Requested operation is not valid: domain is not running",
        ),
        (
            "error: failed to connect to the hypervisor\nerror: Failed to connect socket to "
            "'/run/libvirt/libvirt-sock': No such file or directory\n",
            "error: failed to connect to the hypervisor; error: Failed to connect socket to "
            "'/run/libvirt/libvirt-sock': No such file or directory",
        ),
    ],
)
def test_virsh_failing_is_its_own_line_and_exit_3(cli: Cli, virsh: FakeVirsh, said: str, line: str) -> None:
    virsh.set(fake={"qemu-monitor-command": {"stdout": "\n", "stderr": said, "exit": 1}})
    found = inspect(cli, "vm1")
    assert (found.code, found.out, found.err) == (
        3,
        "",
        f"pcie-failover inspect: virsh qemu-monitor-command vm1 query-version failed (exit 1): {line}\n",
    )


def test_a_qmp_error_reply(cli: Cli, virsh: FakeVirsh) -> None:
    replies = libvirt_recording("active")["replies"]
    replies['["query-version", {}]'] = {"error": {"class": "GenericError", "desc": "boom"}}
    virsh.set(replies=replies, xml=domain_xml("active"))
    found = inspect(cli, "vm1")
    assert (found.code, found.err) == (
        3,
        "pcie-failover inspect: query-version: QEMU answered with an error: GenericError: boom\n",
    )


@pytest.mark.parametrize(
    ("stdout", "why"),
    [
        ("Segmentation fault?\n", "query-version: virsh printed what is not a QMP reply (not JSON)"),
        ('{"id": "libvirt-1"}\n', "query-version: virsh printed a JSON value that is not a QMP reply"),
        ("\xff\n", "query-version: virsh printed what is not a QMP reply (not JSON)"),
        ('{"return": []}\n', "query-version: the reply is not a JSON object"),
    ],
)
def test_garbage_from_virsh(cli: Cli, virsh: FakeVirsh, stdout: str, why: str) -> None:
    virsh.set(fake={"qemu-monitor-command": {"stdout": stdout}})
    found = inspect(cli, "vm1")
    assert found.code == 3
    assert found.err.startswith(f"pcie-failover inspect: {why}")
    assert found.err.count("\n") == 1


def test_virsh_hangs(cli: Cli, virsh: FakeVirsh, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspect_virsh, "TIMEOUT", 1.0)
    virsh.set(fake={"qemu-monitor-command": {"sleep": 30}})
    found = inspect(cli, "vm1")
    assert (found.code, found.err) == (
        3,
        "pcie-failover inspect: virsh qemu-monitor-command vm1 did not answer query-version within 1 s\n",
    )


def test_dumpxml_failing_leaves_the_configuration_unknown(cli: Cli, virsh: FakeVirsh) -> None:
    virsh.serve("driver-not-loaded", fake={"dumpxml": {"stderr": "error: access denied\n", "exit": 1}})
    found = inspect(cli, "vm1", "--format", "json")
    assert found.code == 1  # not negotiated: no fast path, whatever the configuration holds
    assert found.json["input"]["config_note"] == "virsh dumpxml vm1 failed (exit 1): error: access denied"
    assert found.json["pairs"][0]["verdict"] == "standby-only"
    assert found.json["pairs"][0]["reason"] == (
        "not negotiated: the guest has not acknowledged VIRTIO_NET_F_STANDBY; no primary shows: the configuration "
        "is unknown (virsh dumpxml vm1 failed (exit 1): error: access denied), and one added at runtime "
        "(device_add ... failover_pair_id=ua-net0) stays hidden, in no QMP reply, until then"
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--domain", "vm1", "--qmp", "/run/vm1.sock"],
        [],
        ["--domain", "vm1", "--qemu-args", "vm1.args"],
    ],
)
def test_usage(cli: Cli, args: list[str]) -> None:
    found = cli("inspect", *args)
    assert found.code == 2
    assert found.err.count("\n") == 1
    assert found.out == ""


def event_line(name: str, event: str, data: str, seconds: str = "1796292949.620432") -> str:
    return f"event {event} at {seconds} for domain '{name}': {data}"


@pytest.mark.parametrize("output", ["table", "json"])
def test_watch_prints_each_event_and_change(cli: Cli, virsh: FakeVirsh, output: str) -> None:
    """In time order: the pair line a FAILOVER_NEGOTIATED caused is stamped no earlier than the event."""
    later = int(time.time()) + 3600  # QEMU's clock: events happen after inspect started
    events = [
        {"after": 1, "line": event_line("vm1", "SPICE_CONNECTED", '{"server": {}}', f"{later}.620432")},  # unwatched
        {
            "after": 1,
            "replies": libvirt_recording("active")["replies"],
            "line": event_line("vm1", "FAILOVER_NEGOTIATED", '{"device-id":"ua-net0"}', f"{later}.620432"),
        },
        {"after": 2, "line": event_line("vm1", "RESUME", "<null>", f"{later + 1}.000001")},
        {"after": 3},
    ]
    virsh.serve("driver-not-loaded", events=events)
    found = inspect(cli, "vm1", "--watch", "--format", output)
    assert (found.code, found.err) == (0, "")
    assert virsh.calls.count(["qemu-monitor-event", "--domain", "vm1", "--loop"]) == 1
    lines = found.out.splitlines()
    if output == "json":
        kinds = [json.loads(line) for line in lines]
        assert [(k["kind"], k.get("verdict") or k.get("event"), k.get("time")) for k in kinds[1:]] == [
            ("event", "FAILOVER_NEGOTIATED", later + 0.620432), ("pair", "active", later + 0.620432),
            ("event", "RESUME", later + 1.000001), ("closed", None, None),
        ]  # fmt: skip
        assert (kinds[0]["kind"], kinds[0]["verdict"]) == ("pair", "standby-only")
        assert kinds[1]["data"] == {"device-id": "ua-net0"}
        times = [k["time"] for k in kinds[:-1]]
        assert times == sorted(times)
    else:
        assert re.fullmatch(r"\d+\.\d{6} pair ua-net0 \+ ua-hostdev0: standby-only: not negotiated: .*", lines[0])
        assert lines[1:] == [
            f"{later}.620432 event FAILOVER_NEGOTIATED device-id=ua-net0",
            f"{later}.620432 pair ua-net0 + ua-hostdev0: active: negotiated; ua-hostdev0 plugged at pci.2 slot 0.0",
            f"{later + 1}.000001 event RESUME",
            "virsh's event stream ended",
        ]


@pytest.mark.parametrize(
    ("settings", "err"),
    [
        (
            {"events_stderr": "error: this function is not supported\n", "events_exit": 1},
            "virsh qemu-monitor-event --domain vm1 --loop failed (exit 1): error: this function is not supported",
        ),
        (
            {"events": [{"after": 1, "line": "Segmentation fault"}]},
            "virsh qemu-monitor-event printed a line that is not an event: 'Segmentation fault'",
        ),
    ],
)
def test_watch_errors(cli: Cli, virsh: FakeVirsh, settings: dict[str, Any], err: str) -> None:
    virsh.serve("active", **settings)
    found = inspect(cli, "vm1", "--watch")
    assert found.code == 3
    assert found.err == f"pcie-failover inspect: {err}\n"


@pytest.mark.parametrize("trailer", ["events received: 1", "event loop interrupted", "event loop timed out"])
def test_watch_ignores_virshs_own_trailing_lines(cli: Cli, virsh: FakeVirsh, trailer: str) -> None:
    """tools/virsh-domain-event.c prints them after the events (run with LC_ALL=C, so in English)."""
    later = int(time.time()) + 3600
    events = [
        {"after": 1, "line": event_line("vm1", "RESUME", "<null>", f"{later}.000001")},
        {"after": 2, "line": trailer},
    ]
    virsh.serve("active", events=events)
    found = inspect(cli, "vm1", "--watch")
    assert (found.code, found.err) == (0, "")
    assert found.out.splitlines()[1:] == [f"{later}.000001 event RESUME", "virsh's event stream ended"]


def test_the_event_stream_runs_with_english_messages() -> None:
    env = inspect_virsh._messages_in_c({"LC_ALL": "de_DE.UTF-8", "LANGUAGE": "de", "PATH": "/bin"})
    assert env == {"LC_ALL": "C", "LANGUAGE": "de", "PATH": "/bin"}  # LANGUAGE does not apply in the C locale


def test_event_lines_as_virsh_prints_them() -> None:
    parse = inspect_virsh._event
    odd = "it's: {vm} ': x"  # a domain name may hold quotes, colons, braces
    assert parse(event_line(odd, "DEVICE_DELETED", '{"device":"ua-hostdev0","path":"/machine/peripheral/x"}')) == {
        "event": "DEVICE_DELETED",
        "data": {"device": "ua-hostdev0", "path": "/machine/peripheral/x"},
        "timestamp": {"seconds": 1796292949, "microseconds": 620432},
    }
    assert parse(event_line("vm1", "RESET", "<null>"))["data"] == {}
    for garbage in ("event X at 1.5 for domain 'vm1': {}", event_line("vm1", "X", "[1]"), "event"):
        with pytest.raises(ReplyError):
            parse(garbage)


@pytest.mark.skipif(shutil.which("virsh") is None, reason="needs virsh (Debian libvirt-clients)")
def test_real_virsh_on_libvirts_test_driver(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """libvirt's test:///default driver (no daemon) takes the argv and refuses QEMU monitor commands."""
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    found = inspect(cli, "test")
    assert (found.code, found.err) == (
        3,
        "pcie-failover inspect: virsh qemu-monitor-command test query-version failed (exit 1): "
        "error: this function is not supported by the connection driver: virDomainQemuMonitorCommand\n",
    )
    missing = inspect(cli, "--nosuchvm", "--watch")
    assert (missing.code, missing.err) == (
        3,
        "pcie-failover inspect: virsh qemu-monitor-command --nosuchvm query-version failed (exit 1): "
        "error: failed to get domain '--nosuchvm'\n",
    )
