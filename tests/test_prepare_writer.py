"""The live writer's own write path, into a directory standing in for /sys (its injection seam), and a run whose
bind fails end to end: the real writes, the rollback, and the report of which steps ran and were undone."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import demo_host
from pcie_failover.adapters.writer import LiveWriter
from pcie_failover.model.address import DeviceQuery, MacAddress
from pcie_failover.prepare.command import run_prepare
from pcie_failover.prepare.model import Action, ActionKind, Outcome, WriteError
from pcie_failover.prepare.plan import Request, udev_rule
from pcie_failover.prepare.report import render_text, step_rows
from pcie_failover.prepare.runner import run_plan
from pcie_failover.sysfs.host import open_root

VF = "0000:5e:00.3"
MAC = "52:54:00:6f:55:dd"
PF = "enp94s0f0np0"


def fake_ip(tmp_path: Path, fail_on: str = "") -> tuple[str, Path]:
    """An `ip` that logs its arguments (one line per run) and fails when they contain `fail_on`."""
    log = tmp_path / "ip.log"
    program = tmp_path / "ip"
    program.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {log}\n'
        + (
            f'case "$*" in *{fail_on}*) echo "RTNETLINK answers: Operation not permitted" >&2; exit 2;; esac\n'
            if fail_on
            else ""
        )
    )
    program.chmod(0o755)
    return str(program), log


def with_attributes(tree: Path) -> Path:
    """The write-only attributes the kernel has and a built tree does not: drivers_probe, each driver's bind, unbind."""
    (tree / "bus/pci/drivers_probe").write_text("")
    for driver in (tree / "bus/pci/drivers").iterdir():
        for name in ("bind", "unbind"):
            (driver / name).write_text("")
    return tree


def writer_for(tree: Path, tmp_path: Path, **kwargs: object) -> LiveWriter:
    program, _ = fake_ip(tmp_path)
    return LiveWriter(str(tree), require_sysfs_mount=False, programs={"ip": program, "modprobe": None}, **kwargs)  # type: ignore[arg-type]


def test_an_attribute_is_written_in_one_write_as_echo_would(host_root: Callable[[Host], Path], tmp_path: Path) -> None:
    tree = with_attributes(host_root(demo_host()))
    writer = writer_for(tree, tmp_path)
    writer.execute(Action(ActionKind.SYSFS, (f"bus/pci/devices/{VF}/driver_override", "vfio-pci")))
    assert (tree / "bus/pci/devices" / VF / "driver_override").read_text() == "vfio-pci\n"
    writer.execute(Action(ActionKind.SYSFS, (f"bus/pci/devices/{VF}/driver_override", "")))
    assert (tree / "bus/pci/devices" / VF / "driver_override").read_text() == "\n"
    assert writer.driver_of(VF) == "mlx5_core"
    assert writer.driver_of("0000:5e:00.4") == ""


