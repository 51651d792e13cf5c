"""`prepare`'s planner over built hosts: exact steps from check's own assessment, refusals named, undo planned."""

from __future__ import annotations

import json
import re
import shlex
import stat
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host, Netdev
from fixtures_sysfs.hosts import DEMO_MAC, demo_host, demo_pf
from pcie_failover.check.command import checked
from pcie_failover.cli.app import OutputFormat
from pcie_failover.model.address import DeviceQuery, MacAddress
from pcie_failover.model.check import CheckOptions
from pcie_failover.prepare.command import read_surroundings, run_prepare, run_undo
from pcie_failover.prepare.model import Action, ActionKind, Outcome, Persist, Plan, UndoRecord, WriteError
from pcie_failover.prepare.plan import (
    Request,
    Surroundings,
    VfRef,
    mac_step,
    merge_records,
    plan_prepare,
    plan_undo,
    udev_rule,
)
from pcie_failover.prepare.render import script, shell_lines
from pcie_failover.prepare.report import PrepareReport, render_json, render_text, step_rows
from pcie_failover.prepare.store import UndoStore
from pcie_failover.sysfs.host import open_root
from tests.scenarios import _in_use_sibling, _vf, _vfio_unloaded, _with_vf0
from tests.support.cli import VALIDATOR, Run
from tests.support.prepare import flush, unseen

MAC = "52:54:00:6f:55:dd"
ZERO = "00:00:00:00:00:00"
PF = "enp94s0f0np0"


def _plan(
    root: Path, device: str, request: Request | None = None, **surroundings: object
) -> tuple[Plan, UndoRecord | None]:
    sysfs = open_root(str(root))
    request = request or Request(MacAddress.parse(MAC))
    check_input, report = checked(sysfs, DeviceQuery.parse(device), CheckOptions(mac=request.mac), strict=False)
    read = read_surroundings(sysfs, check_input, None, False)
    return plan_prepare(check_input, report.results, request, replace(read, **surroundings))  # type: ignore[arg-type]


def _commands(plan: Plan) -> list[str]:
    text = script(plan.device, plan.steps, plan.kept, lambda name: name, False)
    return [line for line in text.splitlines() if not line.startswith("#") and line != "set -e"]


def test_vf_on_its_host_driver_mac_then_driver(host_root: Callable[[Host], Path]) -> None:
    plan, record = _plan(host_root(demo_host()), "5e:00.3")
    assert not plan.refusals
    assert [s.step_id for s in plan.steps] == ["vf-mac", "unbind", "driver-override", "probe"]
    assert _commands(plan) == [
        f"ip link set dev {PF} vf 1 mac {MAC}",
        "echo 0000:5e:00.3 > /sys/bus/pci/drivers/mlx5_core/unbind",
        "test ! -e /sys/bus/pci/devices/0000:5e:00.3/driver",
        "echo vfio-pci > /sys/bus/pci/devices/0000:5e:00.3/driver_override",
        "echo 0000:5e:00.3 > /sys/bus/pci/drivers_probe",
        'test "$(basename "$(readlink /sys/bus/pci/devices/0000:5e:00.3/driver)")" = vfio-pci',
    ]
    assert record is not None
    assert (record.driver, record.driver_override, record.admin_mac, record.mac_origin) == (
        "mlx5_core", None, "52:54:00:00:00:01", "vf-driver"
    )  # fmt: skip
    # the MAC a VF driver picked comes back through the VF's own interface, after the admin MAC is cleared
    undo_mac = plan.steps[0].undo
    assert [a.args for a in undo_mac] == [
        ("link", "set", "dev", PF, "vf", "1", "mac", "00:00:00:00:00:00"),
        ("0000:5e:00.3", "52:54:00:00:00:01"),
    ]


def test_unbound_vf_with_vfio_unloaded_loads_it_first(host_root: Callable[[Host], Path]) -> None:
    plan, _ = _plan(host_root(_vfio_unloaded()), "5e:00.5", Request(MacAddress.parse(MAC), spoofchk=False, trust=True))
    assert [s.step_id for s in plan.steps] == ["vf-mac", "spoofchk", "trust", "modprobe", "driver-override", "probe"]
    assert _commands(plan)[:4] == [
        f"ip link set dev {PF} vf 3 mac {MAC}",
        f"ip link set dev {PF} vf 3 spoofchk off",
        f"ip link set dev {PF} vf 3 trust on",
        "modprobe vfio-pci",
    ]
    assert plan.steps[3].undo == ()
    assert plan.steps[3].undo_note == "vfio-pci stays loaded"


