"""`inspect`'s model and verdicts, from QMP replies recorded in QEMU 10 (`python -m lab.inspect_record`)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest

from pcie_failover.check.command import run_check
from pcie_failover.inspect.judge import judge
from pcie_failover.inspect.model import Config, InspectReport, PairVerdict
from pcie_failover.inspect.read import QUERIES, Recorder, Replay, ReplyError, key, read_event, read_vm
from pcie_failover.inspect.render import render_json, render_table, watch_event_line, watch_pair_line
from pcie_failover.lint.command import run_lint
from pcie_failover.lint.model import ConfigKind
from pcie_failover.model.address import DeviceQuery, MacAddress, PciAddress
from pcie_failover.model.check import CheckOptions, Manager
from pcie_failover.render.layout import Layout, strip_colour
from pcie_failover.sysfs.root import SysfsRoot
from tests.support.cli import SCHEMA, VALIDATOR
from tests.support.qmp import REPLIES, recording
from tests.support.trees import Captures

SOCKET = "/run/vm/qmp.sock"
PID = 4242


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
    assert pair.reason == (
        "hostdev0 is being unplugged for the migration (wait-unplug: QEMU waits for the guest to release it)"
    )
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
    # plugged, and it came in through hiding (standby first): it was negotiated once, so QEMU unplugs it
    assert (plugged.migration.unplugs, plugged.migration.replugs) == (True, None)
    assert plugged.migration.why == (
        f"negotiation unknown ({UNSTABLE}), but hostdev0 came in through failover hiding, so its standby negotiated "
        "once and QEMU unplugs it; the destination plugs it back only if the guest negotiates now"
    )
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


def test_host_check_of_the_primary_is_checks_own_report(captures: Captures) -> None:
    """The vfio-pci configuration (before the lab swapped in the e1000e) checks the VF as `check` does."""
    from lab.inspect_guest import MAC, VF, pair_text

    capture = captures("vtd-acpi")  # a session copy, with what git cannot keep (empty directories) restored
    text = pair_text()
    found = report("driver-not-loaded", text, SysfsRoot(str(capture)))
    host = found.pairs[0].host
    assert host is not None
    assert host.report is not None
    assert host.device == VF
    # lint's options for a primary: the standby's MAC, compared but not asserted an administrator's
    options = CheckOptions(manager=Manager.QEMU, mac=MacAddress.parse(MAC), mac_asserted=False, vf_token=False)
    address = PciAddress.parse(VF)
    assert host.report == run_check(SysfsRoot(str(capture)), DeviceQuery(VF, address, None), options, strict=False)


@pytest.mark.parametrize("state", sorted(p.stem for p in REPLIES.glob("*.json")))
def test_json_document_is_valid(state: str) -> None:
    document = json.loads(render_json(report(state)))
    VALIDATOR.validate(document)
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
    assert [(c["id"], c["status"]) for c in pair["live_checks"]] == [
        ("slot-zero", "pass"), ("mac-match", "pass"), ("standby-mac-unique", "pass"),
    ]  # fmt: skip
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
    line_schema = {"$ref": "#/$defs/inspectWatchLine", "$defs": SCHEMA["$defs"]}
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


def primary_first(cmdline: str) -> str:
    """`cmdline` with the primary's -device moved before its standby's (QEMU never hides the primary)."""
    words = cmdline.split("\0")
    primary = next(i for i, w in enumerate(words) if "failover_pair_id" in w)
    standby = next(i for i, w in enumerate(words) if "failover=on" in w)
    pair = words[primary - 1 : primary + 1]
    del words[primary - 1 : primary + 1]
    words[standby - 1 : standby - 1] = pair
    return "\0".join(words)


def test_a_plugged_primary_qemu_never_hid_unplugs_unknown() -> None:
    """Created before its standby (`order` fails): plugged without hiding; not negotiated now. QEMU unplugs it iff
    the guest negotiated at some point since start (failover_primary_hidden, cleared by the negotiation, is never
    set again by a reset), which no query tells: unknown, never "false" (lab:
    test_a_plugged_primary_of_an_unnegotiated_standby_unplugs_unknown, where QEMU unplugs it after a reset)."""
    (pair,) = judged(plugged_not_negotiated(), primary_first(recording("driver-not-loaded")["cmdline"])).pairs
    assert (pair.plugged, pair.standby.negotiated, pair.verdict) == (True, False, PairVerdict.STANDBY_ONLY)
    assert (pair.migration.unplugs, pair.migration.replugs) == (None, False)
    assert pair.migration.why == NEVER_HIDDEN_WHY
    assert pair.reason == NEVER_HIDDEN_REASON


NEVER_HIDDEN = (
    "hostdev0 is plugged, but QEMU never hid it (it was created before its standby), so whether QEMU unplugs it at "
    "migration setup is unknown: it does iff the guest negotiated VIRTIO_NET_F_STANDBY at some point since QEMU "
    "started (a reset does not undo that), which no query tells"
)
NEVER_HIDDEN_WHY = f"not negotiated: {NEVER_HIDDEN}; the destination keeps it hidden until the guest negotiates"
NEVER_HIDDEN_REASON = (
    "not negotiated: the guest's virtio-net driver has not (or not again, after a reset) acknowledged "
    f"VIRTIO_NET_F_STANDBY, so no failover master pairs them; {NEVER_HIDDEN}"
)


RESET_REASON = (
    "not negotiated since a reset: hostdev0 is plugged (QEMU plugged it when the guest negotiated), but the guest "
    "no longer acknowledges VIRTIO_NET_F_STANDBY, so no failover master pairs them; QEMU still unplugs hostdev0 at "
    "migration setup (a reset does not hide it again), and the destination keeps it hidden until the guest "
    "negotiates: a migration now loses the primary for good"
)
RESET_WHY = (
    "the guest negotiated VIRTIO_NET_F_STANDBY before a reset and no longer does: QEMU still unplugs hostdev0 at "
    "migration setup (a reset does not hide it again), and the destination keeps it hidden until the guest "
    "negotiates: a migration now loses the primary for good"
)


@pytest.mark.parametrize("cmdline", ["configured", "added-at-runtime"])
def test_after_a_reset_a_primary_that_came_in_hidden_is_still_unplugged(cmdline: str) -> None:
    """Standby first (or the primary added at runtime): QEMU hid it and plugged it on a negotiation; a reset
    leaves failover_primary_hidden false, so a migration unplugs it and the destination, not negotiated, hides it
    (lab: test_a_pause_and_a_reset)."""
    text = recording("driver-not-loaded")["cmdline"]
    (pair,) = judged(plugged_not_negotiated(), text if cmdline == "configured" else without_primary(text)).pairs
    assert (pair.plugged, pair.standby.negotiated, pair.verdict) == (True, False, PairVerdict.STANDBY_ONLY)
    assert (pair.migration.unplugs, pair.migration.replugs, pair.migration.why) == (True, False, RESET_WHY)
    assert pair.reason == RESET_REASON


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


def test_a_paused_vm_is_undetermined() -> None:
    """`stop`: QEMU still says negotiated and plugged, but no guest runs (lab: test_a_pause_and_a_reset)."""
    replies = with_replies("active", **{"query-status": {"running": False, "status": "paused"}})
    found = judged(replies, recording("active")["cmdline"])
    (pair,) = found.pairs
    assert (pair.verdict, found.verdict) == (PairVerdict.UNDETERMINED, PairVerdict.UNDETERMINED)
    assert pair.reason == (
        "the VM is paused: its guest does not run, so no path carries traffic and inspect does not judge failover "
        "(QEMU's view now: negotiated yes; hostdev0 plugged at rp-hostdev0 slot 0.0)"
    )
    assert (pair.migration.unplugs, pair.migration.replugs) == (True, True)
    assert json.loads(render_json(found))["qemu"]["runstate"] == "paused"
    line = json.loads(watch_pair_line(pair, 6.0, True, "paused"))
    assert (line["runstate"], line["verdict"]) == ("paused", "undetermined")
    jsonschema.validate(line, {"$ref": "#/$defs/inspectWatchLine", "$defs": SCHEMA["$defs"]})


@pytest.mark.parametrize(
    ("state", "runstate", "shown"),
    [
        ("active", "shutdown", "negotiated yes; hostdev0 plugged at rp-hostdev0 slot 0.0"),
        ("active", "guest-panicked", "negotiated yes; hostdev0 plugged at rp-hostdev0 slot 0.0"),
        ("active", "internal-error", "negotiated yes; hostdev0 plugged at rp-hostdev0 slot 0.0"),
        ("active", "io-error", "negotiated yes; hostdev0 plugged at rp-hostdev0 slot 0.0"),
        ("driver-not-loaded", "paused", "negotiated no; hostdev0 not plugged"),
        ("no-virtio-status-hidden", "suspended", "negotiated unknown; hostdev0 not plugged"),
    ],
)
def test_a_vm_not_running_is_undetermined(state: str, runstate: str, shown: str) -> None:
    replies = with_replies(state, **{"query-status": {"running": False, "status": runstate}})
    (pair,) = judged(replies, recording(state)["cmdline"]).pairs
    assert pair.verdict is PairVerdict.UNDETERMINED
    assert pair.reason == (
        f"the VM is {runstate}: its guest does not run, so no path carries traffic and inspect does not judge "
        f"failover (QEMU's view now: {shown})"
    )


def test_a_paused_source_after_its_migration_is_judged_by_the_migration() -> None:
    """postmigrate (and a migration in progress) is explained by migration handling, not `undetermined`."""
    (pair,) = report("source-migrated").pairs
    assert pair.verdict is PairVerdict.STANDBY_ONLY


# QEMU 10's qapi/migration.json MigrationStatus, but none, completed, failed and cancelled (and 10.2's two)
IN_PROGRESS = [
    "setup", "cancelling", "active", "postcopy-active", "postcopy-paused", "postcopy-recover-setup",
    "postcopy-recover", "colo", "pre-switchover", "device", "wait-unplug", "postcopy-device", "postcopy-setup",
]  # fmt: skip


@pytest.mark.parametrize("status", IN_PROGRESS)
def test_every_migration_status_in_progress_holds_the_primary_out(status: str) -> None:
    replies = with_replies("active", **{"query-migrate": {"status": status}})
    found = judged(replies, recording("active")["cmdline"])
    (pair,) = found.pairs
    assert found.vm.migrating
    assert (pair.verdict, pair.plugged) == (PairVerdict.STANDBY_ONLY, False)
    if status != "wait-unplug":
        assert pair.reason == (
            f"hostdev0 unplugged for the migration in progress ({status}) (QEMU keeps the device, to plug it back "
            "should the migration fail)"
        )


@pytest.mark.parametrize("status", ["none", "completed", "failed", "cancelled"])
def test_a_migration_over_or_never_started_is_not_in_progress(status: str) -> None:
    replies = with_replies("active", **{"query-migrate": {"status": status}})
    (pair,) = judged(replies, recording("active")["cmdline"]).pairs
    assert pair.verdict is PairVerdict.ACTIVE


def virtio_primary() -> dict[str, Any]:
    """The active replies with hostdev0 a virtio-net-pci (failover off) naming net0, as QEMU 10 realizes it."""
    listing = key("qom-list", {"path": "/machine/peripheral"})
    entries = recording("active")["replies"][listing]["return"]
    retyped = [e | {"type": "child<virtio-net-pci>"} if e["name"] == "hostdev0" else e for e in entries]
    replies = with_replies("active", **{"qom-get|/machine/peripheral/hostdev0|failover": False})
    return replies | {listing: {"return": retyped}}


def test_a_virtio_net_primary_is_read_and_never_paired() -> None:
    """net_failover_slave_pre_register(): a primary's netdev must hang off a PCI device; a virtio-net's does not."""
    found = judged(virtio_primary(), recording("active")["cmdline"].replace("e1000e,", "virtio-net-pci,"))
    (pair,) = found.pairs
    assert pair.primary is not None
    assert (pair.primary.driver, pair.plugged, pair.verdict) == ("virtio-net-pci", True, PairVerdict.STANDBY_ONLY)
    assert pair.reason == (
        "the guest does not pair them: hostdev0 is a virtio-net-pci, and net_failover takes only a PCI network "
        "device as primary (net_failover_slave_pre_register(): the netdev's parent must be a PCI device; a "
        "virtio-net's is its virtio device)"
    )


def test_qom_get_null_is_a_reply_qemu_never_sends() -> None:
    replies = with_replies("active", **{"qom-get|/machine/peripheral/net0|failover": None})
    with pytest.raises(ReplyError) as caught:
        read_vm(Replay(replies))
    assert str(caught.value) == "qom-get /machine/peripheral/net0 failover: null where QEMU sends a boolean"


def second_standby(replies: dict[str, Any], mac: str) -> dict[str, Any]:
    """`replies` plus net1, a negotiated failover standby on rp-net1 with `mac` (no primary)."""
    out = dict(replies)
    for name, value in replies.items():
        if "/machine/peripheral/net0" in name:
            out[name.replace("/machine/peripheral/net0", "/machine/peripheral/net1")] = value
    out[key("qom-get", {"path": "/machine/peripheral/net1", "property": "mac"})] = {"return": mac}
    bus = key("qom-get", {"path": "/machine/peripheral/net1", "property": "parent_bus"})
    out[bus] = {"return": "/machine/peripheral/rp-net1/rp-net1"}
    listing = key("qom-list", {"path": "/machine/peripheral"})
    out[listing] = {"return": [*replies[listing]["return"], {"name": "net1", "type": "child<virtio-net-pci>"}]}
    return out


def test_a_standby_sharing_its_mac_with_another_pair_is_not_active() -> None:
    """Two failover standbys of one MAC: the guest hands every primary of that MAC to the first master
    (failover_get_bymac()); lint's standby-mac-unique fails, and each pair sees the finding that names it."""
    mac = "52:54:00:6f:55:cc"
    cmdline = (
        two_pairs(recording("active")["cmdline"]).replace("52:54:00:6f:55:ee", mac).replace("addr=0x3", "addr=0x0")
    )
    found = judged(recording("active")["replies"], cmdline)
    assert found.config.lint is not None
    failing = {r.rule_id: r.message for r in found.config.lint.results if r.status.value == "fail"}
    message = (
        f"-device virtio-net-pci (id net0) and -device virtio-net-pci (id net1) share MAC {mac}: the guest pairs a "
        "primary with the first failover master of its MAC (failover_get_bymac()), so these pairs are not told apart"
    )
    assert failing == {"standby-mac-unique": message}
    (pair,) = found.pairs
    assert [(r.rule_id, r.message) for r in pair.checks if r.status.value == "fail"] == [
        ("standby-mac-unique", message)
    ]
    assert pair.verdict is PairVerdict.STANDBY_ONLY
    assert (pair.migration.unplugs, pair.migration.replugs) == (True, False)
    # QEMU's view alone (net1 live, of the same MAC): the live rule says so, configured or not
    live = judged(second_standby(recording("active")["replies"], mac), two_pairs(recording("active")["cmdline"]))
    net0, net1 = live.pairs
    assert (net0.verdict, net1.verdict) == (PairVerdict.STANDBY_ONLY, PairVerdict.STANDBY_ONLY)
    assert net0.reason == (
        "the guest cannot tell the pairs apart: virtio-net-pci (id net0, live) and virtio-net-pci (id net1, live) "
        f"share MAC {mac}: the guest pairs a primary with the first failover master of its MAC "
        "(failover_get_bymac()), so these pairs are not told apart"
    )
    other = judged(second_standby(recording("active")["replies"], "52:54:00:6f:55:ee"), cmdline.replace(
        f"id=net1,mac={mac}", "id=net1,mac=52:54:00:6f:55:ee"))  # fmt: skip
    assert other.pairs[0].verdict is PairVerdict.ACTIVE


