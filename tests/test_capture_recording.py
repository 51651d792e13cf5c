"""The recording root and the archive of what it recorded: what a reader touched goes in, and nothing else."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from fixtures_sysfs.builder import build
from fixtures_sysfs.generator import large_host
from pcie_failover.capture import rehearsal
from pcie_failover.capture.archive import extract, write_archive
from pcie_failover.capture.command import run_capture
from pcie_failover.capture.recording import RecordingNetlink, RecordingRoot, Touched
from pcie_failover.capture.rehearsal import rehearse
from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import PciFunction, Unreadable
from pcie_failover.sysfs import pci
from pcie_failover.sysfs.host import netlink_for
from pcie_failover.sysfs.root import SysfsRoot


def _tree(tmp_path: Path) -> Path:
    """devices/pci0000:00/0000:00:01.0 with a few attributes, reached through bus/pci/devices/0000:00:01.0."""
    root = tmp_path / "sys"
    device = root / "devices/pci0000:00/0000:00:01.0"
    (device / "power").mkdir(parents=True)
    for name, text in {"vendor": "0x8086\n", "device": "0x10ca\n", "numa_node": "0\n", "serial": "secret\n"}.items():
        (device / name).write_text(text)
    (device / "remove").write_text("")
    os.chmod(device / "remove", 0o200)
    (root / "bus/pci/devices").mkdir(parents=True)
    os.symlink("../../../devices/pci0000:00/0000:00:01.0", root / "bus/pci/devices/0000:00:01.0")
    os.symlink("../../../../etc", device / "escape")
    (root / "kernel/untouched").mkdir(parents=True)
    (root / "kernel/untouched/x").write_text("x\n")
    return root


def _archived(root: Path, touched: Touched, tmp_path: Path) -> Path:
    out = io.BytesIO()
    write_archive(SysfsRoot(str(root)), touched, {"extra.json": b"{}\n"}, out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        extract(tar, tmp_path / "out")
    return tmp_path / "out" / "sysfs"


def test_every_kind_of_touch_is_recorded_as_the_reader_named_it(tmp_path: Path) -> None:
    root = RecordingRoot(str(_tree(tmp_path)))
    base = "bus/pci/devices/0000:00:01.0"
    assert root.read_text(f"{base}/vendor") == "0x8086"  # through read_text, which reads bytes
    assert root.link_name("bus/pci/devices/0000:00:01.0") == "0000:00:01.0"
    assert root.listdir(base) == ["device", "escape", "numa_node", "power", "remove", "serial", "vendor"]
    assert not root.exists(f"{base}/driver")
    assert root.is_directory(f"{base}/power")
    assert root.touched.files == {f"{base}/vendor": b"0x8086\n"}
    assert root.touched.links == {base}
    assert root.touched.listed == {base: ("device", "escape", "numa_node", "power", "remove", "serial", "vendor")}
    assert root.touched.entries == {f"{base}/vendor", f"{base}/driver"}
    assert root.touched.followed == {base, f"{base}/power"}


def test_the_archive_holds_what_was_read_and_placeholders_for_what_was_only_listed(tmp_path: Path) -> None:
    source = _tree(tmp_path)
    root = RecordingRoot(str(source))
    base = "bus/pci/devices/0000:00:01.0"
    root.read_text(f"{base}/vendor")
    root.read_text(f"{base}/serial")  # read, but private: its content is never archived
    root.listdir(base)
    snapshot = _archived(source, root.touched, tmp_path)
    device = snapshot / "devices/pci0000:00/0000:00:01.0"
    assert os.readlink(snapshot / base) == "../../../devices/pci0000:00/0000:00:01.0"
    assert (device / "vendor").read_text() == "0x8086\n"
    assert (device / "device").read_text() == ""  # listed, never read: there, empty
    assert (device / "power").is_dir()
    assert (device / "serial").read_text() == ""  # read, but private: listed, so there by name only
    assert (device / "remove").read_text() == ""
    assert not (device / "escape").exists()  # a link out of the root is never archived
    assert not (snapshot / "kernel").exists()  # nothing a reader did not touch
    assert (snapshot / "extra.json").read_text() == "{}\n"
    checked = SysfsRoot(str(snapshot))
    assert checked.read_text(f"{base}/vendor") == "0x8086"


def test_a_path_through_a_link_that_leaves_the_root_archives_nothing_beyond_it(tmp_path: Path) -> None:
    source = _tree(tmp_path)
    touched = Touched(files={"bus/pci/devices/0000:00:01.0/escape/passwd": b"root:x:0:0\n"})
    snapshot = _archived(source, touched, tmp_path)
    assert not (snapshot / "devices/pci0000:00/0000:00:01.0/escape").exists()
    assert not list(snapshot.rglob("passwd"))


def test_an_attribute_a_reader_starts_to_read_is_captured_without_being_listed_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No path list is kept by hand: make `read_function` read one more attribute, and the capture holds it."""
    demo = Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host"
    original = pci.read_function

    def reading_more(root: SysfsRoot, address: PciAddress, pci_class: int | None = None) -> PciFunction | Unreadable:
        root.read_bytes(f"{pci.device_link(address)}/subsystem_vendor")
        return original(root, address, pci_class)

    def captured(name: str) -> set[str]:
        with (tmp_path / name).open("wb") as out:
            run_capture(SysfsRoot(str(demo)), [PciAddress.parse("5e:00.2")], str(tmp_path / name), out)
        with tarfile.open(tmp_path / name) as tar:
            return {m.name for m in tar.getmembers() if m.name.endswith("/subsystem_vendor") and m.size}

    assert captured("before.tar.gz") == set()
    monkeypatch.setattr(pci, "read_function", reading_more)
    monkeypatch.setattr(rehearsal, "read_function", reading_more)
    assert captured("after.tar.gz") == {
        f"sysfs/devices/pci0000:5d/0000:5d:00.0/0000:5e:00.{n}/subsystem_vendor" for n in (0, 2, 3, 4, 5)
    }


def test_a_capture_reads_each_function_a_constant_number_of_times(tmp_path: Path) -> None:
    """Linear in the host: a PF's family and its search by MAC are read once, not once per VF (4x the VFs, ~4x)."""

    def reads(vfs: int) -> tuple[int, int]:
        root = RecordingRoot(str(build(large_host(1, vfs), tmp_path / str(vfs))))
        counted: list[int] = []
        rehearse(root, RecordingNetlink(netlink_for(root)), None, lambda _done, total: counted.append(total))
        return root.reads, counted[0]

    (small, small_count), (big, big_count) = reads(32), reads(128)
    assert big_count > 3 * small_count
    assert big / big_count <= 1.05 * small / small_count
