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
from pcie_failover.adapters.proc import ProcReader
from pcie_failover.check.command import checked
from pcie_failover.model.address import DeviceQuery, MacAddress
from pcie_failover.model.check import CheckOptions
from pcie_failover.model.host import Unreadable
from pcie_failover.model.occupancy import DeviceFile, Holders, OpenFile
from pcie_failover.prepare.command import (
    read_surroundings,
    rollback_guard,
    run_prepare,
    run_undo,
    with_down_addresses,
)
from pcie_failover.prepare.model import Action, GroupMemberState, Outcome, Plan, UndoRecord, WriteError
from pcie_failover.prepare.plan import Request, plan_prepare, plan_undo
from pcie_failover.prepare.report import PrepareReport
from pcie_failover.prepare.store import UndoStore
from pcie_failover.sysfs.host import netlink_for, open_root
from tests.support.prepare import flush, unseen, up_why

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
    netlink = netlink_for(sysfs)
    check_input, report = checked(
        sysfs, DeviceQuery.parse(device), CheckOptions(mac=request.mac), strict=False, netlink=netlink
    )
    check_input = with_down_addresses(netlink, check_input)
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
        f"bridge or bond on top of it): {unseen('enp94s0f0v1', 'delete them')}",
    )


UP_WHY = up_why("enp94s0f0v1")