def with_device(replies: dict[str, Any], device_id: str, driver: str, **props: Any) -> dict[str, Any]:
    """`replies` plus a device `device_id` (QOM type `driver`) with QOM properties `props`, listed by query-pci
    (as a device_add at runtime leaves it)."""
    out = dict(replies)
    listing = key("qom-list", {"path": "/machine/peripheral"})
    out[listing] = {"return": [*replies[listing]["return"], {"name": device_id, "type": f"child<{driver}>"}]}
    for prop, value in props.items():
        out[key("qom-get", {"path": f"/machine/peripheral/{device_id}", "property": prop})] = {"return": value}
    pci = key("query-pci", None)
    buses = copy.deepcopy(replies[pci]["return"])
    buses[0]["devices"].append({"bus": 0, "slot": 9, "function": 0, "qdev_id": device_id, "regions": []})
    out[pci] = {"return": buses}
    return out


def orphan(replies: dict[str, Any], driver: str = "e1000e", **extra: Any) -> dict[str, Any]:
    """`replies` plus hostdev9, a `driver` with failover_pair_id=net9 on rp-hostdev9 (device_add at runtime)."""
    props = {"failover_pair_id": "net9", "parent_bus": "/machine/peripheral/rp-hostdev9/rp-hostdev9", "addr": 0}
    props |= {"host": "0000:01:10.0"} if driver == "vfio-pci" else {"mac": "52:54:00:aa:bb:cc"}
    return with_device(replies, "hostdev9", driver, **props, **extra)


