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
from pcie_failover.inspect.read import QUERIES, Recorder, Replay, key, read_event, read_vm
from pcie_failover.inspect.render import render_json, render_table, watch_event_line, watch_pair_line
from pcie_failover.lint.model import ConfigKind
from pcie_failover.model.address import DeviceQuery, MacAddress, PciAddress
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.render.layout import Layout, strip_colour
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
        for name in json.loads(path.read_text())["replies"]:
            assert json.loads(name)[0] in QUERIES


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


UNSTABLE = (
    "QEMU refuses the unstable x-query-virtio-status under -compat unstable-input=reject (Unstable command "
    "x-query-virtio-status disabled by policy), and inspect does not guess"
)


def test_no_virtio_status_is_undetermined_hidden_or_plugged() -> None:
    """One behaviour under -compat unstable-input=reject: negotiation unknown, never inferred from a plug."""
    (hidden,) = report("no-virtio-status-hidden").pairs
    assert hidden.verdict is PairVerdict.UNDETERMINED
    assert hidden.standby.negotiated is None
    assert hidden.standby.unknown_why == UNSTABLE
    assert hidden.reason == f"negotiation unknown ({UNSTABLE}); hostdev0 is not plugged"
    assert (hidden.migration.unplugs, hidden.migration.replugs) == (False, None)
    (plugged,) = report("no-virtio-status-plugged").pairs
    assert plugged.verdict is PairVerdict.UNDETERMINED
    assert plugged.reason == f"negotiation unknown ({UNSTABLE}); hostdev0 is plugged at rp-hostdev0 slot 0.0"
    assert plugged.plugged
    assert (plugged.migration.unplugs, plugged.migration.replugs) == (None, None)
    text = render_table(report("no-virtio-status-plugged"))
    assert f"  negotiated unknown ({UNSTABLE})\n" in text
    assert text.endswith("verdict: undetermined: QEMU did not say enough to judge a pair\n")


def without_primary(cmdline: str) -> str:
    """The command line without its primary's -device (a standby alone, as before a device_add)."""
    words = cmdline.split("\0")
    at = next(i for i, w in enumerate(words) if "failover_pair_id" in w)
    return "\0".join(words[: at - 1] + words[at + 1 :])


def without_live_primary(replies: dict[str, Any]) -> dict[str, Any]:
    """The replies with hostdev0 gone from QOM and query-pci (QEMU holds no primary)."""
    out = {k: v for k, v in replies.items() if "/machine/peripheral/hostdev0" not in k}
    listing = key("qom-list", {"path": "/machine/peripheral"})
    out[listing] = {"return": [e for e in replies[listing]["return"] if e["name"] != "hostdev0"]}
    return {k: v for k, v in out.items() if json.loads(k)[0] != "query-pci"}


def test_a_hidden_primary_added_at_runtime_is_not_called_not_configured() -> None:
    """device_add of a primary before negotiation: QEMU hides it, in no reply (QEMU 10, lab-verified)."""
    found = report("driver-not-loaded", without_primary(recording("driver-not-loaded")["cmdline"]))
    (pair,) = found.pairs
    assert pair.verdict is PairVerdict.STANDBY_ONLY
    assert pair.primary_id is None
    assert pair.reason == (
        "not negotiated: the guest has not acknowledged VIRTIO_NET_F_STANDBY; no primary shows: the configuration "
        "names none, and one added at runtime (device_add ... failover_pair_id=net0) stays hidden, in no QMP "
        "reply, until then"
    )


def test_negotiated_and_no_primary_anywhere_is_not_configured() -> None:
    recorded = recording("active")
    vm = read_vm(Replay(without_live_primary(recorded["replies"])))
    found = judge(SOCKET, PID, vm, config_of(without_primary(recorded["cmdline"]), vm.version))
    (pair,) = found.pairs
    assert pair.verdict is PairVerdict.NOT_CONFIGURED
    assert pair.reason == (
        "no device has failover_pair_id=net0: none in the configuration, and none added at runtime "
        "(negotiated: QEMU would have plugged it)"
    )
    assert found.verdict is PairVerdict.NOT_CONFIGURED


