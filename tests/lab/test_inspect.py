"""`inspect` on real QEMU 10 guests: each state produced for real and read back (lab/inspect_guest.py).

One migration pair of guests walks through: driver not loaded, driver loaded, migration (both sides),
with `inspect --watch` following the source throughout; one more guest has its primary at device 3.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lab import failover, inspect_guest
from lab.capture import REPO, LabEnv
from lab.guest import Guest
from lab.inspect_record import load_and_pair, migrate
from lab.qmp import Event

MIGRATION = 300.0
CLI = [sys.executable, "-m", "pcie_failover"]  # `pcie-failover inspect ...`


@pytest.fixture(scope="module")
def lab(lab_env: LabEnv) -> LabEnv:
    """The lab environment with the inspect guest's initramfs (virtio_net loaded on request)."""
    return replace(lab_env, initrd=inspect_guest.build_initramfs(lab_env.kernel, lab_env.cache))


def inspect(guest: Guest) -> tuple[int, dict[str, Any]]:
    """`inspect --qmp` of the guest's second monitor, as JSON (the command line from /proc/PID/cmdline)."""
    socket = guest.spec.workdir / inspect_guest.MONITOR
    done = subprocess.run(
        [*CLI, "inspect", "--qmp", str(socket), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.stderr == ""
    document = json.loads(done.stdout)
    assert isinstance(document, dict)
    assert document["input"]["config"] == f"/proc/{document['input']['pid']}/cmdline"
    return done.returncode, document


def pair_of(document: dict[str, Any]) -> dict[str, Any]:
    """The VM's one pair, net0 + hostdev0."""
    pair: dict[str, Any]
    (pair,) = document["pairs"]
    assert pair["standby"]["id"] == "net0"
    assert pair["primary"]["id"] == "hostdev0"
    return pair


def _status(value: str) -> Any:
    def where(event: Event) -> bool:
        data = event.get("data")
        return isinstance(data, dict) and data.get("status") == value

    return where


@pytest.mark.lab
def test_states_through_a_migration(lab: LabEnv, tmp_path: Path) -> None:  # noqa: PLR0915 (one boot, every state)
    args = inspect_guest.lab_args()
    socket = tmp_path / "migrate.sock"
    source = Guest(inspect_guest.spec("insp-src", tmp_path / "src", lab.kernel, lab.initrd, args))
    target = Guest(
        inspect_guest.spec("insp-dst", tmp_path / "dst", lab.kernel, lab.initrd, [*args, "-incoming", f"unix:{socket}"])
    )
    with source, target:
        source.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)
        code, document = inspect(source)
        pair = pair_of(document)
        assert (code, pair["verdict"], pair["negotiated"], pair["primary"]["plugged"]) == (
            1,
            "standby-only",
            False,
            False,
        )
        assert pair["standby"]["offered"] is True
        assert pair["reason"].startswith("not negotiated:")
        assert pair["configured"]["primary"]["bus"] == "rp-hostdev0"

        watch_socket = source.spec.workdir / inspect_guest.WATCH_MONITOR
        watch = subprocess.Popen(
            [*CLI, "inspect", "--qmp", str(watch_socket), "--watch", "--format", "json"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        try:
            assert watch.stdout is not None
            first = json.loads(watch.stdout.readline())  # printed once it has read the VM
            assert (first["kind"], first["verdict"]) == ("pair", "standby-only")

            load_and_pair(source)  # the guest kernel registers master, standby and primary
            code, document = inspect(source)
            pair = pair_of(document)
            assert (code, pair["verdict"], pair["negotiated"], pair["primary"]["plugged"]) == (0, "active", True, True)
            assert (pair["primary"]["bus"], pair["primary"]["slot"]) == ("rp-hostdev0", 0)
            assert pair["migration"] == {
                "unplugs": True,
                "replugs": True,
                "why": "the destination plugs the primary once the negotiated features arrive",
            }

            migrate(source, target, socket)
            source.qmp.wait_event("UNPLUG_PRIMARY", timeout=60)
            code, document = inspect(source)
            pair = pair_of(document)
            assert document["migration"]["in_progress"] is True
            assert (code, pair["verdict"], pair["primary"]["plugged"]) == (1, "standby-only", False)
            if document["migration"]["status"] == "wait-unplug":  # QEMU waits for the guest to release it
                assert pair["reason"] == (
                    "hostdev0 is being unplugged for the migration (wait-unplug: QEMU waits for the guest to "
                    "release it)"
                )
            else:
                assert "for the migration in progress" in pair["reason"]

            source.qmp.wait_event("MIGRATION", timeout=MIGRATION, where=_status("completed"))
            code, document = inspect(source)
            pair = pair_of(document)
            assert (document["qemu"]["runstate"], pair["verdict"], pair["primary"]["plugged"]) == (
                "postmigrate", "standby-only", False,
            )  # fmt: skip
            target.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=MIGRATION)
            target.wait_for(failover.PRIMARY, timeout=MIGRATION)  # back in the destination's guest kernel
            code, document = inspect(target)
            pair = pair_of(document)
            assert (code, pair["verdict"], pair["negotiated"], pair["primary"]["plugged"]) == (0, "active", True, True)
            assert document["migration"]["migrated_out"] is False

            source.qmp.execute("cont")  # the source runs again: QEMU keeps the ejected primary in QOM and query-pci
            code, document = inspect(source)
            pair = pair_of(document)
            assert (document["qemu"]["runstate"], document["migration"]["migrated_out"]) == ("running", True)
            assert (code, pair["verdict"], pair["primary"]["plugged"], pair["primary"]["held"]) == (
                1, "standby-only", False, True,
            )  # fmt: skip
            assert pair["primary"]["in_pci"] is True
            assert pair["reason"] == (
                "hostdev0 was unplugged for a migration that completed: QEMU plugs it back only when a migration "
                "fails, so this source QEMU (now running) keeps it out of the guest"
            )
        finally:
            watch.send_signal(signal.SIGTERM)
            out, _ = watch.communicate(timeout=30)
        lines = [json.loads(line) for line in out.splitlines()]
        events = [line["event"] for line in lines if line["kind"] == "event"]
        assert events[0] == "FAILOVER_NEGOTIATED"
        assert "UNPLUG_PRIMARY" in events
        assert ("MIGRATION", "completed") in [
            (e["event"], e["data"].get("status")) for e in lines if e["kind"] == "event"
        ]
        verdicts = [line["verdict"] for line in lines if line["kind"] == "pair"]
        assert verdicts[:2] == ["active", "standby-only"]
        assert watch.returncode == 143  # SIGTERM


def _negotiate(guest: Guest, tmp_path: Path) -> None:
    """Boot to the waiting guest, load virtio_net there, and wait until QEMU and the guest say it negotiated."""
    guest.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)
    inspect_guest.load_driver(tmp_path)
    guest.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=60)
    guest.wait_for(failover.STANDBY, timeout=60)