ORPHAN = (
    "no failover standby: hostdev9 ({driver}) has failover_pair_id=net9, but {what}: QEMU never hides it and never "
    "unplugs it for a migration, and no guest failover master pairs it"
)
BLOCKER = (
    "; being a vfio-pci with failover_pair_id, it has no vfio migration blocker, so a migration is not refused and "
    "carries no failover"
)


@pytest.mark.parametrize(
    ("named", "driver", "what"),
    [
        (None, "e1000e", "this VM has no device net9"),
        ("virtio-net-pci", "e1000e", "net9 is a virtio-net-pci with failover=off"),
        ("e1000e", "vfio-pci", "net9 is a e1000e, not a virtio-net-pci with failover=on"),
    ],
)
def test_a_primary_of_no_failover_standby_is_reported_not_configured(named: str | None, driver: str, what: str) -> None:
    """device_add ...,failover_pair_id=net9 on a healthy VM, net9 absent or not a failover standby: no failover
    listener hides it and nothing unplugs it for a migration; its own entry, not-configured (exit 1)."""
    replies = recording("active")["replies"]
    if named is not None:
        replies = with_device(replies, "net9", named, failover=False, mac="52:54:00:aa:bb:cc")
    found = judged(orphan(replies, driver), recording("active")["cmdline"])
    (pair,) = found.pairs
    assert pair.verdict is PairVerdict.ACTIVE
    (lost,) = found.orphans
    assert (lost.primary.id, lost.primary.pair_id, lost.named, lost.verdict) == (
        "hostdev9", "net9", named, PairVerdict.NOT_CONFIGURED,
    )  # fmt: skip
    assert lost.reason == ORPHAN.format(driver=driver, what=what) + (BLOCKER if driver == "vfio-pci" else "")
    assert found.verdict is PairVerdict.NOT_CONFIGURED
    document = json.loads(render_json(found))
    VALIDATOR.validate(document)
    assert document["verdict"] == "not-configured"
    assert document["orphans"] == [
        {
            "id": "hostdev9", "driver": driver, "failover_pair_id": "net9", "named": named, "bus": "rp-hostdev9",
            "slot": 0, "function": 0, "host": "0000:01:10.0" if driver == "vfio-pci" else None,
            "mac": None if driver == "vfio-pci" else "52:54:00:aa:bb:cc", "in_pci": True,
            "verdict": "not-configured", "reason": lost.reason,
        }
    ]  # fmt: skip
    table = render_table(found)
    assert "\nprimary hostdev9 (failover_pair_id=net9, no failover standby): not-configured\n" in table
    assert f"  reason     {lost.reason}\n" in table