def test_ready_vf_with_its_mac_needs_nothing(host_root: Callable[[Host], Path]) -> None:
    plan, _ = _plan(host_root(demo_host()), "5e:00.2", Request(MacAddress.parse(DEMO_MAC)))
    assert plan.steps == ()
    assert plan.refusals == ()
    assert plan.kept == (f"VF 0's admin MAC is already {DEMO_MAC}", "0000:5e:00.2 is already on vfio-pci")


def test_another_mac_on_a_ready_vf_is_only_the_mac(host_root: Callable[[Host], Path]) -> None:
    plan, _ = _plan(host_root(demo_host()), "5e:00.2")
    assert _commands(plan) == [f"ip link set dev {PF} vf 0 mac {MAC}"]
    assert [a.args[-1] for a in plan.steps[0].undo] == [DEMO_MAC]


@pytest.mark.parametrize(
    ("device", "host", "reason"),
    [
        ("5e:00.0", demo_host(), "0000:5e:00.0 is a PF"),
        ("00:1f.6", demo_host(), "0000:00:1f.6 is not an SR-IOV VF"),
        ("5e:00.7", demo_host(), "no PCI device 0000:5e:00.7 on this host"),
        ("5e:00.2", _with_vf0(_vf(iommu_group=None)), "has no IOMMU group"),
        ("5e:00.2", _with_vf0(_vf(reset_method=None)), "reset: "),
        (
            "5e:00.2",
            _in_use_sibling(),
            "holds 0000:5e:00.3 (mlx5_core), in use on this host (enp94s0f0v1 is up with 10.0.0.2/24: if nothing "
            "uses it, `ip address flush dev enp94s0f0v1` and `ip link set dev enp94s0f0v1 down` first (",
        ),
    ],
)
def test_refusals_name_why(host_root: Callable[[Host], Path], device: str, host: Host, reason: str) -> None:
    plan, _ = _plan(host_root(host), device)
    assert plan.steps == ()  # refused: nothing planned
    assert any(reason in r for r in plan.refusals), plan.refusals


def _vf1_in_use(**netdev: object) -> Host:
    base = demo_pf()
    vf1 = replace(base.vfs[1], netdevs=(replace(Netdev("enp94s0f0v1", "52:54:00:00:00:01"), **netdev),))  # type: ignore[arg-type]
    return demo_host(pf=replace(base, vfs=(base.vfs[0], vf1, *base.vfs[2:])))


@pytest.mark.parametrize(
    ("netdev", "why"),
    [
        ({"addresses": ("10.0.0.9/24",)}, f"enp94s0f0v1 is up with 10.0.0.9/24: {flush('enp94s0f0v1')}"),
        ({"routes": ("default",)}, f"enp94s0f0v1 carries routes to default: {flush('enp94s0f0v1')}"),
        (
            {"master": "br0"},
            "enp94s0f0v1 is enslaved to br0: "
            + unseen("enp94s0f0v1", "`ip link set dev enp94s0f0v1 nomaster` and down"),
        ),
    ],
)
def test_a_vf_in_use_is_refused(host_root: Callable[[Host], Path], netdev: dict[str, object], why: str) -> None:
    """Every network-use refusal says what to do first and what that does not make safe."""
    plan, _ = _plan(host_root(_vf1_in_use(**netdev)), "5e:00.3")
    assert plan.refusals == (f"0000:5e:00.3 is in use on this host: {why}",)


def _unused_sibling() -> Host:
    base = demo_pf()
    sibling = replace(base.vfs[1], iommu_group=23, netdevs=(Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False),))
    return demo_host(pf=replace(base, vfs=(replace(base.vfs[0], driver=None), sibling, *base.vfs[2:])))


def test_group_member_needs_group_and_lists_what_it_changes(host_root: Callable[[Host], Path]) -> None:
    root = host_root(_unused_sibling())
    plan, _ = _plan(root, "5e:00.2")
    assert plan.steps == ()
    change = "0000:5e:00.3 (mlx5_core): unbound from mlx5_core and bound to vfio-pci (same IOMMU group 23)"
    assert plan.refusals == (
        f"IOMMU group 23 also holds 0000:5e:00.3 (mlx5_core) on a host driver; --group would change: {change}",
    )
    plan, record = _plan(root, "5e:00.2", Request(MacAddress.parse(MAC), group=True))
    assert plan.refusals == ()
    assert plan.group_changes == (change,)
    assert [(s.step_id, s.device) for s in plan.steps] == [
        ("vf-mac", "0000:5e:00.2"),
        ("unbind", "0000:5e:00.3"),
        ("driver-override", "0000:5e:00.3"),
        ("probe", "0000:5e:00.3"),
        ("driver-override", "0000:5e:00.2"),
        ("probe", "0000:5e:00.2"),
    ]
    assert record is not None
    assert [(m.address, m.driver) for m in record.group] == [("0000:5e:00.3", "mlx5_core")]