@pytest.mark.lab
def test_primary_qemu_cannot_plug_where_the_guest_looks(lab: LabEnv, tmp_path: Path) -> None:
    args = inspect_guest.lab_args(primary_slot=3)
    with Guest(inspect_guest.spec("insp-slot3", tmp_path, lab.kernel, lab.initrd, args)) as guest:
        _negotiate(guest, tmp_path)
        code, document = inspect(guest)
        pair = pair_of(document)
        assert (code, pair["verdict"], pair["negotiated"]) == (1, "standby-only", True)
        assert (pair["primary"]["bus"], pair["primary"]["slot"]) == ("rp-hostdev0", 3)
        assert pair["reason"].startswith("primary failed to plug where the guest can see it:")
        assert pair["reason"].endswith("; the configuration fails slot-zero")
        assert failover.PRIMARY not in guest.spec.serial_log.read_text()


def _without_primary(args: list[str]) -> list[str]:
    """The lab arguments without the primary's -device (its netdev stays, for a device_add)."""
    out: list[str] = []
    for option, value in zip(args[::2], args[1::2], strict=True):
        if not (option == "-device" and "failover_pair_id" in value):
            out += [option, value]
    return out


@pytest.mark.lab
def test_a_primary_added_at_runtime(lab: LabEnv, tmp_path: Path) -> None:
    """device_add before negotiation: QEMU hides it (in no reply); the verdict is standby-only, not
    not-configured; once the guest negotiates, QEMU plugs it and inspect reports it from QOM."""
    args = _without_primary(inspect_guest.lab_args())
    with Guest(inspect_guest.spec("insp-hotadd", tmp_path, lab.kernel, lab.initrd, args)) as guest:
        guest.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)
        primary = {"driver": "e1000e", "id": "hostdev0", "bus": "rp-hostdev0", "addr": "0x0", "romfile": ""}
        primary |= {"netdev": failover.PRIMARY_NETDEV, "mac": inspect_guest.MAC, "failover_pair_id": "net0"}
        guest.qmp.execute("device_add", primary)
        code, document = inspect(guest)
        (pair,) = document["pairs"]
        assert (code, pair["verdict"], pair["primary"]["id"], pair["configured"]["primary"]) == (
            1, "standby-only", None, None,
        )  # fmt: skip
        assert pair["reason"] == (
            "not negotiated: the guest has not acknowledged VIRTIO_NET_F_STANDBY; no primary shows: the "
            "configuration names none, and one added at runtime (device_add ... failover_pair_id=net0) stays "
            "hidden, in no QMP reply, until then"
        )
        load_and_pair(guest)  # QEMU plugs the hidden primary on negotiation; the guest pairs it
        code, document = inspect(guest)
        pair = pair_of(document)
        assert (code, pair["verdict"], pair["primary"]["plugged"], pair["configured"]["primary"]) == (
            0, "active", True, None,
        )  # fmt: skip
        assert (pair["migration"]["unplugs"], pair["migration"]["replugs"]) == (True, None)