def test_an_interface_that_is_up_is_in_use_even_with_only_a_link_local_address(
    host_root: Callable[[Host], Path],
) -> None:
    """Up is use: a macvlan moved to another namespace leaves no `upper_*` link here, AF_PACKET/XDP none at all."""
    netdev = Netdev("enp94s0f0v1", "52:54:00:00:00:01", addresses=("fe80::5054:ff:fe00:1/64",))
    plan = _plan(host_root(_vf1((netdev,))), "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.steps == ()
    assert plan.refusals == (f"0000:5e:00.3 is in use on this host: {UP_WHY}",)
    # down: a link-local address alone is no use
    plan = _plan(host_root(_vf1((replace(netdev, up=False),))), "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.refusals == ()
    assert [s.step_id for s in plan.steps] == ["vf-mac", "unbind", "driver-override", "probe"]
    netdev = replace(netdev, addresses=("fe80::5054:ff:fe00:1/64", "2001:db8::5/64"))
    plan = _plan(host_root(_vf1((netdev,))), "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.refusals == (
        f"0000:5e:00.3 is in use on this host: enp94s0f0v1 is up with 2001:db8::5/64: {flush('enp94s0f0v1')}",
    )


@pytest.mark.parametrize(
    ("netdev", "why"),
    [
        (
            Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False, addresses=("10.0.0.2/24",)),
            "enp94s0f0v1 is down but has 10.0.0.2/24",
        ),
        (
            Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False, routes=("10.9.0.0/16",)),
            "enp94s0f0v1 carries routes to 10.9.0.0/16",
        ),
    ],
)
def test_addresses_and_routes_count_on_a_down_interface_too(
    host_root: Callable[[Host], Path], netdev: Netdev, why: str
) -> None:
    plan = _plan(host_root(_vf1((netdev,))), "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.refusals == (f"0000:5e:00.3 is in use on this host: {why}: {flush('enp94s0f0v1')}",)


def test_an_up_member_is_not_moved_by_group(host_root: Callable[[Host], Path]) -> None:
    nic = Function("0000:00:19.0", driver="e1000e", iommu_group=23, netdevs=(Netdev("eno3", "3c:ec:ef:00:00:03"),))
    plan = _plan(host_root(_with_member(nic)), "5e:00.2", Request(MacAddress.parse(MAC), group=True))
    assert plan.refusals == (f"IOMMU group 23 holds 0000:00:19.0 (e1000e), in use on this host ({up_why('eno3')})",)


@pytest.mark.parametrize("driver", ["igb_uio", "uio_pci_generic"])
def test_a_vf_on_a_userspace_io_driver_is_refused_saying_so(host_root: Callable[[Host], Path], driver: str) -> None:
    base = demo_pf()
    vf1 = replace(base.vfs[1], driver=driver, netdevs=())
    root = host_root(demo_host(pf=replace(base, vfs=(base.vfs[0], vf1, *base.vfs[2:]))))
    plan = _plan(root, "5e:00.3", Request(MacAddress.parse(MAC)))
    assert plan.refusals == (
        f"cannot tell whether 0000:5e:00.3 is in use: {driver} is a userspace I/O driver: DPDK or another program "
        f"may drive the device, and this host cannot show which: stop it, then unbind {driver} by hand",
    )


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
        f"macvlan, ipvlan, bridge or bond on top of it): {unseen('eno3', 'delete them')})",
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


# -- a process holding only a VFIO device file (group and container closed) -------------------------------------

DEVICE_FILE = "anon_inode:[vfio-device]"


def _device_dir(root: Path, address: str) -> Path:
    return (root / "bus" / "pci" / "devices" / address).resolve()


def set_enable(root: Path, address: str, count: int) -> Path:
    """`enable`, the device's enable count (vfio-pci: above 0 only while a VFIO user has it open)."""
    (_device_dir(root, address) / "enable").write_text(f"{count}\n")
    return root


def syspath(root: Path, address: str) -> str:
    return "/sys/" + str(_device_dir(root, address).relative_to(root.resolve()))


def with_fdinfo(proc: str, pid: int, fd: int, text: str) -> str:
    (Path(proc) / str(pid) / "fdinfo").mkdir(exist_ok=True)
    (Path(proc) / str(pid) / "fdinfo" / str(fd)).write_text(text)
    return proc


def _prepare_vf0(root: Path, proc: str, tmp_path: Path, writer: Writer) -> PrepareReport:
    return run_prepare(
        open_root(str(root)), DeviceQuery.parse("5e:00.2"), Request(MacAddress.parse(MAC)), writer, dry_run=False,
        state_dir=str(tmp_path / "s"), proc_root=proc,
    )  # fmt: skip


HELD = "; prepare changes nothing under a running guest or VFIO application: stop it first"


def test_a_vf_open_through_a_device_file_alone_is_refused_by_its_enable_count(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    """holder.py: container and group closed, only `anon_inode:[vfio-device]` left; the kernel shows the device
    enabled (vfio_pci_core_enable()), so prepare refuses, naming the processes holding device files."""
    root = set_enable(host_root(demo_host()), "0000:5e:00.2", 1)
    proc = fake_proc(tmp_path, {4242: (QEMU, ("/dev/null", DEVICE_FILE)), 77: ("bash", ("/dev/pts/0",))})
    writer = Writer()
    report = _prepare_vf0(root, proc, tmp_path, writer)
    assert report.outcome is Outcome.REFUSED
    assert report.plan.refusals == (
        "0000:5e:00.2 is in use: the kernel shows it enabled (enable 1), as vfio-pci does only while a VFIO user "
        f"has it open (VFIO device files are open in pid 4242 ({QEMU})){HELD}",
    )
    assert writer.log == []
    assert not (tmp_path / "s").exists()
    # --undo too, and the record is kept
    (tmp_path / "s").mkdir(mode=0o700)
    with UndoStore.opened(str(tmp_path / "s")) as store:
        assert store is not None
        store.save(UndoRecord("0000:5e:00.2", PF, 0, "mlx5_core", None, "52:54:00:11:22:33", "vf-driver"))
    undo = run_undo(
        open_root(str(root)), DeviceQuery.parse("5e:00.2"), writer, dry_run=False, state_dir=str(tmp_path / "s"),
        proc_root=proc,
    )  # fmt: skip
    assert undo.outcome is Outcome.REFUSED
    assert undo.plan.refusals == report.plan.refusals
    assert writer.log == []
    assert (tmp_path / "s" / "0000:5e:00.2.json").exists()


def test_a_device_file_of_another_device_does_not_refuse_a_vf_that_is_not_enabled(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    root = set_enable(host_root(demo_host()), "0000:5e:00.2", 0)
    proc = fake_proc(tmp_path, {4242: (QEMU, (DEVICE_FILE,))})
    plan = _plan(root, "5e:00.2", Request(MacAddress.parse(MAC)), proc)
    assert plan.refusals == ()
    assert [s.step_id for s in plan.steps] == ["vf-mac"]


def test_with_no_enable_count_any_unnamed_device_file_leaves_it_unknown(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    root = host_root(demo_host())  # a tree without `enable`
    proc = fake_proc(tmp_path, {4242: (QEMU, (DEVICE_FILE,)), 4243: ("dpdk-testpmd", (DEVICE_FILE, DEVICE_FILE))})
    plan = _plan(root, "5e:00.2", Request(MacAddress.parse(MAC)), proc)
    enable = syspath(root, "0000:5e:00.2").removeprefix("/sys/") + "/enable"
    assert plan.refusals == (
        "cannot tell whether a process holds 0000:5e:00.2's VFIO files open: a VFIO device file is open in pid "
        f"4242 ({QEMU}), pid 4243 (dpdk-testpmd), and prepare cannot tell which device it is ({enable}: "
        "ENOENT (No such file or directory)): stop it first",
    )
    assert plan.steps == ()


def test_a_device_file_fdinfo_names_is_told_apart(host_root: Callable[[Host], Path], tmp_path: Path) -> None:
    """Linux 6.10+ names the device of a VFIO device file in fdinfo (`vfio-device-syspath:`)."""
    root = host_root(demo_host())
    proc = fake_proc(tmp_path, {4242: (QEMU, ("/dev/null", DEVICE_FILE))})
    with_fdinfo(proc, 4242, 1, f"pos:\t0\nflags:\t02000002\nvfio-device-syspath: {syspath(root, '0000:5e:00.2')}\n")
    plan = _plan(root, "5e:00.2", Request(MacAddress.parse(MAC)), proc)
    assert plan.refusals == (f"0000:5e:00.2 is in use: a VFIO device file of it is open in pid 4242 ({QEMU}){HELD}",)
    with_fdinfo(proc, 4242, 1, f"vfio-device-syspath: {syspath(root, '0000:5e:00.3')}\n")
    plan = _plan(root, "5e:00.2", Request(MacAddress.parse(MAC)), proc)
    assert plan.refusals == ()


def test_the_proc_reader_lists_device_files_with_what_fdinfo_says(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {10: (QEMU, (DEVICE_FILE, DEVICE_FILE, "/dev/vfio/7")), 11: ("x", ("/dev/null",))})
    with_fdinfo(proc, 10, 0, "vfio-device-syspath: /sys/devices/pci0000:00/0000:00:01.0\n")
    assert ProcReader(proc).holders(frozenset({"/dev/vfio/7"}), device_files=True) == Holders(
        (OpenFile(10, QEMU, "/dev/vfio/7"),),
        0,
        device_files=(DeviceFile(10, QEMU, "/sys/devices/pci0000:00/0000:00:01.0"), DeviceFile(10, QEMU, None)),
    )
    assert ProcReader(proc).holders(frozenset({"/dev/vfio/7"})).device_files == ()


# -- --undo: every device it changes is checked as it is now -----------------------------------------------------


def test_undo_of_a_vf_bound_to_its_host_driver_by_hand_and_used_is_refused(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    """Recorded without a driver; someone bound the host driver since, gave it an address and set it up."""
    netdev = Netdev("enp94s0f0v1", "52:54:00:00:00:01", addresses=("10.8.8.2/24",))
    root = host_root(_vf1((netdev,)))
    with UndoStore.opened(str(tmp_path / "s"), create=True) as store:
        assert store is not None
        store.save(UndoRecord("0000:5e:00.3", PF, 1, None, None, "52:54:00:11:22:33", "unproven"))
    writer = Writer()
    report = run_undo(
        open_root(str(root)), DeviceQuery.parse("5e:00.3"), writer, dry_run=False, state_dir=str(tmp_path / "s"),
        proc_root=fake_proc(tmp_path, {}),
    )  # fmt: skip
    assert report.outcome is Outcome.REFUSED
    assert report.plan.refusals == (
        f"0000:5e:00.3 is in use on this host: enp94s0f0v1 is up with 10.8.8.2/24: {flush('enp94s0f0v1')}",
    )
    assert writer.log == []
    assert (tmp_path / "s" / "0000:5e:00.3.json").exists()


def test_undo_that_gives_a_used_interface_its_mac_back_is_refused(host_root: Callable[[Host], Path]) -> None:
    """The VFs re-created: the VF is on its host driver again, as recorded, and up: the vf-mac and vf-address
    steps would change the MAC under whatever uses it."""
    root = host_root(_vf1((Netdev("enp94s0f0v1", "52:54:00:00:00:01"),)))
    sysfs = open_root(str(root))
    check_input, _ = checked(sysfs, DeviceQuery.parse("5e:00.3"), CheckOptions(), strict=False)
    record = UndoRecord("0000:5e:00.3", PF, 1, "mlx5_core", None, "52:54:00:00:00:09", "vf-driver")
    surroundings = read_surroundings(sysfs, check_input, None, False)
    plan = plan_undo(check_input, record, surroundings)
    assert plan.refusals == (f"0000:5e:00.3 is in use on this host: {UP_WHY}",)
    down = host_root(_vf1((Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False),)))
    sysfs = open_root(str(down))
    check_input, _ = checked(sysfs, DeviceQuery.parse("5e:00.3"), CheckOptions(), strict=False)
    plan = plan_undo(check_input, record, read_surroundings(sysfs, check_input, None, False))
    assert plan.refusals == ()
    assert [s.step_id for s in plan.steps] == ["vf-mac", "vf-address"]


class OkWriter(Writer):
    """Every write succeeds; the driver is what the last write expected."""

    def execute(self, action: Action) -> None:
        self.log.append(action)

    def driver_of(self, address: str) -> str:
        for action in reversed(self.log):
            if action.expect_driver and action.expect_driver[0] == address:
                return action.expect_driver[1]
        return ""


@pytest.mark.parametrize("held", ["cdev", "enable"])
def test_undo_refuses_a_group_member_in_use_through_its_own_files(
    host_root: Callable[[Host], Path], tmp_path: Path, held: str
) -> None:
    """After `prepare --group` both are on vfio-pci; a guest uses the member through iommufd (its own
    `/dev/vfio/devices/vfioN`), or through a device file alone (its enable count)."""
    nic = Function("0000:00:19.0", driver="vfio-pci", iommu_group=23)
    root = host_root(_with_member(nic, vf0_driver="vfio-pci"))
    cdev = _device_dir(root, "0000:00:19.0") / "vfio-dev" / "vfio0"
    cdev.rename(cdev.with_name("vfio7"))
    files = ("/dev/iommu", "/dev/vfio/devices/vfio7") if held == "cdev" else (DEVICE_FILE,)
    if held == "enable":
        set_enable(root, "0000:00:19.0", 1)
        set_enable(root, "0000:5e:00.2", 0)
    proc = fake_proc(tmp_path, {4242: (QEMU, files)})
    with UndoStore.opened(str(tmp_path / "s"), create=True) as store:
        assert store is not None
        store.save(
            UndoRecord(
                "0000:5e:00.2", PF, 0, "vfio-pci", None, DEMO_MAC, "admin",
                group=(GroupMemberState("0000:00:19.0", "e1000e", None),),
            )
        )  # fmt: skip
    writer = OkWriter()
    report = run_undo(
        open_root(str(root)), DeviceQuery.parse("5e:00.2"), writer, dry_run=False, state_dir=str(tmp_path / "s"),
        proc_root=proc,
    )  # fmt: skip
    why = (
        "/dev/vfio/devices/vfio7 is open in pid 4242 (qemu-system-x86)"
        if held == "cdev"
        else "the kernel shows it enabled (enable 1), as vfio-pci does only while a VFIO user has it open (VFIO "
        "device files are open in pid 4242 (qemu-system-x86))"
    )
    assert report.outcome is Outcome.REFUSED, [a.args for a in writer.log]
    assert report.plan.refusals == (f"0000:00:19.0 is in use: {why}{HELD}",)
    assert writer.log == []


# -- a macvlan in another network namespace: its MAC in the VF's unicast filter ------------------------------

MACVLAN_MAC = "fa:f6:a5:c9:31:7d"
# `bridge -json fdb show dev eth3` in the lab guest: VF down, a macvlan on it moved to another namespace
LAB_FDB = [
    {"mac": MACVLAN_MAC, "flags": ["self"], "state": "permanent"},
    {"mac": "33:33:00:00:00:01", "flags": ["self"], "state": "permanent"},
    {"mac": "01:00:5e:00:00:01", "flags": ["self"], "state": "permanent"},
]


def test_the_unicast_filter_is_read_from_the_fdb_dump_without_multicast() -> None:
    from pcie_failover.adapters.iproute import unicast_macs

    assert unicast_macs(LAB_FDB, "eth3") == (MACVLAN_MAC,)
    assert unicast_macs(LAB_FDB[1:], "eth3") == ()  # a plain VF: multicast only
    assert unicast_macs([{**LAB_FDB[0], "ifname": "eth4"}], "eth3") == ()
    bad = unicast_macs([{"mac": "zz"}], "eth3")
    assert str(bad) == "bridge fdb show dev eth3: an entry without a valid MAC ('zz')"


def _plan_unicast(root: Path, device: str, filters: dict[str, tuple[str, ...] | Unreadable]) -> Plan:
    sysfs = open_root(str(root))
    request = Request(MacAddress.parse(MAC))
    netlink = netlink_for(sysfs)
    check_input, report = checked(
        sysfs, DeviceQuery.parse(device), CheckOptions(mac=request.mac), strict=False, netlink=netlink
    )
    check_input = with_down_addresses(netlink, check_input)
    surroundings = read_surroundings(sysfs, check_input, None, False, unicast=lambda name: filters.get(name, ()))
    return plan_prepare(check_input, report.results, request, surroundings)[0]


MACVLAN_WHY = (
    f"0000:5e:00.3 is in use on this host: enp94s0f0v1's unicast filter holds {MACVLAN_MAC} besides its own MAC: "
    "a macvlan or macvtap on it, here or in another network namespace (a container's), which survives `ip link set "
    "down` but is deleted with enp94s0f0v1 when its driver is unbound: delete it first (`ip link delete` in its "
    "namespace)"
)


def test_a_down_vf_whose_macvlan_lives_in_another_namespace_is_refused(host_root: Callable[[Host], Path]) -> None:
    """Down, no `upper_*` link here: only the macvlan's MAC in the VF's unicast filter shows it."""
    root = host_root(_vf1((Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False),)))
    plan = _plan_unicast(root, "5e:00.3", {"enp94s0f0v1": (MACVLAN_MAC,)})
    assert (plan.steps, plan.refusals) == ((), (MACVLAN_WHY,))
    unknown = Unreadable("bridge -json fdb show dev enp94s0f0v1", "iproute2 (`bridge`) is not installed")
    plan = _plan_unicast(root, "5e:00.3", {"enp94s0f0v1": unknown})
    assert plan.refusals == (
        "cannot tell whether 0000:5e:00.3 is in use: enp94s0f0v1's unicast filter could not be read (bridge -json "
        "fdb show dev enp94s0f0v1: iproute2 (`bridge`) is not installed): a macvlan on it may be in use",
    )
    plan = _plan_unicast(root, "5e:00.3", {})
    assert plan.refusals == ()
    assert [s.step_id for s in plan.steps] == ["vf-mac", "unbind", "driver-override", "probe"]


def test_undo_is_refused_when_a_macvlan_now_lives_on_the_vf(host_root: Callable[[Host], Path]) -> None:
    root = host_root(_vf1((Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False),)))
    sysfs = open_root(str(root))
    check_input, _ = checked(sysfs, DeviceQuery.parse("5e:00.3"), CheckOptions(), strict=False)
    record = UndoRecord("0000:5e:00.3", PF, 1, "mlx5_core", None, "52:54:00:00:00:09", "vf-driver")
    surroundings = read_surroundings(sysfs, check_input, None, False, unicast=lambda _n: (MACVLAN_MAC,))
    assert plan_undo(check_input, record, surroundings).refusals == (MACVLAN_WHY,)


def test_a_rollback_guard_re_checks_the_device_as_it_is_now(host_root: Callable[[Host], Path]) -> None:
    """Before a rollback unbinds a host driver: the in-use rules on the host read anew."""
    up = open_root(str(host_root(_vf1((Netdev("enp94s0f0v1", "52:54:00:00:00:01"),)))))
    assert rollback_guard(up)("0000:5e:00.3", "mlx5_core") == (
        f"0000:5e:00.3 is in use on this host now: {UP_WHY}; mlx5_core was left bound"
    )
    assert rollback_guard(up)("0000:5e:00.3", "vfio-pci") is None  # not a host driver
    down = open_root(str(host_root(_vf1((Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False),)))))
    assert rollback_guard(down)("0000:5e:00.3", "mlx5_core") is None
    assert rollback_guard(down, lambda _n: (MACVLAN_MAC,))("0000:5e:00.3", "mlx5_core") == (
        MACVLAN_WHY.replace("on this host:", "on this host now:") + "; mlx5_core was left bound"
    )


def test_undo_whose_vf_address_fails_is_undone_with_a_warning(
    host_root: Callable[[Host], Path], tmp_path: Path
) -> None:
    root = host_root(_vf1((Netdev("enp94s0f0v1", "52:54:00:00:00:01", up=False),)))
    with UndoStore.opened(str(tmp_path / "s"), create=True) as store:
        assert store is not None
        store.save(UndoRecord("0000:5e:00.3", PF, 1, "mlx5_core", None, "52:54:00:00:00:09", "vf-driver"))

    class NoAddress(OkWriter):
        def execute(self, action: Action) -> None:
            super().execute(action)
            if action.kind.value == "vf-address":
                raise WriteError("ip link set dev enp94s0f0v1 address 52:54:00:00:00:09: Device or resource busy")

    writer = NoAddress()
    report = run_undo(
        open_root(str(root)), DeviceQuery.parse("5e:00.3"), writer, dry_run=False, state_dir=str(tmp_path / "s"),
        proc_root=fake_proc(tmp_path, {}),
    )  # fmt: skip
    assert (report.outcome, report.exit_code) == (Outcome.UNDONE, 0)
    assert [a.kind.value for a in writer.log] == ["ip", "vf-address"]
    assert report.notes == (
        "warning: vf-address failed (ip link set dev enp94s0f0v1 address 52:54:00:00:00:09: Device or resource "
        "busy): the interface's MAC is left as it is; the rest was not rolled back for it",
        "the undo record was removed",
    )
    assert not (tmp_path / "s" / "0000:5e:00.3.json").exists()


def test_a_down_promiscuous_vf_is_in_use() -> None:
    """A passthru macvlan takes the VF's own MAC (no unicast entry) but raises its promiscuity (IFF_PROMISC),
    here or from another namespace: seen in the review's lab guest, where prepare deleted a container's pt0."""
    from pcie_failover.model.host import NetDevice
    from pcie_failover.prepare.usage import network_use

    def netdev(flags: int) -> NetDevice:
        return NetDevice("eth3", flags, "down", MacAddress.parse("52:54:00:00:00:03"), None, (), ())

    promiscuous = network_use((netdev(0x1102),), "igbvf", {})
    assert (promiscuous.in_use, promiscuous.why.split(":")[0]) == (
        True,
        "eth3 is down but promiscuous",
    )
    assert "passthru macvlan or macvtap" in promiscuous.why
    assert network_use((netdev(0x1002),), "igbvf", {}).in_use is False
