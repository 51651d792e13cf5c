"""The runner through its one seam (a fake writer): order, rollback newest first, a failing undo reported."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pcie_failover.prepare.model import Action, ActionKind, Outcome, WriteError
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