@pytest.mark.lab
def test_a_primary_with_another_mac_is_not_active(lab: LabEnv, tmp_path: Path) -> None:
    """Negotiated and plugged, but the primary's MAC differs: net_failover never pairs them."""
    other = "52:54:00:6f:55:dd"
    args = [a.replace(f"e1000e,netdev=primarynet,mac={inspect_guest.MAC}", f"e1000e,netdev=primarynet,mac={other}")
            for a in inspect_guest.lab_args()]  # fmt: skip
    assert any(other in a for a in args)
    with Guest(inspect_guest.spec("insp-mac", tmp_path, lab.kernel, lab.initrd, args)) as guest:
        _negotiate(guest, tmp_path)
        code, document = inspect(guest)
        pair = pair_of(document)
        assert (code, pair["verdict"], pair["negotiated"], pair["primary"]["plugged"]) == (
            1, "standby-only", True, True,
        )  # fmt: skip
        assert pair["primary"]["mac"] == other
        assert pair["reason"] == (
            f"the guest does not pair them: e1000e (id hostdev0, live): its MAC {other} differs from net0's "
            f"{inspect_guest.MAC}: the guest pairs them by MAC"
        )
        assert "mac-match" in [c["id"] for c in pair["checks"] if c["status"] == "fail"]
        assert failover.PRIMARY not in guest.spec.serial_log.read_text()


NEVER_HIDDEN = (
    "hostdev0 is plugged, but QEMU never hid it (it was created before its standby), so whether QEMU unplugs it at "
    "migration setup is unknown: it does iff the guest negotiated VIRTIO_NET_F_STANDBY at some point since QEMU "
    "started (a reset does not undo that), which no query tells"
)


