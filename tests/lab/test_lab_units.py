"""Fast tests of the lab's pure parts: the committed capture, cpio, apt source, argv, summary."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from lab import initramfs, install
from lab.capture import extract, job_script
from lab.compare import differences, summarize
from lab.guest import GuestSpec, Share
from lab.install import LabUnavailableError, backports_stanza
from lab.topologies import TOPOLOGIES
from pcie_failover.capture.archive import UnsafeArchiveError
from pcie_failover.capture.command import run_capture
from pcie_failover.model.address import PciAddress
from pcie_failover.sysfs.root import SysfsRoot

PCI = "devices/pci0000:00/0000:00:02.0/0000:01:00.0"


def fake_sysfs(root: Path) -> None:
    """A tiny /sys-like tree with kept, skipped and write-only entries."""
    dev = root / PCI
    (dev / "net/eth0/statistics").mkdir(parents=True)
    (dev / "power").mkdir()
    for name, mode in [
        ("vendor", 0o444),
        ("config", 0o644),
        ("remove", 0o200),
        ("resource0", 0o600),
        ("resource", 0o444),
        ("reset", 0o200),
    ]:
        (dev / name).write_text("0x8086\n")
        (dev / name).chmod(mode)
    (dev / "net/eth0/address").write_text("52:54:00:00:00:01\n")
    (dev / "net/eth0/statistics/rx_bytes").write_text("0\n")
    (dev / "power/runtime_status").write_text("active\n")
    (root / "bus/pci/devices").mkdir(parents=True)
    os.symlink(f"../../../{PCI}", root / "bus/pci/devices/0000:01:00.0")
    (root / "bus/pci/drivers/igb").mkdir(parents=True)
    os.symlink("../../../../bus/pci/drivers/igb", dev / "driver")
    os.symlink(f"../../../../{PCI}", root / "bus/pci/drivers/igb/0000:01:00.0")
    (root / "kernel/iommu_groups/3/devices").mkdir(parents=True)
    os.symlink(f"../../../../{PCI}", root / "kernel/iommu_groups/3/devices/0000:01:00.0")
    os.symlink("../../../../kernel/iommu_groups/3", dev / "iommu_group")
    (root / "firmware/acpi/tables").mkdir(parents=True)
    (root / "firmware/acpi/tables/DMAR").write_bytes(b"DMAR\0")
    (root / "firmware/acpi/tables/DMAR").chmod(0o400)


def test_the_lab_commits_what_the_products_capture_archived(tmp_path: Path) -> None:
    """The guest runs `pcie-failover capture`; the lab unpacks its `sysfs/` as the fixture, modes and links kept."""
    fake_sysfs(tmp_path / "sys")
    (tmp_path / "sys" / PCI / "class").write_text("0x020000\n")
    out = tmp_path / "capture.tar.gz"
    with out.open("wb") as stream:
        run_capture(SysfsRoot(str(tmp_path / "sys")), [PciAddress.parse("01:00.0")], str(out), stream)
    extract(out, tmp_path / "copy")
    copy = tmp_path / "copy"
    assert (copy / PCI / "vendor").stat().st_mode & 0o777 == 0o444
    assert os.readlink(copy / PCI / "driver") == "../../../../bus/pci/drivers/igb"
    assert (copy / "firmware/acpi/tables/DMAR").stat().st_mode & 0o777 == 0o400
    for name in ("remove", "resource0", "resource", "reset"):  # listed by the readers: by name, never content
        assert (copy / PCI / name).read_bytes() == b"", name
    assert summarize(copy) == {"drivers": {"0000:01:00.0": "igb"}, "groups": [["0000:01:00.0"]]}


def test_extract_refuses_escaping_names(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "bad.tar", "w") as tar:
        tar.addfile(tarfile.TarInfo("sysfs/../escape"))
    with pytest.raises(UnsafeArchiveError, match="unsafe"):
        extract(tmp_path / "bad.tar", tmp_path / "dest")
    assert not (tmp_path / "escape").exists()


def test_cpio_newc_layout() -> None:
    blob = initramfs.cpio_newc([initramfs.Entry("init", 0o100755, b"#!/bb/sh\n")])
    assert blob.startswith(b"070701")
    for part in (b"init\0", b"#!/bb/sh\n", b"TRAILER!!!\0"):
        assert part in blob
    assert len(blob) % 4 == 0


def test_backports_stanza_reuses_uri_and_key() -> None:
    sources = (
        "Types: deb\n# comment\nURIs: http://deb.debian.org/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n"
    )
    stanza = backports_stanza(sources)
    assert "URIs: http://deb.debian.org/debian\n" in stanza
    assert "Suites: bookworm-backports\n" in stanza
    assert "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n" in stanza
    with pytest.raises(LabUnavailableError):
        backports_stanza("Types: deb\nSuites: trixie\nURIs: http://x\n")


def test_guest_argv_has_serial_qmp_shares_and_devices(tmp_path: Path) -> None:
    topology = TOPOLOGIES["vtd-acpi"]
    spec = GuestSpec(
        name="t",
        workdir=tmp_path,
        kernel=tmp_path / "k",
        initrd=tmp_path / "i",
        append="x",
        machine=topology.machine,
        devices=topology.devices,
        shares=(Share("hostroot", Path("/"), True, "0x10"),),
        extra=topology.qemu_args,
    )
    argv = spec.argv()
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert f"file,id=serial0,path={tmp_path / 'serial.log'}" in argv
    assert argv.index("intel-iommu,intremap=on,caching-mode=on") < argv.index("-fsdev")
    assert "pcie-root-port,id=rp4,bus=pcie.0,chassis=4,slot=4,addr=0x5,hotplug=off" in argv


def test_every_topology_job_ends_with_the_capture() -> None:
    for topology in TOPOLOGIES.values():
        script = job_script(topology)
        assert script.startswith("set -e\n")
        assert script.rstrip().endswith("-m pcie_failover capture -o /job/capture.tar.gz")


def test_differences_names_the_changed_key() -> None:
    before = {"drivers": {"0000:01:10.0": "vfio-pci"}, "groups": []}
    after = {"drivers": {"0000:01:10.0": None}, "groups": []}
    assert differences(before, before) == []
    assert differences(before, after)[0].startswith("drivers:")


def test_missing_packages_without_root_is_a_clear_skip_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(install, "qemu_is_recent", lambda: False)
    monkeypatch.setattr(install, "installed", lambda _package: True)
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(LabUnavailableError, match="needs root"):
        install.ensure_installed()