def test_a_plugged_primary_added_at_runtime_is_reported_from_qom() -> None:
    found = report("active", without_primary(recording("active")["cmdline"]))
    (pair,) = found.pairs
    assert (pair.verdict, pair.primary_id, pair.configured_primary) == (PairVerdict.ACTIVE, "hostdev0", None)
    assert (pair.migration.unplugs, pair.migration.replugs) == (True, None)
    assert pair.migration.why == (
        "hostdev0 was added at runtime (not in the configuration): the destination plugs it back only if its own "
        "command line (or a device_add there) has it"
    )
    assert "             added at runtime: not in the configuration\n" in render_table(found)


def test_unknown_configuration_cannot_see_a_hidden_primary() -> None:
    recorded = recording("driver-not-loaded")
    vm = read_vm(Replay(recorded["replies"]))
    found = judge(SOCKET, None, vm, Config(None, None, "QEMU's pid is not visible"))
    assert found.pairs[0].verdict is PairVerdict.STANDBY_ONLY  # not negotiated: no fast path whatever is configured
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
        "function": 0, "host": None, "mac": "52:54:00:6f:55:cc", "in_pci": True,
    }  # fmt: skip
    assert [(c["id"], c["status"]) for c in pair["live_checks"]] == [("slot-zero", "pass"), ("mac-match", "pass")]
    assert {c["status"] for c in pair["checks"]} <= {"pass", "skip"}
    assert pair["configured"]["primary"] == {
        "id": "hostdev0", "driver": "e1000e", "bus": "rp-hostdev0", "slot": 0, "host": None,
    }  # fmt: skip
    assert pair["negotiated"] is True
    assert pair["verdict"] == "active"
    assert pair["host_check"] is None
    assert document["migration"] == {
        "status": None, "in_progress": False, "migrated_out": False, "events": False, "capabilities": [],
    }  # fmt: skip
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
    event = read_event(
        {"event": "FAILOVER_NEGOTIATED", "data": {"device-id": "net0"}, "timestamp": {"seconds": 5, "microseconds": 1}}
    )
    assert watch_event_line(event, False) == "5.000001 event FAILOVER_NEGOTIATED device-id=net0\n"
    assert watch_pair_line(pair, 6.0, False).startswith("6.000000 pair net0 + hostdev0: active: negotiated;")
    line_schema = {"$ref": "#/$defs/inspectWatchLine", "$defs": _SCHEMA["$defs"]}
    for line in (watch_event_line(event, True), watch_pair_line(pair, 6.0, True)):
        jsonschema.validate(json.loads(line), line_schema)


def with_replies(state: str, **changes: Any) -> dict[str, Any]:
    """A recorded state's replies with some answers changed: `command` or `command|path|property` -> reply."""
    replies = dict(recording(state)["replies"])
    for name, value in changes.items():
        command, *rest = name.split("|")
        arguments = {"path": rest[0], "property": rest[1]} if rest else None
        replies[key(command, arguments)] = {"return": value}
    return replies


def judged(replies: dict[str, Any], cmdline: str) -> InspectReport:
    vm = read_vm(Replay(replies))
    return judge(SOCKET, PID, vm, config_of(cmdline, vm.version))


def test_the_pairs_own_failing_mac_match_is_not_active() -> None:
    """Negotiated and plugged, but the command line gives the primary another MAC: the guest never pairs them."""
    cmdline = recording("active")["cmdline"].replace(
        "e1000e,netdev=primarynet,mac=52:54:00:6f:55:cc", "e1000e,netdev=primarynet,mac=52:54:00:6f:55:dd"
    )
    (pair,) = judged(recording("active")["replies"], cmdline).pairs
    assert pair.verdict is PairVerdict.STANDBY_ONLY
    assert pair.reason == (
        "negotiated and hostdev0 plugged at rp-hostdev0 slot 0.0, but the pair's configuration fails mac-match: "
        "failover is not dependable for this pair"
    )
    assert (pair.migration.unplugs, pair.migration.replugs) == (True, False)
    assert pair.migration.why == "the pair's configuration fails mac-match"