@pytest.mark.lab
def test_a_plugged_primary_of_an_unnegotiated_standby_unplugs_unknown(lab: LabEnv, tmp_path: Path) -> None:
    """The primary's -device before its standby's: QEMU never hides it, so it is plugged at boot. The guest then
    negotiates and is reset, and does not negotiate again: QEMU still unplugs the primary at migration setup (the
    negotiation cleared failover_primary_hidden, whatever the creation order, and no reset sets it again). Not
    negotiated now and never hidden: inspect cannot tell whether the guest negotiated once, so `unplugs` is null,
    never false."""
    args = [*inspect_guest.lab_args(), "-action", "reboot=reset"]  # after -no-reboot: system_reset resets
    pairs = list(zip(args[::2], args[1::2], strict=True))
    primary = next(p for p in pairs if p[0] == "-device" and "failover_pair_id" in p[1])
    standby = next(p for p in pairs if p[0] == "-device" and "failover=on" in p[1])
    pairs.remove(primary)
    pairs.insert(pairs.index(standby), primary)
    reordered = [word for pair in pairs for word in pair]
    socket = tmp_path / "migrate.sock"
    source = Guest(inspect_guest.spec("insp-order", tmp_path / "src", lab.kernel, lab.initrd, reordered))
    target = Guest(
        inspect_guest.spec(
            "insp-order-dst", tmp_path / "dst", lab.kernel, lab.initrd, [*reordered, "-incoming", f"unix:{socket}"]
        )
    )
    reason = (
        "not negotiated: the guest's virtio-net driver has not (or not again, after a reset) acknowledged "
        f"VIRTIO_NET_F_STANDBY, so no failover master pairs them; {NEVER_HIDDEN}"
    )
    with source, target:
        source.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)
        code, document = inspect(source)
        pair = pair_of(document)
        assert (code, pair["verdict"], pair["negotiated"], pair["primary"]["plugged"]) == (
            1, "standby-only", False, True,
        )  # fmt: skip
        assert (pair["migration"]["unplugs"], pair["migration"]["replugs"]) == (None, False)
        assert pair["reason"] == reason
        assert "order" in [c["id"] for c in pair["checks"] if c["status"] == "fail"]

        inspect_guest.load_driver(source.spec.workdir)
        source.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=60)
        source.qmp.execute("system_reset")
        source.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)  # booted again; virtio_net not loaded
        code, document = inspect(source)
        pair = pair_of(document)
        assert (code, pair["verdict"], pair["negotiated"], pair["primary"]["plugged"]) == (
            1, "standby-only", False, True,
        )  # fmt: skip
        assert (pair["migration"]["unplugs"], pair["migration"]["replugs"]) == (None, False)
        assert pair["reason"] == reason

        migrate(source, target, socket)
        event = source.qmp.wait_event("UNPLUG_PRIMARY", timeout=60)  # why "false" was wrong: QEMU unplugs it
        assert event["data"] == {"device-id": "hostdev0"}


