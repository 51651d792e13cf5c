"""`prepare` in a lab guest with real igb VFs (lab/prepare_lab.py): one boot, every scenario."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from lab.capture import LabEnv
from lab.prepare_lab import MACS, VFS, PrepareRun, run_prepare_lab
from tests.support.prepare import flush, unseen, up_why


@pytest.fixture(scope="module")
def lab(lab_env: LabEnv, tmp_path_factory: pytest.TempPathFactory) -> PrepareRun:
    """One boot of the igb guest, every scenario run in it."""
    return run_prepare_lab(lab_env, tmp_path_factory.mktemp("prepare"))


def _steps(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["id"], s["status"]) for s in document["steps"]]


def _checks(document: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["id"]: (c["status"], c["message"]) for c in document["checks"]}


@pytest.mark.lab
def test_igbvf_vf_with_a_self_assigned_mac_is_prepared_and_checks_ready(lab: PrepareRun) -> None:
    before, after = lab.states["prep.before"], lab.states["prep.after"]
    assert before["driver"] == "igbvf"
    # igbvf picked a random MAC; the PF reports it, or zero when igbvf probed while the PF was resetting (seen here)
    assert before["admin"] in (before["netdev_mac"], "00:00:00:00:00:00")
    assert int(before["netdev_mac"][:2], 16) & 0x02  # locally administered: random
    document = lab.outputs["prep"]
    assert lab.exit_codes["prep"] == 0, document
    assert document["outcome"] == "prepared"
    assert _steps(document) == [
        ("vf-mac", "ran"),
        ("modprobe", "ran"),
        ("unbind", "ran"),
        ("driver-override", "ran"),
        ("probe", "ran"),
    ]  # the failed run before could not load vfio-pci
    assert document["final"]["verdict"] == "ready"
    assert after == {"driver": "vfio-pci", "override": "vfio-pci", "admin": MACS[0], "netdev_mac": ""}
    assert lab.exit_codes["prep.check"] == 0
    assert lab.outputs["prep.check"]["verdict"] == "ready"
    assert _checks(lab.outputs["prep.check"])["vf-mac"][0] == "pass"


@pytest.mark.lab
def test_a_second_prepare_changes_nothing(lab: PrepareRun) -> None:
    document = lab.outputs["prep2"]
    assert lab.exit_codes["prep2"] == 0
    assert document["outcome"] == "unchanged"
    assert document["steps"] == []
    assert lab.states["prep2.after"] == lab.states["prep.after"]
    assert (lab.out / "record1.json").read_bytes() == (lab.out / "record2.json").read_bytes()
    record = json.loads((lab.out / "record1.json").read_text())
    before = lab.states["prep.before"]
    assert (record["driver"], record["driver_override"], record["admin_mac"], record["mac_origin"]) == (
        "igbvf",
        None,
        before["admin"],
        "zero" if before["admin"] == "00:00:00:00:00:00" else "vf-driver",  # what the PF reported then (see above)
    )


@pytest.mark.lab
def test_undo_gives_the_vf_back_to_igbvf_with_the_mac_state_before(lab: PrepareRun) -> None:
    document = lab.outputs["undo"]
    assert lab.exit_codes["undo"] == 0, document
    assert document["outcome"] == "undone"
    before, after = lab.states["prep.before"], lab.states["undo.after"]
    # a recorded zero admin MAC is cleared again; an igbvf-picked one reported by the PF also gets a vf-address step
    expected = ["vf-mac", "unbind", "driver-override", "probe"]
    assert [s["id"] for s in document["steps"]] == expected + (
        [] if before["admin"] == "00:00:00:00:00:00" else ["vf-address"]
    )
    assert (after["driver"], after["override"]) == (before["driver"], before["override"]) == ("igbvf", "(null)")
    assert after["admin"] == after["netdev_mac"]  # not an administrator's: igbvf's own (random) MAC again
    assert int(after["netdev_mac"][:2], 16) & 0x02
    assert (lab.out / "undo.record").read_text().strip() == "gone"
    status, message = _checks(lab.outputs["undo.check"])["vf-mac"]
    assert status == "fail"
    assert "may have picked it itself" in message


@pytest.mark.lab
def test_a_vf_with_an_address_in_use_is_refused(lab: PrepareRun) -> None:
    document = lab.outputs["inuse"]
    assert lab.exit_codes["inuse"] == 1
    assert document["outcome"] == "refused"
    assert any(f"{VFS[1]} is in use on this host" in r and "10.9.9.2/24" in r for r in document["refusals"])
    before, after = lab.states["inuse.before"], lab.states["inuse.after"]
    # the PF's report of the MAC may change meanwhile (igbvf re-sends it after `ip link set up`): not prepare's write
    assert (after["driver"], after["override"], after["netdev_mac"]) == (
        before["driver"],
        before["override"],
        before["netdev_mac"],
    )


@pytest.mark.lab
def test_a_failure_mid_way_rolls_back(lab: PrepareRun) -> None:
    document = lab.outputs["fail"]
    assert lab.exit_codes["fail"] == 5, document
    assert document["outcome"] == "rolled-back"
    assert _steps(document) == [
        ("vf-mac", "undone"),
        ("modprobe", "failed"),
        ("unbind", "not-run"),
        ("driver-override", "not-run"),
        ("probe", "not-run"),
    ]
    assert "modprobe vfio-pci" in document["steps"][1]["error"]
    assert lab.states["fail.after"] == lab.states["fail.before"]
    assert document["final"]["verdict"] == "not-ready"
    assert "0000:01:10.0.json" not in (lab.out / "fail.records").read_text()


@pytest.mark.lab
def test_the_dry_run_script_gives_the_same_end_state(lab: PrepareRun) -> None:
    assert lab.exit_codes["real"] == 0
    assert lab.exit_codes["script"] == 0, (lab.out / "script.log").read_text()
    script = (lab.out / "script.sh").read_text()
    assert f"vf 3 mac {MACS[3]}" in script
    real, scripted = lab.states["real.after"], lab.states["script.after"]
    assert real == {"driver": "vfio-pci", "override": "vfio-pci", "admin": MACS[2], "netdev_mac": ""}
    assert scripted == {**real, "admin": MACS[3]}
    assert lab.outputs["real.check"]["verdict"] == lab.outputs["script.check"]["verdict"] == "ready"
    assert {k: s for k, (s, _) in _checks(lab.outputs["real.check"]).items()} == {
        k: s for k, (s, _) in _checks(lab.outputs["script.check"]).items()
    }


@pytest.mark.lab
def test_a_vf_held_open_by_a_process_is_refused_naming_it(lab: PrepareRun) -> None:
    pid = (lab.out / "held.pid").read_text().strip()
    for name in ("held", "held.undo"):
        document = lab.outputs[name]
        assert lab.exit_codes[name] == 1, document
        assert document["outcome"] == "refused"
        assert document["steps"] == []
        [refusal] = document["refusals"]
        assert refusal.startswith(f"{VFS[0]} is in use: /dev/vfio/")
        assert f" is open in pid {pid} (sleep); prepare changes nothing under a running guest" in refusal
    noop = lab.outputs["held.noop"]
    assert lab.exit_codes["held.noop"] == 0, noop
    assert (noop["outcome"], noop["steps"]) == ("unchanged", [])
    assert lab.states["held.after"] == lab.states["prep.after"]  # nothing changed under the holder


@pytest.mark.lab
def test_up_with_only_a_link_local_address_is_refused_and_down_is_prepared(lab: PrepareRun) -> None:
    addresses = (lab.out / "ll.addr").read_text()
    assert "inet6 fe80::" in addresses
    assert "inet " not in addresses
    assert "scope global" not in addresses
    assert "scope site" not in addresses
    name = (lab.out / "ll.ifname").read_text().strip()
    document = lab.outputs["ll"]
    assert lab.exit_codes["ll"] == 1, document
    assert document["refusals"] == [f"{VFS[1]} is in use on this host: {up_why(name)}"]
    down = lab.outputs["ll.down"]
    assert lab.exit_codes["ll.down"] == 0, down
    assert down["outcome"] == "dry-run"
    assert down["refusals"] == []
    assert [s["id"] for s in down["steps"]][-3:] == ["unbind", "driver-override", "probe"]


@pytest.mark.lab
def test_a_vf_whose_macvlan_is_in_another_namespace_is_refused_while_up(lab: PrepareRun) -> None:
    assert "macvlan" in (lab.out / "mvns.links").read_text()  # mv0 lives in the other namespace, on the VF
    assert not [n for n in (lab.out / "mvns.ls").read_text().split() if n.startswith("upper_")]  # none here
    name = (lab.out / "ll.ifname").read_text().strip()
    document = lab.outputs["mvns"]
    assert lab.exit_codes["mvns"] == 1, document
    mac = re.search(r"link/ether (\S+)", (lab.out / "mvns.links").read_text())
    assert mac is not None
    # up too, but what is named first is the macvlan's MAC in the VF's unicast filter
    assert document["refusals"] == [macvlan_why(name, mac.group(1))]
    assert lab.states["mvns.after"] == lab.states["mvns.before"]
    assert lab.states["mvns.after"]["driver"] == "igbvf"


@pytest.mark.lab
def test_undo_of_a_vf_bound_to_its_host_driver_by_hand_and_used_is_refused(lab: PrepareRun) -> None:
    assert lab.exit_codes["rebound.prep"] == 0, lab.outputs["rebound.prep"]
    assert json.loads((lab.out / "rebound.record").read_text())["driver"] is None
    before = lab.states["rebound.before"]
    assert before["driver"] == "igbvf"
    name = (lab.out / "rebound.ifname").read_text().strip()
    document = lab.outputs["rebound"]
    assert lab.exit_codes["rebound"] == 1, document
    assert document["outcome"] == "refused"
    assert document["steps"] == []
    [refusal] = document["refusals"]
    # and the site-local address router advertisements gave it (fec0::/64, from QEMU's user network)
    assert refusal.startswith(f"{VFS[0]} is in use on this host: {name} is up with 10.8.8.2/24")
    assert refusal.endswith(f": {flush(name)}")
    assert lab.states["rebound.after"] == before
    assert (lab.out / "rebound.kept").read_text().strip() == "kept"


@pytest.mark.lab
def test_a_vf_held_only_through_a_vfio_device_file_is_refused(lab: PrepareRun) -> None:
    fds = (lab.out / "devheld.fds").read_text()
    assert "anon_inode:[vfio-device]" in fds
    assert "/dev/vfio/" not in fds  # group and container closed: only the device file is left
    assert (lab.out / "devheld.enable").read_text().strip() == "1"
    pid = (lab.out / "devheld.pid").read_text().strip()
    why = (
        f"{VFS[2]} is in use: the kernel shows it enabled (enable 1), as vfio-pci does only while a VFIO user has "
        f"it open (VFIO device files are open in pid {pid} (python)); prepare changes nothing under a running guest "
        "or VFIO application: stop it first"
    )
    for name in ("devheld", "devheld.undo"):
        document = lab.outputs[name]
        assert lab.exit_codes[name] == 1, document
        assert (document["outcome"], document["steps"], document["refusals"]) == ("refused", [], [why])
    assert lab.states["devheld.after"] == lab.states["real.after"]  # nothing changed under the holder
    other = lab.outputs["devheld.other"]  # VF 3, on vfio-pci and not open, is not refused for it
    assert lab.exit_codes["devheld.other"] == 0, other
    assert (other["outcome"], other["refusals"]) == ("dry-run", [])
    assert (lab.out / "devheld.enable.after").read_text().strip() == "0"
    free = lab.outputs["devheld.free"]
    assert lab.exit_codes["devheld.free"] == 0, free
    assert (free["outcome"], free["refusals"], [s["id"] for s in free["steps"]]) == ("dry-run", [], ["vf-mac"])


@pytest.mark.lab
def test_a_vf_with_a_vlan_on_it_is_refused_naming_the_vlan(lab: PrepareRun) -> None:
    document = lab.outputs["upper"]
    assert lab.exit_codes["upper"] == 1, document
    [refusal] = document["refusals"]
    assert refusal.startswith(f"{VFS[1]} is in use on this host: ")
    name = (lab.out / "ll.ifname").read_text().strip()
    assert refusal.endswith(
        "has the upper device vf1v5 (a VLAN, macvlan, ipvlan, bridge or bond on top of it): "
        + unseen(name, "delete them")
    )


@pytest.mark.lab
def test_a_vf_whose_interface_is_in_another_namespace_is_refused(lab: PrepareRun) -> None:
    assert (lab.out / "netns.ls").read_text().strip() == ""  # sysfs shows this namespace's interfaces only
    assert lab.states["netns.before"]["driver"] == "igbvf"
    document = lab.outputs["netns"]
    assert lab.exit_codes["netns"] == 1, document
    assert document["refusals"] == [
        f"cannot tell whether {VFS[1]} is in use: igbvf is bound but no network interface of it is visible in this "
        "network namespace (moved to another namespace, where it may be in use): move it back, or unbind it by hand"
    ]
    assert lab.states["netns.after"] == lab.states["netns.before"]


@pytest.mark.lab
def test_a_register_error_under_json_is_in_the_one_document(lab: PrepareRun) -> None:
    assert lab.exit_codes["reg.raw"] == 2
    document = json.loads((lab.out / "reg.out").read_text())  # one document, not two
    assert (document["outcome"], document["exit_code"]) == ("unchanged", 2)
    assert document["register"]["name"] == "web"
    assert document["register"]["path"] is None
    assert document["register"]["error"]
    assert (lab.out / "reg.err").read_text() == ""


@pytest.mark.lab
def test_undo_of_a_destroyed_vf_says_it_is_gone_and_keeps_the_record(lab: PrepareRun) -> None:
    document = lab.outputs["gone"]
    assert lab.exit_codes["gone"] == 7, document
    assert document["outcome"] == "device-gone"
    assert document["refusals"] == [
        f"{VFS[2]} is gone: no such PCI device now (were its VFs destroyed, sriov_numvfs lowered?); the undo record "
        f"/var/lib/pcie-failover/prepare/{VFS[2]}.json is kept: create the VF again and run --undo, or remove the "
        "record by hand"
    ]
    assert f"{VFS[2]}.json" in (lab.out / "gone.records").read_text().split()


def macvlan_why(name: str, mac: str) -> str:
    return (
        f"{VFS[1]} is in use on this host: {name}'s unicast filter holds {mac} besides its own MAC: a macvlan or "
        "macvtap on it, here or in another network namespace (a container's), which survives `ip link set down` but "
        f"is deleted with {name} when its driver is unbound: delete it first (`ip link delete` in its namespace)"
    )


@pytest.mark.lab
def test_a_down_vf_whose_macvlan_is_in_another_namespace_is_refused_naming_its_mac(lab: PrepareRun) -> None:
    """VF 1 down, its macvlan up in another namespace: no `upper_*` link and not up here, but the macvlan's MAC is
    in VF 1's unicast filter; unbinding igbvf would have deleted the container's interface."""
    [link] = json.loads((lab.out / "mvdown.links").read_text())
    assert (link["ifname"], link["operstate"], "UP" in link["flags"]) == ("mv0", "LOWERLAYERDOWN", True)
    mac = link["address"]
    entries = json.loads((lab.out / "mvdown.fdb").read_text())
    assert [e["mac"] for e in entries if not int(e["mac"][:2], 16) & 1] == [mac]
    assert all(e["flags"] == ["self"] and e["state"] == "permanent" for e in entries)
    plain = json.loads((lab.out / "plain.fdb").read_text())  # the macvlan gone: multicast (33:33:.., 01:00:5e:..) only
    assert all(int(e["mac"][:2], 16) & 1 for e in plain)
    name = (lab.out / "ll.ifname").read_text().strip()
    document = lab.outputs["mvdown"]
    assert lab.exit_codes["mvdown"] == 1, document
    assert (document["outcome"], document["steps"]) == ("refused", [])
    assert document["refusals"] == [macvlan_why(name, mac)]
    assert lab.states["mvdown.after"] == lab.states["mvdown.before"]
    assert lab.states["mvdown.after"]["driver"] == "igbvf"
    [after] = json.loads((lab.out / "mvdown.links.after").read_text())
    assert (after["ifname"], after["address"]) == ("mv0", mac)  # the container's interface is still there