def test_the_primarys_live_mac_decides_too() -> None:
    """QEMU's own `mac` of the primary differs from the standby's: lint's mac-match over the live pair fails."""
    replies = with_replies("active", **{"qom-get|/machine/peripheral/hostdev0|mac": "52:54:00:00:00:01"})
    (pair,) = judged(replies, recording("active")["cmdline"]).pairs
    assert pair.verdict is PairVerdict.STANDBY_ONLY
    assert pair.reason == (
        "the guest does not pair them: e1000e (id hostdev0, live): its MAC 52:54:00:00:00:01 differs from net0's "
        "52:54:00:6f:55:cc: the guest pairs them by MAC"
    )


def test_source_after_a_completed_migration_and_cont_is_not_active() -> None:
    """`cont` on the source: running again, query-migrate still completed (with the source's statistics); QEMU
    keeps the ejected primary in QOM and in query-pci (QEMU 10, recorded), and never plugs it back."""
    replies = with_replies("source-migrated", **{"query-status": {"running": True, "status": "running"}})
    found = judged(replies, recording("source-migrated")["cmdline"])
    (pair,) = found.pairs
    assert found.vm.migrated_out
    assert pair.primary is not None
    assert pair.primary.in_pci is True
    assert (pair.verdict, pair.plugged) == (PairVerdict.STANDBY_ONLY, False)
    assert pair.reason == (
        "hostdev0 was unplugged for a migration that completed: QEMU plugs it back only when a migration fails, "
        "so this source QEMU (now running) keeps it out of the guest"
    )
    assert pair.migration.unplugs is False
    assert "migration: completed (this QEMU was its source); capabilities on: events\n" in render_table(found)
    destination = report("destination-active")
    assert not destination.vm.migrated_out  # the destination's query-migrate has no source statistics
    assert destination.pairs[0].verdict is PairVerdict.ACTIVE


def test_a_primary_query_pci_does_not_list_is_not_plugged() -> None:
    pci = recording("active")["replies"][key("query-pci", None)]["return"]
    emptied = json.loads(json.dumps(pci).replace('"qdev_id": "hostdev0"', '"qdev_id": ""'))
    (pair,) = judged(with_replies("active", **{"query-pci": emptied}), recording("active")["cmdline"]).pairs
    assert (pair.verdict, pair.plugged) == (PairVerdict.STANDBY_ONLY, False)
    assert pair.reason == "QEMU holds hostdev0, but it is not in the guest's PCI tree (query-pci)"


def two_pairs(cmdline: str) -> str:
    """`cmdline` plus a second pair, net1 + hostdev1, whose primary sits at device 3 of its port (slot-zero)."""
    return cmdline + "\0".join(
        [
            "-device", "pcie-root-port,id=rp-net1,bus=pcie.0,chassis=3,slot=3",
            "-device", "pcie-root-port,id=rp-hostdev1,bus=pcie.0,chassis=4,slot=4",
            "-netdev", "user,id=hostnet1",
            "-device", "virtio-net-pci,netdev=hostnet1,id=net1,mac=52:54:00:6f:55:ee,bus=rp-net1,addr=0x0,failover=on",
            "-device", "e1000e,mac=52:54:00:6f:55:ee,romfile=,id=hostdev1,bus=rp-hostdev1,addr=0x3,"
            "failover_pair_id=net1",
            "",
        ]
    )  # fmt: skip


