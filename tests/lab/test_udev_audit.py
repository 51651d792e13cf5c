"""The installed udev rule and systemd units, in a guest with real systemd and udevd, follow each change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab.capture import REPO
from lab.install import LabUnavailableError
from lab.systemd_guest import prepare, recipe
from lab.udev_audit import (
    AUDIT,
    JOINER,
    SHARED,
    UNIT_STARTING,
    VF0,
    WATCH,
    UdevAuditRun,
    job_script,
    read_step,
    run_udev_audit,
)


@pytest.fixture(scope="module")
def udev_audit(tmp_path_factory: pytest.TempPathFactory) -> UdevAuditRun:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root (apt-get, debootstrap, and the guest mounts / over 9p)")
    try:
        env = prepare()  # the image is cached in the lab cache: built once (debootstrap), then reused
    except LabUnavailableError as error:
        pytest.skip(f"systemd lab guest unavailable: {error}")
    return run_udev_audit(env, tmp_path_factory.mktemp("udev-audit"))


@pytest.mark.lab
def test_registered_pair_is_ready(udev_audit: UdevAuditRun) -> None:
    ready = udev_audit.steps["ready"]
    assert ready.ready == 1
    assert ready.lines(AUDIT) == [f"pair web ({VF0}): ready"]


@pytest.mark.lab
def test_recreating_the_vfs_is_one_burst_and_the_pair_is_not_ready(udev_audit: UdevAuditRun) -> None:
    burst = udev_audit.steps["burst"]
    assert 1 <= burst.audit_starts <= 2
    assert 1 <= burst.audit_runs <= 2
    assert burst.ready == 0  # VF 0 came back on igbvf without its admin MAC
    assert (burst.check_status("driver"), burst.check_status("vf-mac")) == ("fail", "fail")
    assert burst.lines(AUDIT, max_priority=3)
    assert udev_audit.steps["restored"].ready == 1


@pytest.mark.lab
def test_unbinding_the_primary_fails_the_driver_check(udev_audit: UdevAuditRun) -> None:
    unbound, rebound = udev_audit.steps["unbound"], udev_audit.steps["rebound"]
    assert unbound.audit_starts >= 1
    assert unbound.ready == 0
    assert unbound.check_status("driver") == "fail"
    assert any("driver: driver_override is vfio-pci but nothing is bound" in line for line in unbound.lines(AUDIT, 3))
    assert (rebound.audit_starts >= 1, rebound.ready, rebound.check_status("driver")) == (True, 1, "pass")


@pytest.mark.lab
def test_a_sibling_driver_change_runs_the_audit_and_the_pair_stays_ready(udev_audit: UdevAuditRun) -> None:
    # igb VFs have IOMMU groups of their own under VT-d: no sibling can join VF 0's group here
    assert [members for members in udev_audit.groups.values() if VF0 in members] == [(VF0,)]
    for name in ("sibling-unbound", "sibling-bound"):
        step = udev_audit.steps[name]
        assert (step.audit_starts, step.audit_runs, step.ready) == (1, 1, 1), name
        assert step.check_status("iommu-group") == "pass"


@pytest.mark.lab
def test_a_device_bound_into_the_primarys_group_is_reported(udev_audit: UdevAuditRun) -> None:
    assert [members for members in udev_audit.groups.values() if SHARED in members] == [(SHARED, JOINER)]
    alone, joined = udev_audit.steps["group-alone"], udev_audit.steps["group-joined"]
    assert alone.check_status("iommu-group", "shared") == "pass"
    assert alone.check_status("driver", "shared") == "pass"
    assert joined.audit_starts == 1  # the rule saw the bind
    assert joined.check_status("iommu-group", "shared") == "fail"
    blocked = [line for line in joined.lines(AUDIT, max_priority=3) if line.startswith("pair shared")]
    assert len(blocked) == 1
    assert "iommu-group: IOMMU group" in blocked[0]
    assert f"{JOINER} (e1000e) bound to host drivers" in blocked[0]


@pytest.mark.lab
def test_watch_reports_an_rtnetlink_only_mac_change(udev_audit: UdevAuditRun) -> None:
    zero = udev_audit.steps["mac-zero"]
    assert zero.audit_starts == 0  # udev never saw it
    errors = zero.lines(WATCH, max_priority=3)
    assert len(errors) == 1
    assert errors[0].startswith(f"pair web ({VF0}): not-ready: vf-mac: admin MAC is 00:00:00:00:00:00")
    assert (zero.ready, zero.check_status("vf-mac")) == (0, "fail")  # the textfile watch wrote
    assert udev_audit.watch == {"Result": "success", "ExecMainStatus": "0", "NRestarts": "0"}


@pytest.mark.lab
def test_no_request_is_left_pending(udev_audit: UdevAuditRun) -> None:
    assert {name: step.state for name, step in udev_audit.steps.items() if "pending" in step.state} == {}


def test_a_step_reads_the_textfile_and_the_units_journal(tmp_path: Path) -> None:
    (tmp_path / "s.prom").write_text(
        '# TYPE pcie_failover_pair_ready gauge\npcie_failover_pair_ready{pair="web",vm="web",primary="x"} 0\n'
        'pcie_failover_check_status{pair="web",check="driver",status="pass"} 0\n'
        'pcie_failover_check_status{pair="web",check="driver",status="fail"} 1\n'
    )
    journal = [
        {"UNIT": AUDIT, "MESSAGE_ID": UNIT_STARTING, "_SYSTEMD_UNIT": "init.scope", "MESSAGE": "Starting"},
        {"_SYSTEMD_UNIT": AUDIT, "PRIORITY": "3", "MESSAGE": list(b"pair web (x): not-ready: driver: unbound")},
        {"_SYSTEMD_UNIT": WATCH, "PRIORITY": "6", "MESSAGE": "pair web (x): ready"},
    ]
    (tmp_path / "s.journal.json").write_text("".join(json.dumps(entry) + "\n" for entry in journal))
    (tmp_path / "s.state").write_text(".lock\npending\n")
    step = read_step(tmp_path, "s")
    assert (step.ready, step.check_status("driver"), step.check_status("reset")) == (0, "fail", None)
    assert (step.audit_starts, step.audit_runs, step.state) == (1, 1, (".lock", "pending"))
    assert step.lines(AUDIT, max_priority=3) == ["pair web (x): not-ready: driver: unbound"]
    assert step.lines(WATCH, max_priority=3) == []


def test_the_image_recipe_follows_what_the_image_is_made_from() -> None:
    assert recipe("6.1.0-1-amd64", "http://a") != recipe("6.1.0-2-amd64", "http://a")
    assert recipe("6.1.0-1-amd64", "http://a") != recipe("6.1.0-1-amd64", "http://b")
    assert "lab-job.service" in recipe("6.1.0-1-amd64", "http://a")
    assert f"make -C {REPO} install-udev BINDIR=/usr/local/bin" in job_script()