def test_persist_udev_writes_a_rule_and_keeps_what_was_there(host_root: Callable[[Host], Path]) -> None:
    request = Request(MacAddress.parse(MAC), persist="udev")
    plan, record = _plan(host_root(demo_host()), "5e:00.3", request)
    assert plan.steps[-1].step_id == "persist"
    assert plan.steps[-1].action.args == (
        "/etc/udev/rules.d/70-pcie-failover-0000:5e:00.3.rules",
        udev_rule("0000:5e:00.3"),
        "0644",
    )
    assert [a.kind.value for a in plan.steps[-1].undo] == ["file-remove"]
    assert record is not None
    assert record.persist is not None
    assert record.persist.previous is None
    plan, _ = _plan(
        host_root(demo_host()),
        "5e:00.2",
        replace(request, mac=MacAddress.parse(DEMO_MAC)),
        udev_rule=udev_rule("0000:5e:00.2"),
    )
    assert plan.steps == ()


def test_persist_driverctl_binds_through_driverctl_or_refuses(host_root: Callable[[Host], Path]) -> None:
    request = Request(MacAddress.parse(MAC), persist="driverctl")
    plan, _ = _plan(host_root(demo_host()), "5e:00.3", request)
    assert plan.refusals == ("--persist driverctl: driverctl is not installed (use --persist udev)",)
    plan, _ = _plan(host_root(demo_host()), "5e:00.3", request, driverctl=True)
    assert _commands(plan) == [
        f"ip link set dev {PF} vf 1 mac {MAC}",
        "driverctl set-override 0000:5e:00.3 vfio-pci",
        'test "$(basename "$(readlink /sys/bus/pci/devices/0000:5e:00.3/driver)")" = vfio-pci',
    ]


def _hostile_pf(name: str) -> Host:
    base = demo_pf()
    netdev = replace(base.pf.netdevs[0], name=name)
    return demo_host(pf=replace(base, pf=replace(base.pf, netdevs=(netdev,))))


@pytest.mark.parametrize("name", ["pf;id>pwn", "-batch"])
def test_a_hostile_pf_name_is_refused_as_the_writer_would_dry_run_included(
    host_root: Callable[[Host], Path], tmp_path: Path, name: str
) -> None:
    from pcie_failover.adapters.writer import LiveWriter
    from pcie_failover.prepare.cli import _render
    from pcie_failover.prepare.confine import check_action

    root = host_root(_hostile_pf(name))
    plan, _ = _plan(root, "5e:00.3")
    refusal = f"refusing to run ip with the argument {name!r}"
    assert plan.steps == ()
    assert plan.refusals == (f"{refusal} (step vf-mac): the writer would refuse it, so no step runs",)
    with pytest.raises(WriteError, match="^" + re.escape(refusal)):
        check_action(mac_step(VfRef(name, 1, "0000:5e:00.3"), MAC, ZERO, "zero").action)
    dry = run_prepare(
        open_root(str(root)), DeviceQuery.parse("5e:00.3"), Request(MacAddress.parse(MAC)), _Writer(), dry_run=True,
        state_dir=str(tmp_path / "s"),
    )  # fmt: skip
    assert dry.outcome is Outcome.REFUSED
    assert dry.exit_code == 1
    text = _render(dry, LiveWriter(), OutputFormat.TABLE)
    assert "ip link set" not in text
    assert text.splitlines()[0] == "pcie-failover prepare 0000:5e:00.3: refused"


def test_undo_plans_back_to_the_record(host_root: Callable[[Host], Path]) -> None:
    prepared = _with_vf0(_vf(driver_override="vfio-pci"))  # what prepare left: vfio-pci, override, admin MAC
    sysfs = open_root(str(host_root(prepared)))
    check_input, _ = checked(sysfs, DeviceQuery.parse("5e:00.2"), CheckOptions(), strict=False)
    record = UndoRecord("0000:5e:00.2", PF, 0, "mlx5_core", None, "52:54:00:11:22:33", "vf-driver")
    plan = plan_undo(check_input, record, Surroundings())
    assert [(s.step_id, s.action.args) for s in plan.steps] == [
        ("vf-mac", ("link", "set", "dev", PF, "vf", "0", "mac", "00:00:00:00:00:00")),
        ("unbind", ("bus/pci/drivers/vfio-pci/unbind", "0000:5e:00.2")),
        ("driver-override", ("bus/pci/devices/0000:5e:00.2/driver_override", "")),
        ("probe", ("bus/pci/drivers_probe", "0000:5e:00.2")),
        ("vf-address", ("0000:5e:00.2", "52:54:00:11:22:33")),
    ]
    assert plan.steps[3].action.expect_driver == ("0000:5e:00.2", "mlx5_core")
    admin = replace(record, mac_origin="admin", driver="vfio-pci", driver_override="vfio-pci", admin_mac=DEMO_MAC)
    assert plan_undo(check_input, admin, Surroundings()).steps == ()


