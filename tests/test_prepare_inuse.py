"""`prepare` never changes a device in use: VFIO files held by a process, upper devices, an interface in another
network namespace, IOMMU group members it may not move; and an IPv6 link-local address alone is no use."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Function, Host, Netdev, RootComplex, SriovPf
from fixtures_sysfs.hosts import DEMO_MAC, demo_host, demo_pf
from pcie_failover.adapters.proc import Holders, OpenFile, ProcReader
from pcie_failover.commands.check import checked
from pcie_failover.model.address import DeviceQuery, MacAddress
from pcie_failover.model.check import CheckOptions
from pcie_failover.prepare.command import read_surroundings, run_prepare, run_undo
from pcie_failover.prepare.model import Action, Outcome, Plan, UndoRecord, WriteError
from pcie_failover.prepare.plan import Request, plan_prepare
from pcie_failover.prepare.store import UndoStore
from pcie_failover.sysfs.host import open_root

MAC = "52:54:00:6f:55:dd"
PF = "enp94s0f0np0"
QEMU = "qemu-system-x86"


class Writer:
    """Records every write (none is expected in these tests)."""

    def __init__(self) -> None:
        self.log: list[Action] = []

    def execute(self, action: Action) -> None:
        self.log.append(action)
        raise WriteError("no write was expected")

    def driver_of(self, address: str) -> str:  # noqa: ARG002
        return ""

    def program(self, name: str) -> str:
        return name


def fake_proc(tmp_path: Path, processes: dict[int, tuple[str, tuple[str, ...]]]) -> str:
    """A directory laid out like /proc: <pid>/comm and <pid>/fd/<n> links to the given paths."""
    proc = tmp_path / "proc"
    proc.mkdir(exist_ok=True)
    for pid, (comm, files) in processes.items():
        (proc / str(pid) / "fd").mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        for number, target in enumerate(files):
            (proc / str(pid) / "fd" / str(number)).symlink_to(target)
    (proc / "self").mkdir(exist_ok=True)  # not a pid: skipped
    return str(proc)


def _plan(root: Path, device: str, request: Request, proc: str | None = None) -> Plan:
    sysfs = open_root(str(root))
    check_input, report = checked(sysfs, DeviceQuery.parse(device), CheckOptions(mac=request.mac), strict=False)
    reader = None if proc is None else ProcReader(proc)
    surroundings = read_surroundings(sysfs, check_input, request.persist, False, proc=reader)
    return plan_prepare(check_input, report.results, request, surroundings)[0]


# -- 1. a VF on vfio-pci held open by a process -------------------------------------------------------------


@pytest.mark.parametrize("held", ["/dev/vfio/23", "/dev/vfio/devices/vfio0"])
def test_a_vf_held_open_is_refused_naming_the_process(
    host_root: Callable[[Host], Path], tmp_path: Path, held: str
) -> None:
    proc = fake_proc(tmp_path, {4242: (QEMU, ("/dev/null", held)), 77: ("bash", ("/dev/pts/0",))})
    writer = Writer()
    report = run_prepare(
        open_root(str(host_root(demo_host()))), DeviceQuery.parse("5e:00.2"), Request(MacAddress.parse(MAC)), writer,
        dry_run=False, state_dir=str(tmp_path / "s"), proc_root=proc,
    )  # fmt: skip
    assert report.outcome is Outcome.REFUSED
    assert report.exit_code == 1
    assert report.plan.steps == ()
    assert report.plan.refusals == (
        f"0000:5e:00.2 is in use: {held} is open in pid 4242 ({QEMU}); prepare changes nothing under a running "
        "guest or VFIO application: stop it first",
    )
    assert writer.log == []
    assert not (tmp_path / "s" / "0000:5e:00.2.json").exists()


def test_a_no_op_prepare_of_a_vf_held_open_is_unchanged_and_writes_nothing(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    proc = fake_proc(tmp_path, {4242: (QEMU, ("/dev/vfio/23",))})
    writer = Writer()
    report = run_prepare(
        open_root(str(host_root(demo_host()))), DeviceQuery.parse("5e:00.2"), Request(MacAddress.parse(DEMO_MAC)),
        writer, dry_run=False, state_dir=str(tmp_path / "s"), proc_root=proc,
    )  # fmt: skip
    assert report.outcome is Outcome.UNCHANGED
    assert report.exit_code == 0
    assert report.plan.kept == (f"VF 0's admin MAC is already {DEMO_MAC}", "0000:5e:00.2 is already on vfio-pci")
    assert writer.log == []


def test_undo_of_a_vf_held_open_is_refused_and_keeps_the_record(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    proc = fake_proc(tmp_path, {4242: (QEMU, ("/dev/vfio/23",))})
    with UndoStore.opened(str(tmp_path / "s"), create=True) as store:
        assert store is not None
        store.save(UndoRecord("0000:5e:00.2", PF, 0, "mlx5_core", None, "52:54:00:11:22:33", "vf-driver"))
    writer = Writer()
    report = run_undo(
        open_root(str(host_root(demo_host()))), DeviceQuery.parse("5e:00.2"), writer, dry_run=False,
        state_dir=str(tmp_path / "s"), proc_root=proc,
    )  # fmt: skip
    assert report.outcome is Outcome.REFUSED
    assert report.plan.refusals == (
        f"0000:5e:00.2 is in use: /dev/vfio/23 is open in pid 4242 ({QEMU}); prepare changes nothing under a "
        "running guest or VFIO application: stop it first",
    )
    assert writer.log == []
    assert (tmp_path / "s" / "0000:5e:00.2.json").exists()


def test_a_process_that_cannot_be_inspected_leaves_it_unknown(
    host_root: Callable[[Host], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = fake_proc(tmp_path, {4242: (QEMU, ("/dev/null",)), 4243: ("dpdk", ("/dev/null",))})
    listdir = os.listdir

    def denied(path: str) -> list[str]:
        if path == f"{proc}/4243/fd":
            raise PermissionError(errno.EACCES, "Permission denied")
        return listdir(path)

    monkeypatch.setattr(os, "listdir", denied)
    plan = _plan(host_root(demo_host()), "5e:00.2", Request(MacAddress.parse(MAC)), proc)
    assert plan.refusals == (
        "cannot tell whether a process holds 0000:5e:00.2's VFIO files open: the open files of 1 process(es) "
        "could not be read (run as root)",
    )


def test_the_proc_reader_skips_vanished_processes_and_counts_unreadable_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = fake_proc(tmp_path, {10: (QEMU, ("/dev/vfio/7", "/dev/vfio/7")), 11: ("x", ("/dev/vfio/7",))})
    os.mkdir(f"{proc}/12")  # exited between the listing and the read: no fd/
    (Path(proc) / "11" / "comm").unlink()  # comm gone meanwhile: "?"
    readlink = os.readlink

    def flaky(path: str) -> str:
        if path == f"{proc}/10/fd/1":
            raise FileNotFoundError(errno.ENOENT, "closed meanwhile")
        return readlink(path)

    monkeypatch.setattr(os, "readlink", flaky)
    assert ProcReader(proc).holders(frozenset({"/dev/vfio/7"})) == Holders(
        (OpenFile(10, QEMU, "/dev/vfio/7"), OpenFile(11, "?", "/dev/vfio/7")), 0
    )
    assert ProcReader(str(tmp_path / "absent")).holders(frozenset({"/dev/vfio/7"})).error == (
        f"cannot list {tmp_path / 'absent'}: No such file or directory"
    )
    assert ProcReader(str(tmp_path / "absent")).holders(frozenset()) == Holders()


# -- 3. 4. 6. the VF's own interface ------------------------------------------------------------------------


def _vf1(netdevs: tuple[Netdev, ...]) -> Host:
    base = demo_pf()
    return demo_host(pf=replace(base, vfs=(base.vfs[0], replace(base.vfs[1], netdevs=netdevs), *base.vfs[2:])))


def test_a_net_driver_with_no_interface_visible_is_refused(host_root: Callable[[Host], Path]) -> None:
    plan = _plan(host_root(_vf1(())), "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.steps == ()
    assert plan.refusals == (
        "cannot tell whether 0000:5e:00.3 is in use: mlx5_core is bound but no network interface of it is visible "
        "in this network namespace (moved to another namespace, where it may be in use): move it back, or unbind "
        "it by hand",
    )


def add_upper(root: Path, ifname: str, upper: str) -> Path:
    """`class/net/IF/upper_UPPER`, as netdev_upper_dev_link() makes it."""
    (root / "class" / "net" / ifname / f"upper_{upper}").symlink_to(f"../../../../virtual/net/{upper}")
    return root


@pytest.mark.parametrize("upper", ["enp94s0f0v1.100", "macvlan0"])
def test_a_vf_with_an_upper_device_is_refused(host_root: Callable[[Host], Path], upper: str) -> None:
    root = add_upper(host_root(_vf1((Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False),))), "enp94s0f0v1", upper)
    plan = _plan(root, "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.refusals == (
        f"0000:5e:00.3 is in use on this host: enp94s0f0v1 has the upper device {upper} (a VLAN, macvlan, ipvlan, "
        "bridge or bond on top of it)",
    )


def test_only_a_link_local_address_is_not_in_use(host_root: Callable[[Host], Path]) -> None:
    netdev = Netdev("enp94s0f0v1", "52:54:00:00:00:01", addresses=("fe80::5054:ff:fe00:1/64",))
    plan = _plan(host_root(_vf1((netdev,))), "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.refusals == ()
    assert [s.step_id for s in plan.steps] == ["vf-mac", "unbind", "driver-override", "probe"]
    netdev = replace(netdev, addresses=("fe80::5054:ff:fe00:1/64", "2001:db8::5/64"))
    plan = _plan(host_root(_vf1((netdev,))), "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.refusals == ("0000:5e:00.3 is in use on this host: enp94s0f0v1 is up with 2001:db8::5/64",)


# -- 2. 9. other members of the IOMMU group -----------------------------------------------------------------


def _with_member(*members: Function | SriovPf, vf0_driver: str | None = None) -> Host:
    base = demo_pf()
    host = demo_host(pf=replace(base, vfs=(replace(base.vfs[0], driver=vf0_driver), *base.vfs[1:])))
    first = host.complexes[0]
    return replace(
        host, complexes=(RootComplex(first.domain, first.bus, (*first.children, *members)), *host.complexes[1:])
    )


NVME = Function("0000:00:17.0", 0x144D, 0xA808, pci_class=0x010802, driver="nvme", iommu_group=23)


@pytest.mark.parametrize("group", [False, True])
def test_a_member_that_is_not_a_network_function_is_refused_with_or_without_group(
    host_root: Callable[[Host], Path], group: bool
) -> None:
    plan = _plan(host_root(_with_member(NVME)), "5e:00.2", Request(MacAddress.parse(MAC), group=group))
    assert plan.steps == ()
    assert plan.group_changes == ()
    assert plan.refusals == (
        "IOMMU group 23 holds 0000:00:17.0 (nvme), class 0x010802, mass storage: not a network function, so "
        "prepare cannot tell whether it is in use (filesystems, swap, RAID) and will not unbind it; stop whatever "
        "uses it and unbind it by hand (echo 0000:00:17.0 > /sys/bus/pci/devices/0000:00:17.0/driver/unbind), or "
        "give the VF a slot in another IOMMU group",
    )


def test_a_member_pf_with_vfs_enabled_is_refused(host_root: Callable[[Host], Path]) -> None:
    pf = SriovPf(
        Function(
            "0000:00:18.0", driver="ixgbe", iommu_group=23, netdevs=(Netdev("eno2", "3c:ec:ef:00:00:02", up=False),)
        ),
        vfs=(Function(""), Function("")),
    )
    plan = _plan(host_root(_with_member(pf)), "5e:00.2", Request(MacAddress.parse(MAC), group=True))
    assert plan.refusals == (
        "IOMMU group 23 holds 0000:00:18.0 (ixgbe), an SR-IOV PF with 2 VFs enabled: a PF never leaves its driver "
        "while its VFs exist",
    )


def test_a_network_member_with_an_upper_or_in_another_namespace_is_refused(host_root: Callable[[Host], Path]) -> None:
    nic = Function(
        "0000:00:19.0", driver="e1000e", iommu_group=23, netdevs=(Netdev("eno3", "3c:ec:ef:00:00:03", up=False),)
    )
    root = add_upper(host_root(_with_member(nic)), "eno3", "bond0")
    plan = _plan(root, "5e:00.2", Request(MacAddress.parse(MAC), group=True))
    assert plan.refusals == (
        "IOMMU group 23 holds 0000:00:19.0 (e1000e), in use on this host (eno3 has the upper device bond0 (a VLAN, "
        "macvlan, ipvlan, bridge or bond on top of it))",
    )
    plan = _plan(
        host_root(_with_member(replace(nic, netdevs=()))), "5e:00.2", Request(MacAddress.parse(MAC), group=True)
    )
    assert plan.refusals == (
        "IOMMU group 23 holds 0000:00:19.0 (e1000e), in use on this host (cannot tell whether it is in use: e1000e "
        "is bound but no network interface of it is visible in this network namespace (moved to another namespace, "
        "where it may be in use): move it back, or unbind it by hand)",
    )


def test_an_unused_network_member_moves_with_group(host_root: Callable[[Host], Path]) -> None:
    nic = Function(
        "0000:00:19.0", driver="e1000e", iommu_group=23, netdevs=(Netdev("eno3", "3c:ec:ef:00:00:03", up=False),)
    )
    plan = _plan(host_root(_with_member(nic)), "5e:00.2", Request(MacAddress.parse(MAC), group=True))
    assert plan.refusals == ()
    assert plan.group_changes == (
        "0000:00:19.0 (e1000e): unbound from e1000e and bound to vfio-pci (same IOMMU group 23)",
    )
    assert [(s.step_id, s.device) for s in plan.steps] == [
        ("vf-mac", "0000:5e:00.2"),
        ("unbind", "0000:00:19.0"),
        ("driver-override", "0000:00:19.0"),
        ("probe", "0000:00:19.0"),
        ("driver-override", "0000:5e:00.2"),
        ("probe", "0000:5e:00.2"),
    ]
