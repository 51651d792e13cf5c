"""The runner through its one seam (a fake writer): order, rollback newest first, a failing undo reported."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pcie_failover.prepare.model import Action, ActionKind, Outcome, Step, WriteError
from pcie_failover.prepare.plan import VfRef, mac_step, modprobe_step, override_step, probe_step, unbind_step
from pcie_failover.prepare.runner import run_plan

VF = "0000:01:10.0"
STEPS = (
    mac_step(VfRef("enp1s0", 0, VF), "52:54:00:6f:55:a0", "02:11:22:33:44:55", "vf-driver"),
    modprobe_step(VF),
    unbind_step(VF, "igbvf"),
    override_step(VF, "vfio-pci", None),
    probe_step(VF, "vfio-pci"),
)


@dataclass
class FakeWriter:
    """Records writes; fails the writes listed; tracks the driver a bind, unbind or probe leaves."""

    fail: set[tuple[str, ...]] = field(default_factory=set)
    log: list[tuple[str, ...]] = field(default_factory=list)
    drivers: dict[str, str] = field(default_factory=lambda: {VF: "igbvf"})

    def execute(self, action: Action) -> None:
        self.log.append(action.args)
        if action.args in self.fail:
            raise WriteError(f"{' '.join(action.args)}: refused by the test")
        if action.expect_driver is not None:
            address, driver = action.expect_driver
            self.drivers[address] = driver

    def driver_of(self, address: str) -> str:
        return self.drivers.get(address, "")

    def program(self, name: str) -> str:
        return name


def test_all_steps_run_in_order() -> None:
    writer = FakeWriter()
    result = run_plan(STEPS, writer)
    assert result.outcome is Outcome.PREPARED
    assert writer.log == [step.action.args for step in STEPS]


def test_a_failure_mid_way_undoes_newest_first() -> None:
    writer = FakeWriter(fail={("bus/pci/drivers_probe", VF)})
    result = run_plan(STEPS, writer)
    assert result.outcome is Outcome.ROLLED_BACK
    assert result.failed is not None
    assert result.failed.step is STEPS[4]
    assert [s.step_id for s in result.undone] == ["driver-override", "unbind", "vf-mac"]  # modprobe has no undo
    assert writer.log[5:] == [
        ("bus/pci/devices/0000:01:10.0/driver_override", ""),
        ("bus/pci/drivers/igbvf/bind", VF),
        ("link", "set", "dev", "enp1s0", "vf", "0", "mac", "00:00:00:00:00:00"),
        (VF, "02:11:22:33:44:55"),
    ]
    assert writer.drivers[VF] == "igbvf"


def test_a_failing_modprobe_undoes_the_mac_only() -> None:
    writer = FakeWriter(fail={("vfio-pci",)})
    result = run_plan(STEPS, writer)
    assert [s.step_id for s in result.ran] == ["vf-mac"]
    assert [s.step_id for s in result.undone] == ["vf-mac"]
    assert len(writer.log) == 4


def test_a_driver_that_did_not_bind_fails_the_step() -> None:
    class Stubborn(FakeWriter):
        def execute(self, action: Action) -> None:
            super().execute(action)
            if action.args == ("bus/pci/drivers_probe", VF):
                self.drivers[VF] = ""  # vfio-pci's probe failed (no IOMMU group)

    result = run_plan(STEPS, Stubborn())
    assert result.failed is not None
    assert result.failed.error == f"{VF} has no driver after the write, not vfio-pci (dmesg says why)"


def test_a_failing_undo_is_reported_and_the_others_still_run() -> None:
    writer = FakeWriter(fail={("bus/pci/drivers_probe", VF), ("bus/pci/drivers/igbvf/bind", VF)})
    result = run_plan(STEPS, writer)
    assert result.outcome is Outcome.ROLLBACK_FAILED
    assert [r.step.step_id for r in result.undo_failed] == ["unbind"]
    assert [s.step_id for s in result.undone] == ["driver-override", "vf-mac"]


@pytest.mark.parametrize(
    ("rel", "value"),
    [
        ("bus/pci/devices/0000:01:10.0/remove", "1"),
        ("bus/pci/devices/0000:01:10.0/../../../../etc/passwd", "x"),
        ("bus/pci/drivers/../../../etc/unbind", VF),
        ("bus/pci/drivers_probe", "0000:01:10.0\n0000:00:00.0"),
        ("bus/pci/devices/0000:01:10.0/driver_override", "vfio pci"),
        ("/sys/bus/pci/drivers_probe", VF),
    ],
)
def test_the_writer_refuses_anything_else(rel: str, value: str) -> None:
    from pcie_failover.adapters.writer import LiveWriter

    with pytest.raises(WriteError, match="refusing"):
        LiveWriter().execute(Action(ActionKind.SYSFS, (rel, value)))


@pytest.mark.parametrize(
    "action",
    [
        Action(ActionKind.IP, ("link", "set", "dev", "x;reboot", "vf", "0", "mac", "52:54:00:00:00:01")),
        Action(ActionKind.FILE_PUT, ("/etc/passwd", "x")),
        Action(ActionKind.FILE_REMOVE, ("/etc/udev/rules.d/../../passwd",)),
    ],
)
def test_the_writer_refuses_other_programs_arguments_and_files(action: Action) -> None:
    from pcie_failover.adapters.writer import LiveWriter

    with pytest.raises(WriteError, match="refusing"):
        LiveWriter().execute(action)


# -- --undo: the interface's MAC is best effort; a rollback re-checks use before it unbinds a host driver -----

GIVEN_BACK = "02:11:22:33:44:55"
UNDO_STEPS = (
    mac_step(VfRef("enp1s0", 0, VF), "00:00:00:00:00:00", "52:54:00:6f:55:a0", "admin"),
    unbind_step(VF, "vfio-pci"),
    override_step(VF, None, "vfio-pci"),
    probe_step(VF, "igbvf"),
    Step("vf-address", VF, "give back", Action(ActionKind.VF_ADDRESS, (VF, GIVEN_BACK)), (), "left", best_effort=True),
)


def test_a_failing_vf_address_is_a_warning_and_rolls_nothing_back() -> None:
    writer = FakeWriter(drivers={VF: "vfio-pci"}, fail={(VF, GIVEN_BACK)})
    result = run_plan(UNDO_STEPS, writer)
    assert result.outcome is Outcome.PREPARED
    assert (result.failed, result.undone, result.undo_failed) == (None, (), ())
    assert [(r.step.step_id, r.error) for r in result.warnings] == [
        ("vf-address", f"{VF} {GIVEN_BACK}: refused by the test")
    ]
    assert writer.drivers[VF] == "igbvf"  # not unbound again
    assert writer.log == [step.action.args for step in UNDO_STEPS]


def test_a_rollback_does_not_unbind_a_host_driver_in_use_now() -> None:
    """A step after the host driver's probe fails; meanwhile NetworkManager brought its interface up."""
    failing = Step("probe", "0000:01:10.1", "probe a member", Action(ActionKind.SYSFS, ("bus/pci/drivers_probe", "x")))
    writer = FakeWriter(drivers={VF: "vfio-pci"}, fail={("bus/pci/drivers_probe", "x")})
    asked: list[tuple[str, str]] = []

    def guard(address: str, driver: str) -> str | None:
        asked.append((address, driver))
        return "eth3 is up" if driver == "igbvf" else None

    result = run_plan((*UNDO_STEPS[:4], failing), writer, guard)
    assert result.outcome is Outcome.ROLLBACK_FAILED
    assert asked == [(VF, "igbvf")]
    assert [(r.step.step_id, r.error) for r in result.undo_failed] == [
        ("probe", "not undone, and the rollback stopped here: eth3 is up")
    ]
    assert result.undone == ()
    assert writer.drivers[VF] == "igbvf"
    assert writer.log[-1] == ("bus/pci/drivers_probe", "x")  # nothing after: the MAC under it is not changed
    free = FakeWriter(drivers={VF: "vfio-pci"}, fail={("bus/pci/drivers_probe", "x")})
    result = run_plan((*UNDO_STEPS[:4], failing), free, lambda _a, _d: None)
    assert result.outcome is Outcome.ROLLED_BACK
    assert [s.step_id for s in result.undone] == ["probe", "driver-override", "unbind", "vf-mac"]
    assert free.drivers[VF] == "vfio-pci"


def test_a_guard_sees_driverctl_rebinding_as_an_unbind() -> None:
    from pcie_failover.prepare.runner import unbinds

    writer = FakeWriter(drivers={VF: "igbvf"})
    assert unbinds(Action(ActionKind.DRIVERCTL, ("set-override", VF, "vfio-pci")), writer) == (VF, "igbvf")
    assert unbinds(Action(ActionKind.DRIVERCTL, ("--noprobe", "unset-override", VF)), writer) is None
    assert unbinds(Action(ActionKind.SYSFS, ("bus/pci/drivers/igbvf/unbind", VF)), writer) == (VF, "igbvf")
    assert unbinds(Action(ActionKind.SYSFS, ("bus/pci/drivers/igbvf/bind", VF)), writer) is None