def test_a_link_or_a_directory_in_place_of_an_attribute_is_never_written(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    tree = with_attributes(host_root(demo_host()))
    writer = writer_for(tree, tmp_path)
    secret = tmp_path / "secret"
    secret.write_text("keep\n")
    override = tree / "bus/pci/devices" / VF / "driver_override"
    override.unlink()
    override.symlink_to(secret)
    with pytest.raises(
        WriteError, match=r"^cannot open .*/driver_override: Too many levels of symbolic links \(ELOOP\)$"
    ):
        writer.execute(Action(ActionKind.SYSFS, (f"bus/pci/devices/{VF}/driver_override", "vfio-pci")))
    assert secret.read_text() == "keep\n"
    (tree / "bus/pci/drivers_probe").unlink()
    (tree / "bus/pci/drivers_probe").mkdir()
    with pytest.raises(WriteError, match=r"^cannot open .*/bus/pci/drivers_probe: Is a directory \(EISDIR\)$"):
        writer.execute(Action(ActionKind.SYSFS, ("bus/pci/drivers_probe", VF)))


def test_a_directory_that_is_not_the_sysfs_mount_is_refused(host_root: Callable[[Host], Path]) -> None:
    tree = with_attributes(host_root(demo_host()))
    with pytest.raises(WriteError, match=r"is not the sysfs mount: nothing written$"):
        LiveWriter(str(tree)).execute(Action(ActionKind.SYSFS, (f"bus/pci/devices/{VF}/driver_override", "vfio-pci")))
    assert (tree / "bus/pci/devices" / VF / "driver_override").read_text() == "(null)\n"


def test_programs_run_with_their_arguments_and_fail_with_their_last_line(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    tree = with_attributes(host_root(demo_host()))
    program, log = fake_ip(tmp_path, fail_on="trust")
    writer = LiveWriter(str(tree), require_sysfs_mount=False, programs={"ip": program, "modprobe": None})
    writer.execute(Action(ActionKind.IP, ("link", "set", "dev", PF, "vf", "1", "mac", MAC)))
    writer.execute(Action(ActionKind.VF_ADDRESS, (VF, "52:54:00:00:00:01")))  # the VF's interface, found now
    with pytest.raises(
        WriteError,
        match=re.escape("ip link set dev enp94s0f0np0 vf 1 trust on: RTNETLINK answers: Operation not permitted"),
    ):
        writer.execute(Action(ActionKind.IP, ("link", "set", "dev", PF, "vf", "1", "trust", "on")))
    with pytest.raises(WriteError, match=re.escape("modprobe vfio-pci: modprobe is not installed")):
        writer.execute(Action(ActionKind.MODPROBE, ("vfio-pci",)))
    assert log.read_text().splitlines() == [
        f"link set dev {PF} vf 1 mac {MAC}",
        "link set dev enp94s0f0v1 address 52:54:00:00:00:01",
        f"link set dev {PF} vf 1 trust on",
    ]
    with pytest.raises(
        WriteError,
        match=re.escape("0000:5e:00.4 has no network interface to give 52:54:00:00:00:01: No such file or directory"),
    ):
        writer.execute(Action(ActionKind.VF_ADDRESS, ("0000:5e:00.4", "52:54:00:00:00:01")))


def test_a_udev_rule_is_written_atomically_and_removed(host_root: Callable[[Host], Path], tmp_path: Path) -> None:
    etc_root = tmp_path / "root"
    (etc_root / "etc/udev/rules.d").mkdir(parents=True)
    writer = writer_for(host_root(demo_host()), tmp_path, config_root=str(etc_root))
    path = f"/etc/udev/rules.d/70-pcie-failover-{VF}.rules"
    writer.execute(Action(ActionKind.FILE_PUT, (path, udev_rule(VF), "0644")))
    written = etc_root / path.lstrip("/")
    assert written.read_text() == udev_rule(VF)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644
    assert os.listdir(written.parent) == [written.name]  # no temporary file left
    writer.execute(Action(ActionKind.FILE_REMOVE, (path,)))
    assert not written.exists()


class KernelTree(LiveWriter):
    """The live writer on a built tree, with the kernel's answer to each write played on the tree:
    unbind removes the `driver` link, bind and drivers_probe make it (the override's driver, unless it is
    `refuse`, whose probe fails as vfio-pci's does without an IOMMU group)."""

    def __init__(self, tree: Path, tmp_path: Path, refuse: str = "") -> None:
        program, self.ip_log = fake_ip(tmp_path)
        super().__init__(str(tree), require_sysfs_mount=False, programs={"ip": program})
        self.tree = tree
        self.refuse = refuse
        self.writes: list[tuple[str, str]] = []

    def _bind(self, address: str, driver: str) -> None:
        link = self.tree / "bus/pci/devices" / address / "driver"
        if driver and driver != self.refuse:
            link.symlink_to(os.path.relpath(self.tree / "bus/pci/drivers" / driver, link.resolve().parent))

    def write_attribute(self, rel: str, value: str) -> None:
        super().write_attribute(rel, value)
        self.writes.append((rel, value))
        parts = rel.split("/")
        if parts[-1] == "unbind":
            (self.tree / "bus/pci/devices" / value / "driver").unlink()
        elif parts[-1] == "bind":
            self._bind(value, parts[-2])
        elif rel == "bus/pci/drivers_probe":
            override = (self.tree / "bus/pci/devices" / value / "driver_override").read_text().strip()
            self._bind(value, override)


def test_a_bind_that_fails_rolls_back_through_the_live_write_path(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    tree = with_attributes(host_root(demo_host()))
    writer = KernelTree(tree, tmp_path, refuse="vfio-pci")
    report = run_prepare(
        open_root(str(tree)), DeviceQuery.parse(VF), Request(MacAddress.parse(MAC)), writer, dry_run=False,
        state_dir=str(tmp_path / "state"),
    )  # fmt: skip
    assert report.outcome is Outcome.ROLLED_BACK
    assert report.exit_code == 5
    assert [(status, step.step_id, error) for status, step, error in step_rows(report)] == [
        ("undone", "vf-mac", None),
        ("undone", "unbind", None),
        ("undone", "driver-override", None),
        ("failed", "probe", f"{VF} has no driver after the write, not vfio-pci (dmesg says why)"),
    ]
    assert writer.writes == [
        ("bus/pci/drivers/mlx5_core/unbind", VF),
        (f"bus/pci/devices/{VF}/driver_override", "vfio-pci"),
        ("bus/pci/drivers_probe", VF),
        (f"bus/pci/devices/{VF}/driver_override", ""),
        ("bus/pci/drivers/mlx5_core/bind", VF),
    ]
    assert writer.ip_log.read_text().splitlines() == [
        f"link set dev {PF} vf 1 mac {MAC}",
        f"link set dev {PF} vf 1 mac 00:00:00:00:00:00",
        "link set dev enp94s0f0v1 address 52:54:00:00:00:01",
    ]
    assert writer.driver_of(VF) == "mlx5_core"
    assert (tree / "bus/pci/devices" / VF / "driver_override").read_text() == "\n"
    assert not (tmp_path / "state" / f"{VF}.json").exists()
    lines = render_text(report).splitlines()
    assert lines[:5] == [
        f"pcie-failover prepare {VF}: rolled-back",
        f"  undone       set VF 1's admin MAC through {PF}: {MAC}",
        f"  undone       unbind mlx5_core from {VF}",
        f"  undone       let only vfio-pci bind {VF}",
        f"  failed       probe {VF}: vfio-pci binds it: {VF} has no driver after the write, not vfio-pci"
        " (dmesg says why)",
    ]
    assert "  every step taken was undone: the undo record was removed" in lines


def test_the_same_run_succeeds_when_the_bind_does(host_root: Callable[[Host], Path], tmp_path: Path) -> None:
    tree = with_attributes(host_root(demo_host()))
    writer = KernelTree(tree, tmp_path)
    result = run_plan(
        run_prepare(
            open_root(str(tree)), DeviceQuery.parse(VF), Request(MacAddress.parse(MAC)), writer, dry_run=True,
        ).plan.steps,
        writer,
    )  # fmt: skip
    assert result.outcome is Outcome.PREPARED
    assert writer.driver_of(VF) == "vfio-pci"