@pytest.mark.lab
def test_an_orphan_primary_then_its_standby_added_at_runtime(lab: LabEnv, tmp_path: Path) -> None:
    """On a healthy VM, `device_add e1000e,id=hostdev9,failover_pair_id=net9` with no net9: QEMU plugs it at once
    (no failover standby hides it) and never unplugs it for a migration; inspect reports it, not-configured, exit 1.
    Then `device_add virtio-net-pci,id=net9,failover=on`: the guest negotiates and pairs them; the pair is in no
    configuration, so it is judged on what QEMU built: active."""
    mac = "52:54:00:aa:bb:cc"
    args = [
        *inspect_guest.lab_args(),
        "-device", "pcie-root-port,id=rp-hostdev9,bus=pcie.0,chassis=11,slot=11",
        "-device", "pcie-root-port,id=rp-net9,bus=pcie.0,chassis=12,slot=12",
        "-netdev", "user,id=n9,restrict=on", "-netdev", "user,id=p9,restrict=on",
    ]  # fmt: skip
    with Guest(inspect_guest.spec("insp-orphan", tmp_path, lab.kernel, lab.initrd, args)) as guest:
        guest.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)
        load_and_pair(guest)
        assert inspect(guest)[0] == 0
        primary = {"driver": "e1000e", "id": "hostdev9", "bus": "rp-hostdev9", "addr": "0x0", "romfile": ""}
        guest.qmp.execute("device_add", primary | {"netdev": "p9", "mac": mac, "failover_pair_id": "net9"})
        code, document = inspect(guest)
        assert (code, document["verdict"], pair_of(document)["verdict"]) == (1, "not-configured", "active")
        assert document["orphans"] == [
            {
                "id": "hostdev9", "driver": "e1000e", "failover_pair_id": "net9", "named": None,
                "bus": "rp-hostdev9", "slot": 0, "function": 0, "host": None, "mac": mac, "in_pci": True,
                "verdict": "not-configured",
                "reason": "no failover standby: hostdev9 (e1000e) has failover_pair_id=net9, but this VM has no "
                "device net9: QEMU never hides it and never unplugs it for a migration, and no guest failover "
                "master pairs it",
            }
        ]  # fmt: skip

        standby = {"driver": "virtio-net-pci", "id": "net9", "bus": "rp-net9", "addr": "0x0", "failover": True}
        guest.qmp.execute("device_add", standby | {"netdev": "n9", "mac": mac})
        guest.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=60, where=lambda e: e.get("data") == {"device-id": "net9"})
        for pattern in (failover.MASTER, failover.PRIMARY, failover.STANDBY):  # the existing primary first
            guest.wait_for(pattern, timeout=60)  # the guest pairs net9 with the e1000e of its MAC
        code, document = inspect(guest)
        net9 = next(p for p in document["pairs"] if p["standby"]["id"] == "net9")
        assert (code, document["verdict"], document["orphans"]) == (0, "active", [])
        assert (net9["verdict"], net9["primary"]["id"], net9["checks"]) == ("active", "hostdev9", [])
        assert net9["reason"] == (
            "negotiated; hostdev9 plugged at rp-hostdev9 slot 0.0; added at runtime: judged on what QEMU built "
            "(the configuration has not this pair's standby)"
        )
        assert (net9["migration"]["unplugs"], net9["migration"]["replugs"]) == (True, None)


@pytest.mark.lab
def test_a_pause_and_a_reset(lab: LabEnv, tmp_path: Path) -> None:
    """Paused (`stop`): undetermined, exit 4. Then a reset after negotiation: the guest boots without virtio_net,
    the primary stays plugged, and QEMU still unplugs it at migration (failover_primary_hidden is not reset); the
    destination, not negotiated, keeps it hidden."""
    args = [*inspect_guest.lab_args(), "-action", "reboot=reset"]  # after -no-reboot: system_reset resets
    socket = tmp_path / "migrate.sock"
    source = Guest(inspect_guest.spec("insp-reset", tmp_path / "src", lab.kernel, lab.initrd, args))
    target = Guest(
        inspect_guest.spec(
            "insp-reset-dst", tmp_path / "dst", lab.kernel, lab.initrd, [*args, "-incoming", f"unix:{socket}"]
        )
    )
    with source, target:
        source.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)
        load_and_pair(source)
        assert inspect(source)[0] == 0

        source.qmp.execute("stop")
        code, document = inspect(source)
        pair = pair_of(document)
        assert (code, document["qemu"]["runstate"], pair["verdict"], document["verdict"]) == (
            4, "paused", "undetermined", "undetermined",
        )  # fmt: skip
        assert pair["reason"] == (
            "the VM is paused: its guest does not run, so no path carries traffic and inspect does not judge "
            "failover (QEMU's view now: negotiated yes; hostdev0 plugged at rp-hostdev0 slot 0.0)"
        )
        source.qmp.execute("cont")
        assert inspect(source)[0] == 0

        source.qmp.execute("system_reset")
        source.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)  # booted again; virtio_net not loaded
        code, document = inspect(source)
        pair = pair_of(document)
        assert (code, pair["verdict"], pair["negotiated"], pair["primary"]["plugged"]) == (
            1, "standby-only", False, True,
        )  # fmt: skip
        assert (pair["migration"]["unplugs"], pair["migration"]["replugs"]) == (True, False)
        assert pair["reason"] == (
            "not negotiated since a reset: hostdev0 is plugged (QEMU plugged it when the guest negotiated), but "
            "the guest no longer acknowledges VIRTIO_NET_F_STANDBY, so no failover master pairs them; QEMU still "
            "unplugs hostdev0 at migration setup (a reset does not hide it again), and the destination keeps it "
            "hidden until the guest negotiates: a migration now loses the primary for good"
        )

        migrate(source, target, socket)
        source.qmp.wait_event("UNPLUG_PRIMARY", timeout=60)  # what inspect said: QEMU unplugs it
        source.qmp.wait_event("MIGRATION", timeout=MIGRATION, where=_status("completed"))
        target.qmp.wait_event("RESUME", timeout=MIGRATION)
        code, document = inspect(target)
        pair = pair_of(document)
        assert (code, pair["verdict"], pair["negotiated"], pair["primary"]["held"]) == (
            1, "standby-only", False, False,
        )  # fmt: skip
        assert pair["reason"].startswith("not negotiated: the guest has not acknowledged VIRTIO_NET_F_STANDBY")