def test_the_first_record_wins() -> None:
    first = UndoRecord("0000:5e:00.2", PF, 0, "igbvf", None, "02:00:00:00:00:01", "vf-driver")
    second = UndoRecord("0000:5e:00.2", PF, 0, "vfio-pci", "vfio-pci", MAC, "unproven", spoofchk=True)
    merged = merge_records(first, second)
    assert (merged.driver, merged.admin_mac, merged.spoofchk) == ("igbvf", "02:00:00:00:00:01", True)


def _main(*args: str) -> int:
    from pcie_failover.cli import main

    return main(list(args))


def test_cli_refuses_a_copied_tree_and_wants_a_mac(
    host_root: Callable[[Host], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(host_root(demo_host()))
    assert _main("prepare", "5e:00.3", "--mac", MAC, "--sysfs-root", root) == 2
    assert (
        capsys.readouterr().err == "pcie-failover prepare: prepare changes the running host: --sysfs-root must be /sys"
        " (try 'pcie-failover prepare --help')\n"
    )
    assert _main("prepare", "5e:00.3") == 2
    assert "--mac is required" in capsys.readouterr().err
    assert _main("prepare", "5e:00.3", "--undo", "--mac", MAC) == 2
    assert "--undo takes only the device" in capsys.readouterr().err
    assert _main("prepare", "5e:00.3", "--mac", "01:00:5e:00:00:01") == 2
    assert _main("--sysfs-root", root, "prepare", "5e:00.3", "--mac", MAC, "--format", "json") == 2
    assert Run(2, capsys.readouterr().out, "").json["error"]["kind"] == "usage"


class _Writer:
    """The fake writer (the runner's seam): fails the writes named."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.fail = fail
        self.log: list[tuple[str, ...]] = []
        self.drivers: dict[str, str] = {}

    def execute(self, action: Action) -> None:
        self.log.append(action.args)
        if action.args == self.fail:
            raise WriteError("modprobe vfio-pci: refused by the test")
        if action.expect_driver is not None:
            self.drivers[action.expect_driver[0]] = action.expect_driver[1]

    def driver_of(self, address: str) -> str:
        return self.drivers.get(address, "")

    def program(self, name: str) -> str:
        return f"/usr/sbin/{name}"


def test_rollback_removes_the_new_record_and_the_document_validates(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    sysfs = open_root(str(host_root(_vfio_unloaded())))
    request = Request(MacAddress.parse(MAC))
    writer = _Writer(("vfio-pci",))
    report = run_prepare(
        sysfs, DeviceQuery.parse("5e:00.3"), request, writer, dry_run=False, state_dir=str(tmp_path / "s")
    )
    assert report.outcome is Outcome.ROLLED_BACK
    assert report.exit_code == 5
    assert [row[0] for row in step_rows(report)] == ["undone", "failed", "not-run", "not-run", "not-run"]
    assert not (tmp_path / "s" / "0000:5e:00.3.json").exists()
    document = json.loads(render_json(report, writer.program, "/sys"))
    VALIDATOR.validate(document)
    assert document["final"]["verdict"] == "not-ready"
    dry = run_prepare(sysfs, DeviceQuery.parse("5e:00.3"), request, writer, dry_run=True, state_dir=str(tmp_path / "s"))
    VALIDATOR.validate(json.loads(render_json(dry, writer.program, "/sys")))
    refused = run_prepare(
        sysfs, DeviceQuery.parse("5e:00.0"), request, writer, dry_run=False, state_dir=str(tmp_path / "s")
    )
    assert refused.exit_code == 1
    VALIDATOR.validate(json.loads(render_json(refused, writer.program, "/sys")))


def test_a_run_keeps_the_record_of_the_state_before(host_root: Callable[[Host], Path], tmp_path: Path) -> None:
    sysfs = open_root(str(host_root(demo_host())))
    report = run_prepare(
        sysfs, DeviceQuery.parse("5e:00.3"), Request(MacAddress.parse(MAC)), _Writer(), dry_run=False,
        state_dir=str(tmp_path / "s"),
    )  # fmt: skip
    assert report.outcome is Outcome.PREPARED  # the built host does not change: the re-check still fails
    assert report.exit_code == 1
    record = json.loads((tmp_path / "s" / "0000:5e:00.3.json").read_text())
    assert (record["driver"], record["admin_mac"], record["mac_origin"]) == (
        "mlx5_core",
        "52:54:00:00:00:01",
        "vf-driver",
    )


def test_the_lock_is_taken_before_the_host_is_read(
    host_root: Callable[[Host], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two prepares never plan from the same state: the store's lock is held while check reads the host."""
    import fcntl

    from pcie_failover.check.command import checked as real
    from pcie_failover.prepare import command

    state = tmp_path / "s"
    state.mkdir(mode=0o700)
    (state / ".lock").write_text("")
    seen: list[bool] = []

    def probing(*args: object, **kwargs: object) -> object:
        with open(state / ".lock", "rb") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                seen.append(True)
            else:
                fcntl.flock(other, fcntl.LOCK_UN)
                seen.append(False)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(command, "checked", probing)
    sysfs = open_root(str(host_root(demo_host())))
    report = run_prepare(
        sysfs, DeviceQuery.parse("5e:00.3"), Request(MacAddress.parse(MAC)), _Writer(), dry_run=False,
        state_dir=str(state),
    )  # fmt: skip
    assert report.outcome is Outcome.PREPARED
    assert seen == [True, False]  # the assessment under the lock; the re-check after the run, once released
    with UndoStore.opened(str(state)) as store:
        assert store is not None
        store.save(UndoRecord("0000:5e:00.2", PF, 0, "vfio-pci", "vfio-pci", DEMO_MAC, "admin"))
    seen.clear()
    run_undo(sysfs, DeviceQuery.parse("5e:00.2"), _Writer(), dry_run=False, state_dir=str(state))
    assert seen[0] is True


def test_persist_driverctl_on_a_vf_already_on_vfio_is_recorded_and_undone_without_rebinding(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    root = host_root(demo_host())
    request = Request(MacAddress.parse(DEMO_MAC), persist="driverctl")
    writer = _Writer()
    writer.drivers["0000:5e:00.2"] = "vfio-pci"
    report = run_prepare(
        open_root(str(root)), DeviceQuery.parse("5e:00.2"), request, writer, dry_run=False,
        state_dir=str(tmp_path / "s"), driverctl=True, config_root=str(tmp_path / "etc-root"),
    )  # fmt: skip
    assert report.outcome is Outcome.PREPARED
    assert writer.log == [("--noprobe", "set-override", "0000:5e:00.2", "vfio-pci")]
    assert _commands(report.plan) == [
        "driverctl --noprobe set-override 0000:5e:00.2 vfio-pci",
        'test "$(basename "$(readlink /sys/bus/pci/devices/0000:5e:00.2/driver)")" = vfio-pci',
    ]
    record = json.loads((tmp_path / "s" / "0000:5e:00.2.json").read_text())
    assert (record["driver"], record["driver_override"], record["persist"]) == (
        "vfio-pci", None, {"kind": "driverctl", "path": None, "previous": None, "previous_mode": None}
    )  # fmt: skip
    # --undo forgets driverctl's saved override and keeps vfio-pci bound, as it was before
    (tmp_path / "etc-root" / "etc" / "driverctl.d").mkdir(parents=True)
    (tmp_path / "etc-root" / "etc" / "driverctl.d" / "pci-0000:5e:00.2").write_text("vfio-pci\n")
    undo = run_undo(
        open_root(str(root)), DeviceQuery.parse("5e:00.2"), writer, dry_run=False, state_dir=str(tmp_path / "s"),
        driverctl=True, config_root=str(tmp_path / "etc-root"),
    )  # fmt: skip
    assert undo.outcome is Outcome.UNDONE
    assert [(s.step_id, s.action.args, s.action.expect_driver) for s in undo.plan.steps] == [
        ("driverctl", ("--noprobe", "unset-override", "0000:5e:00.2"), ("0000:5e:00.2", "vfio-pci")),
    ]
    assert not (tmp_path / "s" / "0000:5e:00.2.json").exists()
    # an override that was there before comes back after driverctl cleared it; the driver is never unbound
    sysfs = open_root(str(host_root(_with_vf0(_vf(driver_override="vfio-pci")))))
    check_input, _ = checked(sysfs, DeviceQuery.parse("5e:00.2"), CheckOptions(), strict=False)
    recorded = UndoRecord(
        "0000:5e:00.2", PF, 0, "vfio-pci", "vfio-pci", DEMO_MAC, "admin", persist=Persist("driverctl")
    )
    plan = plan_undo(check_input, recorded, Surroundings(driverctl=True, driverctl_saved="vfio-pci"))
    assert _commands(plan) == [
        "driverctl --noprobe unset-override 0000:5e:00.2",
        'test "$(basename "$(readlink /sys/bus/pci/devices/0000:5e:00.2/driver)")" = vfio-pci',
        "echo vfio-pci > /sys/bus/pci/devices/0000:5e:00.2/driver_override",
    ]


def test_undo_of_a_device_that_is_gone_keeps_the_record_and_exits_7(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    state = tmp_path / "s"
    with UndoStore.opened(str(state), create=True) as store:
        assert store is not None
        store.save(UndoRecord("0000:5e:00.6", PF, 4, "mlx5_core", None, "52:54:00:00:00:04", "vf-driver"))
    writer = _Writer()
    report = run_undo(
        open_root(str(host_root(demo_host()))), DeviceQuery.parse("5e:00.6"), writer, dry_run=False,
        state_dir=str(state),
    )  # fmt: skip
    assert report.outcome is Outcome.DEVICE_GONE
    assert report.exit_code == 7
    path = f"{state}/0000:5e:00.6.json"
    assert report.plan.refusals == (
        "0000:5e:00.6 is gone: no such PCI device now (were its VFs destroyed, sriov_numvfs lowered?); the undo "
        f"record {path} is kept: create the VF again and run --undo, or remove the record by hand",
    )
    assert writer.log == []
    assert (state / "0000:5e:00.6.json").exists()
    document = json.loads(render_json(report, writer.program, "/sys"))
    VALIDATOR.validate(document)
    assert (document["outcome"], document["exit_code"], document["undo_record"]) == ("device-gone", 7, path)
    assert render_text(report).splitlines()[:2] == [
        "pcie-failover prepare --undo 0000:5e:00.6: device-gone",
        f"  gone: {report.plan.refusals[0]}",
    ]
    # without a record it is still "nothing to undo"
    other = run_undo(
        open_root(str(host_root(demo_host()))), DeviceQuery.parse("5e:00.7"), writer, dry_run=False,
        state_dir=str(state),
    )  # fmt: skip
    assert (other.outcome, other.exit_code) == (Outcome.UNCHANGED, 0)


def test_register_errors_under_json_are_one_json_document(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    from pcie_failover.audit import register
    from pcie_failover.prepare import cli as cli_prepare

    plan = Plan("0000:5e:00.2", kept=("0000:5e:00.2 is already on vfio-pci",))
    done = PrepareReport("0000:5e:00.2", False, False, Outcome.UNCHANGED, plan)
    monkeypatch.setattr(cli_prepare, "_run", lambda *_: done)
    monkeypatch.setattr(os, "geteuid", lambda: 0)

    def refuse(*_: object, **__: object) -> object:
        raise register.RegisterError("the registry is not a directory")

    monkeypatch.setattr(register, "run_register", refuse)
    code = _main("prepare", "5e:00.2", "--mac", DEMO_MAC, "--register", "web", "--format", "json")
    out = capsys.readouterr().out
    assert code == 2
    document = json.loads(out)  # one document: the prepare report, with what --register did
    VALIDATOR.validate(document)
    assert document["register"] == {"name": "web", "path": None, "error": "the registry is not a directory"}
    assert (document["outcome"], document["exit_code"]) == ("unchanged", 2)
    code = _main("prepare", "5e:00.2", "--mac", DEMO_MAC, "--register", "web")
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == "pcie-failover prepare: --register: the registry is not a directory\n"


# -- what an undo record must keep, and the state directory --------------------------------------------------------

RULE_PATH = "/etc/udev/rules.d/70-pcie-failover-0000:5e:00.2.rules"


def _config(tmp_path: Path, rule: bytes | None = None, mode: int = 0o644) -> Path:
    rules = tmp_path / "cfg" / "etc" / "udev" / "rules.d"
    rules.mkdir(parents=True)
    for directory in (tmp_path / "cfg", tmp_path / "cfg" / "etc", rules.parent, rules):
        directory.chmod(0o755)
    if rule is not None:
        path = rules / RULE_PATH.rsplit("/", 1)[1]
        path.write_bytes(rule)
        path.chmod(mode)
    return tmp_path / "cfg"


def _no_proc(tmp_path: Path) -> str:
    """A proc root with no process (the host's own may hold processes root cannot inspect)."""
    (tmp_path / "proc").mkdir(exist_ok=True)
    return str(tmp_path / "proc")


def _persist_udev(root: Path, tmp_path: Path, writer: _Writer, *, dry_run: bool = False) -> PrepareReport:
    return run_prepare(
        open_root(str(root)), DeviceQuery.parse("5e:00.2"), Request(MacAddress.parse(MAC), persist="udev"), writer,
        dry_run=dry_run, state_dir=str(tmp_path / "s"), config_root=str(tmp_path / "cfg"), proc_root=_no_proc(tmp_path),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "why"),
    [
        (
            b"# x\n" * 9000,
            f"{RULE_PATH} holds 36000 bytes, more than the 32768 an undo record keeps: move it away first",
        ),
        (b"# \xff\n", f"{RULE_PATH} is not UTF-8 text: --undo could not put its bytes back: move it away first"),
    ],
)
def test_a_rule_an_undo_record_cannot_keep_is_refused_before_anything_changes(
    host_root: Callable[[Host], Path], tmp_path: Path, rule: bytes, why: str
) -> None:
    """The reviewer's case: a 36 KB rule was read (64 KiB) but a record keeps 32 KiB: --undo refused the record."""
    config = _config(tmp_path, rule)
    for dry_run in (True, False):
        writer = _Writer()
        report = _persist_udev(host_root(demo_host()), tmp_path, writer, dry_run=dry_run)
        assert (report.outcome, report.exit_code) == (Outcome.REFUSED, 1)
        assert report.plan.refusals == (f"--persist udev: {config.as_posix()}{why}",)
        assert writer.log == []
    assert not (tmp_path / "s").exists()


def test_a_rule_replaced_comes_back_with_its_bytes_and_mode(host_root: Callable[[Host], Path], tmp_path: Path) -> None:
    previous = "# the administrator's own rule\n# é\n"
    _config(tmp_path, previous.encode(), 0o600)
    writer = _Writer()
    report = _persist_udev(host_root(demo_host()), tmp_path, writer)
    assert report.outcome is Outcome.PREPARED
    [persist] = [s for s in report.plan.steps if s.step_id == "persist"]
    assert [a.args for a in persist.undo] == [(RULE_PATH, previous, "0600")]
    record = json.loads((tmp_path / "s" / "0000:5e:00.2.json").read_text())
    assert (record["persist"]["previous"], record["persist"]["previous_mode"]) == (previous, 0o600)
    with UndoStore.opened(str(tmp_path / "s")) as store:
        assert store is not None
        loaded = store.load("0000:5e:00.2")
    assert loaded is not None
    sysfs = open_root(str(host_root(demo_host())))
    check_input, _ = checked(sysfs, DeviceQuery.parse("5e:00.2"), CheckOptions(), strict=False)
    plan = plan_undo(check_input, loaded, Surroundings(udev_rule=udev_rule("0000:5e:00.2")))
    [restore] = [s for s in plan.steps if s.step_id == "persist"]
    assert (restore.description, restore.action.args) == (
        f"restore {RULE_PATH} (mode 0600)",
        (RULE_PATH, previous, "0600"),
    )
    assert [a.args for a in restore.undo] == [(RULE_PATH, udev_rule("0000:5e:00.2"), "0644")]


def test_the_state_directory_is_made_only_when_a_record_is_written(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    state = tmp_path / "s"
    for mac in (DEMO_MAC, MAC):  # a prepare that changes nothing, a dry run
        run_prepare(
            open_root(str(host_root(demo_host()))), DeviceQuery.parse("5e:00.2"), Request(MacAddress.parse(mac)),
            _Writer(), dry_run=mac == MAC, state_dir=str(state), proc_root=_no_proc(tmp_path),
        )  # fmt: skip
        assert not state.exists()
    refused = run_prepare(
        open_root(str(host_root(_in_use_sibling()))), DeviceQuery.parse("5e:00.3"), Request(MacAddress.parse(MAC)),
        _Writer(), dry_run=False, state_dir=str(state),
    )  # fmt: skip
    assert refused.outcome is Outcome.REFUSED
    assert not state.exists()
    report = run_prepare(
        open_root(str(host_root(demo_host()))), DeviceQuery.parse("5e:00.2"), Request(MacAddress.parse(MAC)),
        _Writer(), dry_run=False, state_dir=str(state), proc_root=_no_proc(tmp_path),
    )  # fmt: skip
    assert report.outcome is Outcome.PREPARED
    assert sorted(p.name for p in state.iterdir()) == [".lock", "0000:5e:00.2.json"]


# -- the --dry-run script does what the writer does -----------------------------------------------------------------


def test_the_script_writes_a_rule_as_the_writer_does_never_through_a_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    path = tmp_path / "70-pcie-failover-0000:5e:00.2.rules"
    path.symlink_to(target)
    content = '# it\'s\nACTION=="add"\n'
    [line] = shell_lines(Action(ActionKind.FILE_PUT, (str(path), content, "0640")), lambda name: name)
    assert line == f"printf '%s' {shlex.quote(content)} | install -m 0640 /dev/stdin {shlex.quote(str(path))}"
    subprocess.run(["sh", "-ec", f"umask 077; {line}"], check=True)
    assert not path.is_symlink()
    assert path.read_text() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert target.read_text() == "precious\n"


@pytest.mark.parametrize(("interfaces", "given"), [(["eth7"], "eth7"), ([], None), (["eth7", "eth8"], None)])
def test_the_script_gives_the_mac_to_the_one_interface_there_is_or_stops(
    tmp_path: Path, interfaces: list[str], given: str | None
) -> None:
    lines = shell_lines(Action(ActionKind.VF_ADDRESS, ("0000:5e:00.3", "52:54:00:00:00:01")), lambda name: name)
    assert lines == [
        'set -- /sys/bus/pci/devices/0000:5e:00.3/net/*; [ -e "$1" ] || shift; [ "$#" -eq 1 ] || { echo '
        "'0000:5e:00.3: not one network interface to give 52:54:00:00:00:01' >&2; exit 1; }",
        'ip link set dev "${1##*/}" address 52:54:00:00:00:01',
    ]
    net = tmp_path / "net"
    net.mkdir()
    for name in interfaces:
        (net / name).mkdir()
    script_text = "\n".join(lines).replace("/sys/bus/pci/devices/0000:5e:00.3/net", str(net)).replace("ip link", "echo")
    done = subprocess.run(["sh", "-ec", script_text], capture_output=True, text=True, check=False)
    if given is None:
        assert (done.returncode, done.stdout, done.stderr) == (
            1, "", "0000:5e:00.3: not one network interface to give 52:54:00:00:00:01\n"
        )  # fmt: skip
    else:
        assert (done.returncode, done.stdout) == (0, f"set dev {given} address 52:54:00:00:00:01\n")


def test_undo_of_a_record_of_another_pf_at_the_same_address_is_refused(host_root: Callable[[Host], Path]) -> None:
    sysfs = open_root(str(host_root(_with_vf0(_vf(driver_override="vfio-pci")))))
    check_input, _ = checked(sysfs, DeviceQuery.parse("5e:00.2"), CheckOptions(), strict=False)
    record = UndoRecord("0000:5e:00.2", "ens1f0", 0, "mlx5_core", None, "52:54:00:11:22:33", "vf-driver")
    plan = plan_undo(check_input, record, Surroundings())
    assert (plan.steps, plan.refusals) == (
        (),
        (
            f"the undo record is for VF 0 of ens1f0, but 0000:5e:00.2 is VF 0 of {PF} now (another NIC at the same "
            "address, or the PF renamed): --undo would set another PF's VF; restore it by hand and remove the record",
        ),
    )


@pytest.mark.parametrize(
    ("mac", "why"),
    [
        (
            "b8:ce:f6:12:34:56",
            f"--mac b8:ce:f6:12:34:56 is {PF}'s own MAC: the PF's receive-address table would steer its traffic to "
            "the VF (or the VF's to the PF): give the VM another MAC",
        ),
        (
            "52:54:00:00:00:03",
            f"--mac 52:54:00:00:00:03 is already VF 3's admin MAC on {PF}: two VFs of one PF with one MAC get each "
            "other's traffic: give the VM another MAC, or clear VF 3's first",
        ),
    ],
)
def test_a_mac_of_the_pf_or_of_another_vf_of_it_is_refused(
    host_root: Callable[[Host], Path], mac: str, why: str
) -> None:
    plan, _ = _plan(host_root(demo_host()), "5e:00.2", Request(MacAddress.parse(mac)))
    assert (plan.steps, plan.refusals) == ((), (why,))
    plan, _ = _plan(host_root(demo_host()), "5e:00.2", Request(MacAddress.parse(DEMO_MAC)))  # its own: no clash
    assert plan.refusals == ()


def test_the_udev_rule_loads_vfio_pci_through_a_path_on_merged_and_split_usr() -> None:
    rule = udev_rule("0000:5e:00.2")
    assert 'RUN+="/sbin/modprobe vfio-pci"' in rule
    assert "/usr/sbin/modprobe" not in rule