def test_a_pairs_claims_use_its_own_rules_only() -> None:
    """Another pair's failing slot-zero neither demotes net0 nor its migration claim."""
    found = report("active", two_pairs(recording("active")["cmdline"]))
    assert found.config.lint is not None
    assert "slot-zero" in [r.rule_id for r in found.config.lint.results if r.status.value == "fail"]
    (pair,) = found.pairs
    assert pair.verdict is PairVerdict.ACTIVE
    assert (pair.migration.unplugs, pair.migration.replugs) == (True, True)
    assert [r.rule_id for r in pair.checks if r.status.value == "fail"] == []


def plugged_not_negotiated() -> dict[str, Any]:
    """The driver-not-loaded replies, with the primary realized and plugged (a primary QEMU never hid)."""
    active = recording("active")["replies"]
    replies = dict(recording("driver-not-loaded")["replies"])
    replies |= {k: v for k, v in active.items() if "hostdev0" in k or json.loads(k)[0] in ("qom-list", "query-pci")}
    return replies


def test_a_plugged_primary_of_a_standby_not_negotiated_is_not_unplugged() -> None:
    """virtio_net_handle_migration_primary() unplugs only when !failover_primary_hidden (set on negotiation)."""
    (pair,) = judged(plugged_not_negotiated(), recording("driver-not-loaded")["cmdline"]).pairs
    assert (pair.plugged, pair.standby.negotiated, pair.verdict) == (True, False, PairVerdict.STANDBY_ONLY)
    assert (pair.migration.unplugs, pair.migration.replugs) == (False, False)
    assert pair.migration.why == (
        "not negotiated: hostdev0 is plugged, but QEMU unplugs a primary at migration setup only once its standby "
        "negotiated VIRTIO_NET_F_STANDBY, and the destination keeps it hidden as well"
    )


def test_slot_zero_is_lints_rule_over_the_live_placement() -> None:
    (pair,) = report("primary-failed").pairs
    rule = {r.rule_id: r for r in pair.live_checks}["slot-zero"]
    assert (rule.status.value, rule.message) == (
        "fail",
        "e1000e (id hostdev0, live): device 0x3 of port rp-hostdev0: a Linux guest scans device 0 only below a "
        "root or downstream port, so it never sees it (QEMU only warns: PCI: slot 3 is not valid for e1000e, "
        "parent device only allows plugging into slot 0.)",
    )
    # a primary hot-added at device 3 (no configuration names it): the same rule, from what QEMU realized
    found = report("primary-failed", without_primary(recording("primary-failed")["cmdline"]))
    assert found.pairs[0].reason.startswith("primary failed to plug where the guest can see it: QEMU plugged hostdev0")


def test_a_narrow_terminal_wraps_every_row_and_colours_the_verdicts() -> None:
    """Layout(60): each `label  text` row wrapped under its text; colour paints verdicts and FAIL marks only."""
    found = report("primary-failed")
    plain = render_table(found)
    narrow = render_table(found, Layout(width=60))
    assert all(len(line) <= 60 for line in narrow.splitlines())
    assert narrow.split() == plain.split()  # the same words, only wrapped
    assert narrow.splitlines()[:8] == [
        f"inspect {SOCKET}: QEMU 10.0.2 (pid {PID}), running;",
        "  configuration /proc/4242/cmdline",
        "",
        "pair net0 + hostdev0: standby-only",
        "  standby    live: net0 virtio-net-pci failover=on mac",
        "             52:54:00:6f:55:cc at rp-net0 slot 0.0",
        "             configured: net0 mac 52:54:00:6f:55:cc at",
        "             rp-net0 slot 0.0",
    ]
    coloured = render_table(found, Layout(width=60, colour=True))
    assert strip_colour(coloured) == narrow
    assert "pair net0 + hostdev0: \x1b[1;31mstandby-only\x1b[0m" in coloured
    assert "  slot-zero \x1b[1;31mFAIL\x1b[0m: " in coloured
    assert "verdict: \x1b[1;31mstandby-only: a pair has no fast path now (see its\x1b[0m" in coloured