def without_pair(cmdline: str) -> str:
    """The command line without its standby's and its primary's -device (both added at runtime)."""
    words = cmdline.split("\0")
    at = [i for i, w in enumerate(words) if "failover_pair_id" in w or "failover=on" in w]
    return "\0".join(w for i, w in enumerate(words) if i not in at and i + 1 not in at)


def test_a_pair_added_at_runtime_is_judged_on_what_qemu_built() -> None:
    """device_add of the standby and its primary: not in the configuration, so its rules (scoped from the
    command line, where the pair is absent) do not judge it; the live rules do."""
    cmdline = without_pair(recording("active")["cmdline"])
    assert "id=net0" not in cmdline
    assert "id=hostdev0" not in cmdline
    found = judged(recording("active")["replies"], cmdline)
    (pair,) = found.pairs
    assert (pair.verdict, pair.checks) == (PairVerdict.ACTIVE, ())
    assert pair.runtime
    assert pair.reason == (
        "negotiated; hostdev0 plugged at rp-hostdev0 slot 0.0; added at runtime: judged on what QEMU built (the "
        "configuration has not this pair's standby)"
    )
    assert (pair.migration.unplugs, pair.migration.replugs) == (True, None)
    assert pair.migration.why == (
        "the pair net0 + hostdev0 was added at runtime (its standby is not in the configuration): the destination "
        "plugs the primary back only if its own command line (or a device_add there) has the pair"
    )
    assert "  rules      added at runtime: judged on what QEMU built (the configuration has not this pair)\n" in (
        render_table(found)
    )
    # the live rules still apply: the primary at device 3 of its port is not active, added at runtime or not
    (failed,) = judged(recording("primary-failed")["replies"], cmdline).pairs
    assert (failed.verdict, failed.runtime) == (PairVerdict.STANDBY_ONLY, True)
    assert failed.reason.startswith("primary failed to plug where the guest can see it:")


def test_a_live_check_that_cannot_be_made_is_not_active() -> None:
    """A vfio-pci primary whose VF's MAC nobody read (added at runtime, or --no-host): mac-match is unknown, so
    'active' would claim more than is known (fourth review)."""
    from pcie_failover.inspect.judge import _judge
    from pcie_failover.model.results import RuleResult, Severity, Status

    vm = read_vm(Replay(recording("active")["replies"]))
    (standby,) = vm.standbys
    (primary,) = vm.primaries
    unknown = RuleResult("mac-match", Severity.FAIL, Status.UNKNOWN, "the VF's admin MAC was not read")
    passes = tuple(RuleResult(rule, Severity.FAIL, Status.PASS, "ok") for rule in ("slot-zero", "standby-mac-unique"))
    verdict, reason = _judge(
        vm, standby, primary, name=primary.id, checks=(), live_checks=(*passes, unknown), came_hidden=True,
        runtime=True,
    )  # fmt: skip
    assert (verdict, reason) == (
        PairVerdict.UNDETERMINED,
        f"negotiated and {primary.id} plugged at {primary.placement.text}, but mac-match could not be checked: "
        "the VF's admin MAC was not read",
    )
