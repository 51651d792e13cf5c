"""Generated large hosts: VFs spill onto the PF's next bus, read like real trees, and check reads stay flat."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host, Port, SriovPf, build, vf_addresses
from fixtures_sysfs.generator import large_host, pf_address, vf_address
from pcie_failover.check.command import run_check
from pcie_failover.model.address import DeviceQuery
from pcie_failover.model.check import CheckOptions
from pcie_failover.sysfs.host import open_root
from tests.support.cli import Run

DEVICES = "bus/pci/devices"


def _bus(bdf: str) -> int:
    return int(bdf.split(":")[1], 16)


def _nics(host: Host) -> list[tuple[Port, SriovPf]]:
    return [
        (port, child)
        for complex_ in host.complexes
        for port in complex_.children
        if isinstance(port, Port)
        for child in port.children
        if isinstance(child, SriovPf)
    ]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 PFs x 160 VFs: VFs 128-159 of each PF sit on the next bus."""
    return build(large_host(2, 160), tmp_path_factory.mktemp("generated") / "2x160")


def test_addresses_match_the_builder_and_spill_onto_the_next_bus() -> None:
    nics = _nics(large_host(2, 160))
    assert len(nics) == 2
    for pf, (port, sriov) in enumerate(nics):
        addresses = vf_addresses(sriov)
        assert sriov.pf.bdf == pf_address(pf)
        assert addresses == [vf_address(pf, index) for index in range(160)]
        pf_bus = _bus(pf_address(pf))
        assert {_bus(a) for a in addresses[:128]} == {pf_bus}
        assert {_bus(a) for a in addresses[128:]} == {pf_bus + 1}
        assert port.secondary_bus == pf_bus
        assert port.subordinate_bus == pf_bus + 1


def test_spilled_vfs_sit_under_the_pfs_upstream_port(small: Path) -> None:
    for pf in range(2):
        pf_dir = os.path.realpath(small / DEVICES / pf_address(pf))
        for index in (0, 127, 128, 159):
            vf_dir = os.path.realpath(small / DEVICES / vf_address(pf, index))
            assert os.path.dirname(vf_dir) == os.path.dirname(pf_dir)


def test_physfn_and_virtfn_links_agree(small: Path) -> None:
    for pf in range(2):
        pf_dir = Path(os.path.realpath(small / DEVICES / pf_address(pf)))
        virtfns = sorted((p for p in pf_dir.iterdir() if p.name.startswith("virtfn")), key=lambda p: int(p.name[6:]))
        assert [p.name for p in virtfns] == [f"virtfn{i}" for i in range(160)]
        for index, link in enumerate(virtfns):
            vf_dir = Path(os.path.realpath(link))
            assert vf_dir.name == vf_address(pf, index)
            assert Path(os.path.realpath(vf_dir / "physfn")) == pf_dir
        assert (pf_dir / "sriov_numvfs").read_text() == "160\n"


def test_a_spilled_vf_is_ready(small: Path, cli: Callable[..., Run]) -> None:
    spilled = vf_address(1, 140)
    run = cli("--sysfs-root", str(small), "check", spilled, "--format", "json")
    assert run.code == 0
    document = run.json
    assert document["verdict"] == "ready"
    assert document["device"]["pf"] == pf_address(1)
    assert document["device"]["vf_index"] == 140


def test_lspci_reads_a_spilled_vf(small: Path) -> None:
    lspci = shutil.which("lspci")
    if lspci is None:
        pytest.skip("lspci is missing (apt-get install pciutils)")
    spilled = vf_address(0, 130)
    out = subprocess.run(
        [lspci, "-A", "linux-sysfs", "-O", f"sysfs.path={small}/bus/pci", "-s", spilled, "-vvv"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith(f"{spilled[5:]} Ethernet controller")
    assert "Kernel driver in use: vfio-pci" in out


def _check_reads(root: Path, device: str) -> int:
    sysfs = open_root(str(root))
    before = sysfs.reads
    report = run_check(sysfs, DeviceQuery.parse(device), CheckOptions(), strict=False)
    assert report.verdict.value == "ready"
    return sysfs.reads - before


def test_check_reads_on_1x8_equal_those_on_4x256(host_root: Callable[[Host], Path]) -> None:
    tiny = host_root(large_host(1, 8))
    big = host_root(large_host(4, 256))
    reads = _check_reads(tiny, vf_address(0, 4))
    assert _check_reads(big, vf_address(0, 4)) == reads
    assert _check_reads(big, vf_address(3, 200)) == reads  # another PF, on the spill bus