@pytest.mark.lab
def test_two_standbys_of_one_mac_are_not_active(lab: LabEnv, tmp_path: Path) -> None:
    """A second pair, net1 + hostdev1, with net0's MAC: the guest's failover_get_bymac() hands every primary of
    that MAC to the first master; lint's standby-mac-unique fails and neither pair is active."""
    mac = inspect_guest.MAC
    args = [
        *inspect_guest.lab_args(),
        "-device", "pcie-root-port,id=rp-net1,bus=pcie.0,chassis=11,slot=11",
        "-device", "pcie-root-port,id=rp-hostdev1,bus=pcie.0,chassis=12,slot=12",
        "-netdev", "user,id=n1,restrict=on", "-netdev", "user,id=p1,restrict=on",
        "-device", f"virtio-net-pci,netdev=n1,id=net1,mac={mac},bus=rp-net1,addr=0x0,failover=on",
        "-device", f"e1000e,netdev=p1,mac={mac},romfile=,id=hostdev1,bus=rp-hostdev1,addr=0x0,failover_pair_id=net1",
    ]  # fmt: skip
    with Guest(inspect_guest.spec("insp-samemac", tmp_path, lab.kernel, lab.initrd, args)) as guest:
        guest.wait_for(inspect_guest.WAITING, timeout=failover.BOOT)
        inspect_guest.load_driver(tmp_path)
        for _ in range(2):
            guest.qmp.wait_event("FAILOVER_NEGOTIATED", timeout=60)
        guest.wait_for(failover.PRIMARY, timeout=60)
        code, document = inspect(guest)
        failing = [c["id"] for c in document["config"]["checks"] if c["status"] == "fail"]
        assert (code, failing) == (1, ["standby-mac-unique"])
        first, second = document["pairs"]  # in QOM's order
        assert {first["standby"]["id"], second["standby"]["id"]} == {"net0", "net1"}
        for pair, other in ((first, second["standby"]["id"]), (second, first["standby"]["id"])):
            assert (pair["negotiated"], pair["primary"]["plugged"], pair["verdict"]) == (True, True, "standby-only")
            assert [c["id"] for c in pair["checks"] if c["status"] == "fail"] == ["standby-mac-unique"]
            assert pair["reason"] == (
                f"the guest cannot tell the pairs apart: virtio-net-pci (id {pair['standby']['id']}, live) and "
                f"virtio-net-pci (id {other}, live) share MAC {mac}: the guest pairs a primary with the first "
                "failover master of its MAC (failover_get_bymac()), so these pairs are not told apart"
            )
        # the guest: two masters, one primary registered (with the first master); the other pair has none
        log = guest.spec.serial_log.read_text()
        assert len(re.findall(failover.MASTER, log)) == 2
        assert len(re.findall(failover.PRIMARY, log)) == 1
