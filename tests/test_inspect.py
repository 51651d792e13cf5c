"""`inspect`'s model and verdicts, from QMP replies recorded in QEMU 10 (`python -m lab.inspect_record`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pcie_failover.commands.check import run_check
from pcie_failover.commands.lint import run_lint
from pcie_failover.inspect.judge import judge
from pcie_failover.inspect.model import Config, InspectReport, PairVerdict
from pcie_failover.inspect.read import QUERIES, Recorder, Replay, read_vm
from pcie_failover.inspect.render import render_json, render_table, watch_event_line, watch_pair_line
from pcie_failover.lint.model import ConfigKind
from pcie_failover.model.address import DeviceQuery, MacAddress, PciAddress
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.sysfs.root import SysfsRoot
from tests.conftest import _SCHEMA, _VALIDATOR

REPLIES = Path(__file__).parent / "inspect_replies"
CAPTURE = Path(__file__).parent.parent / "fixtures_sysfs" / "vtd-acpi" / "sysfs"
SOCKET = "/run/vm/qmp.sock"
PID = 4242


def recording(state: str) -> dict[str, Any]:
    """One recorded state: the QEMU command line and every reply."""
    document: dict[str, Any] = json.loads((REPLIES / f"{state}.json").read_text())
    return document


def config_of(cmdline: str, version: str, root: SysfsRoot | None = None) -> Config:
    """The configuration as inspect reads it: lint over the command line."""
    why = "--no-host" if root is None else None
    return Config(
        "/proc/4242/cmdline",
        run_lint(cmdline, ConfigKind.QEMU, source="x", root=root, why_not=why, version=version),
        None,
    )


def report(state: str, cmdline: str | None = None, root: SysfsRoot | None = None) -> InspectReport:
    """`inspect` of a recorded state (its own command line unless `cmdline`)."""
    recorded = recording(state)
    vm = read_vm(Replay(recorded["replies"]))
    return judge(SOCKET, PID, vm, config_of(cmdline or recorded["cmdline"], vm.version, root))


def test_recordings_hold_only_queries() -> None:
    for path in REPLIES.glob("*.json"):
        for key in json.loads(path.read_text())["replies"]:
            assert json.loads(key)[0] in QUERIES


def test_replay_asks_exactly_what_was_recorded() -> None:
    recorded = recording("active")
    recorder = Recorder(Replay(recorded["replies"]))
    read_vm(recorder)
    assert recorder.replies == recorded["replies"]


def test_driver_not_loaded_is_standby_only_not_negotiated_primary_hidden() -> None:
    found = report("driver-not-loaded")
    (pair,) = found.pairs
    assert pair.verdict is PairVerdict.STANDBY_ONLY
    assert (pair.standby.offered, pair.standby.negotiated, pair.standby.driver_ok) == (True, False, False)
    assert pair.primary is None
    assert not pair.plugged
    assert pair.configured_primary == "hostdev0"
    assert pair.primary_id == "hostdev0"
    assert pair.reason.startswith("not negotiated:")
    assert "keeps hostdev0 hidden" in pair.reason
    assert (pair.migration.unplugs, pair.migration.replugs) == (False, False)
    assert pair.standby.mac == "52:54:00:6f:55:cc"
    assert pair.standby.placement.text == "rp-net0 slot 0.0"


def test_driver_loaded_is_active_primary_plugged() -> None:
    (pair,) = report("active").pairs
    assert pair.verdict is PairVerdict.ACTIVE
    assert pair.standby.negotiated is True
    assert pair.standby.driver_ok is True
    assert pair.primary is not None
    assert pair.primary.driver == "e1000e"
    assert pair.primary.placement.text == "rp-hostdev0 slot 0.0"
    assert (pair.migration.unplugs, pair.migration.replugs) == (True, True)


def test_primary_qemu_cannot_plug_is_standby_only_with_the_reason() -> None:
    (pair,) = report("primary-failed").pairs
    assert pair.verdict is PairVerdict.STANDBY_ONLY
    assert pair.standby.negotiated is True
    assert pair.primary is not None  # QEMU realized it, at a device number no guest scans
    assert pair.primary.placement.text == "rp-hostdev0 slot 3.0"
    assert pair.reason.startswith(
        "primary failed to plug where the guest can see it: QEMU plugged hostdev0 at device 3 of port rp-hostdev0"
    )
    assert pair.reason.endswith("; the configuration fails slot-zero")  # the configuration's own rule says why
    assert pair.configured_at is not None
    assert pair.configured_at.slot == 3
    assert pair.migration.replugs is False
    assert "slot-zero" in pair.migration.why


def test_migration_source_during_and_after_destination_active() -> None:
    during = report("source-migrating")
    assert during.vm.migration_status == "wait-unplug"
    assert during.vm.migrating
    (pair,) = during.pairs
    assert pair.verdict is PairVerdict.STANDBY_ONLY
    assert "for the migration in progress (wait-unplug)" in pair.reason
    assert not pair.plugged
    assert pair.primary is not None  # QEMU keeps it until the migration is over
    (after,) = report("source-migrated").pairs
    assert after.verdict is PairVerdict.STANDBY_ONLY
    assert not after.plugged
    assert "the VM runs on the destination" in after.reason
    destination = report("destination-active")
    assert destination.vm.migration_status == "completed"
    assert not destination.vm.migrating
    (back,) = destination.pairs
    assert back.verdict is PairVerdict.ACTIVE
    assert back.plugged


def test_no_virtio_status_hidden_is_undetermined_plugged_is_active() -> None:
    (hidden,) = report("no-virtio-status-hidden").pairs
    assert hidden.verdict is PairVerdict.UNDETERMINED
    assert hidden.standby.negotiated is None
    assert "unstable-input=reject" in hidden.reason
    assert "disabled by policy" in hidden.reason
    (plugged,) = report("no-virtio-status-plugged").pairs
    assert plugged.verdict is PairVerdict.ACTIVE  # QEMU plugs a failover primary only once negotiated


def test_standby_without_primary_is_not_configured() -> None:
    recorded = recording("driver-not-loaded")
    words = recorded["cmdline"].split("\0")
    at = next(i for i, w in enumerate(words) if "failover_pair_id" in w)
    found = report("driver-not-loaded", "\0".join(words[: at - 1] + words[at + 1 :]))
    (pair,) = found.pairs
    assert pair.verdict is PairVerdict.NOT_CONFIGURED
    assert pair.primary_id is None
    assert pair.reason == "no device has failover_pair_id=net0"
    assert found.verdict is PairVerdict.NOT_CONFIGURED


def test_unknown_configuration_cannot_see_a_hidden_primary() -> None:
    recorded = recording("driver-not-loaded")
    vm = read_vm(Replay(recorded["replies"]))
    found = judge(SOCKET, None, vm, Config(None, None, "QEMU's pid is not visible"))
    assert found.pairs[0].verdict is PairVerdict.UNDETERMINED
    assert found.pairs[0].migration.replugs is False  # not negotiated: known without the configuration


def test_host_check_of_the_primary_is_checks_own_report() -> None:
    """The vfio-pci configuration (before the lab swapped in the e1000e) checks the VF as `check` does."""
    from lab.inspect_guest import MAC, VF, pair_text

    text = pair_text()
    found = report("driver-not-loaded", text, SysfsRoot(str(CAPTURE)))
    host = found.pairs[0].host
    assert host is not None
    assert host.report is not None
    assert host.device == VF
    # lint's options for a primary: the standby's MAC, compared but not asserted an administrator's
    options = CheckOptions(manager=Manager.QEMU, mac=MacAddress.parse(MAC), mac_asserted=False, vf_token=False)
    address = PciAddress.parse(VF)
    assert host.report == run_check(SysfsRoot(str(CAPTURE)), DeviceQuery(VF, address, None), options, strict=False)


@pytest.mark.parametrize("state", sorted(p.stem for p in REPLIES.glob("*.json")))
def test_json_document_is_valid(state: str) -> None:
    document = json.loads(render_json(report(state)))
    _VALIDATOR.validate(document)
    assert document["command"] == "inspect"
    assert document["verdict"] == report(state).verdict.value


def test_json_active_side_by_side() -> None:
    document = json.loads(render_json(report("active")))
    (pair,) = document["pairs"]
    assert pair["standby"] | {} == {
        "id": "net0", "driver": "virtio-net-pci", "failover": True, "mac": "52:54:00:6f:55:cc",
        "bus": "rp-net0", "slot": 0, "function": 0, "offered": True, "driver_ok": True,
    }  # fmt: skip
    assert pair["primary"] == {
        "id": "hostdev0", "plugged": True, "held": True, "driver": "e1000e", "bus": "rp-hostdev0", "slot": 0,
        "function": 0, "host": None,
    }  # fmt: skip
    assert pair["configured"]["primary"] == {
        "id": "hostdev0", "driver": "e1000e", "bus": "rp-hostdev0", "slot": 0, "host": None,
    }  # fmt: skip
    assert pair["negotiated"] is True
    assert pair["verdict"] == "active"
    assert pair["host_check"] is None
    assert document["migration"] == {"status": None, "in_progress": False, "events": False, "capabilities": []}
    assert document["config"]["verdict"] == "ready"


def test_table_driver_not_loaded() -> None:
    text = render_table(report("driver-not-loaded"))
    assert text.splitlines()[0] == (
        f"inspect {SOCKET}: QEMU 10.0.2 (pid {PID}), running; configuration /proc/4242/cmdline"
    )
    assert "pair net0 + hostdev0: standby-only" in text
    assert "  negotiated no (QEMU offers VIRTIO_NET_F_STANDBY: yes)" in text
    assert "  primary    live: not plugged" in text
    assert "             configured: hostdev0 e1000e at rp-hostdev0 slot 0.0" in text
    assert "  host       emulated primary: no host device" in text
    assert text.endswith("verdict: standby-only: a pair has no fast path now (see its reason)\n")


def test_table_primary_failed_shows_the_failing_rule() -> None:
    text = render_table(report("primary-failed"))
    assert "configuration rules: not-ready" in text
    assert "  slot-zero FAIL:" in text
    assert "configured: hostdev0 e1000e at rp-hostdev0 slot 3.0" in text


def test_watch_lines() -> None:
    (pair,) = report("active").pairs
    event = {
        "event": "FAILOVER_NEGOTIATED",
        "data": {"device-id": "net0"},
        "timestamp": {"seconds": 5, "microseconds": 1},
    }
    assert watch_event_line(event, False) == "5.000001 event FAILOVER_NEGOTIATED device-id=net0\n"
    assert watch_pair_line(pair, 6.0, False).startswith("6.000000 pair net0 + hostdev0: active: negotiated;")
    line_schema = {"$ref": "#/$defs/inspectWatchLine", "$defs": _SCHEMA["$defs"]}
    for line in (watch_event_line(event, True), watch_pair_line(pair, 6.0, True)):
        jsonschema.validate(json.loads(line), line_schema)
