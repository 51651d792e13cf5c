"""A file that vanishes, cannot be read, loops or lies degrades one check to unknown, never the run."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import demo_host
from pcie_failover.check.command import run_check
from pcie_failover.model.address import DeviceQuery, MacAddress
from pcie_failover.model.check import CheckOptions
from pcie_failover.model.results import Severity, Status, Verdict
from pcie_failover.sysfs.root import SysfsError, SysfsRoot
from tests.support.cli import Run

VF_DIR = "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2"
PF_DIR = "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0"


def _statuses(run: Run) -> dict[str, str]:
    return {c["id"]: c["status"] for c in run.json["checks"]}


@pytest.fixture
def demo(host_root: Callable[[Host], Path]) -> Path:
    return host_root(demo_host())


def _replace_with_link(path: Path, target: str) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    os.symlink(target, path)


def _garbage_class(root: Path) -> None:
    (root / VF_DIR / "class").write_text("banana\n")


def _fifo_attribute(root: Path) -> None:
    os.unlink(root / VF_DIR / "reset_method")
    os.mkfifo(root / VF_DIR / "reset_method")


def _looping_device_link(root: Path) -> None:
    _replace_with_link(root / "bus/pci/devices/0000:5e:00.2", "0000:5e:00.2")


def _escaping_device_link(root: Path) -> None:
    _replace_with_link(root / "bus/pci/devices/0000:5e:00.2", "/etc")


def _attribute_link_out(root: Path) -> None:
    _replace_with_link(root / VF_DIR / "vendor", "/etc/hostname")


def _pf_vanished(root: Path) -> None:
    shutil.rmtree(root / PF_DIR)


def _group_member_vanished(root: Path) -> None:
    (root / "kernel/iommu_groups/23/devices/0000:5e:00.7").symlink_to(f"../../../../{PF_DIR}/../0000:5e:00.7")


def _bad_sidecar(root: Path) -> None:
    (root / "pcie-failover-snapshot.json").write_text("{")


@pytest.mark.parametrize(
    ("mutate", "expected", "code"),
    [
        (_garbage_class, {"ethernet": "unknown", "pcie": "pass"}, 4),
        (_fifo_attribute, {"reset": "unknown"}, 4),  # never blocks
        (_looping_device_link, {"address": "unknown"}, 4),
        (_escaping_device_link, {"address": "unknown"}, 4),
        (_attribute_link_out, {"address": "pass", "ethernet": "pass"}, 0),  # vendor is not followed out
        (_pf_vanished, {"sriov-vf": "pass", "pf-link": "unknown", "vf-mac": "unknown", "driver": "pass"}, 4),
        (_group_member_vanished, {"iommu-group": "unknown"}, 4),
        (_bad_sidecar, {"vf-mac": "unknown", "vf-vlan": "unknown"}, 4),
    ],
)
def test_one_bad_file_degrades_one_check(
    demo: Path, mutate: Callable[[Path], None], expected: dict[str, str], code: int, cli: Callable[..., Run]
) -> None:
    mutate(demo)
    run = cli("--sysfs-root", str(demo), "check", "5e:00.2", "--format", "json")
    statuses = _statuses(run)
    assert {rule: statuses[rule] for rule in expected} == expected
    assert run.code == code


class _FaultyRoot(SysfsRoot):
    """Fault injection at the file-access adapter: paths ending in `suffix` fail with `code`."""

    def __init__(self, path: str, suffix: str, code: int) -> None:
        super().__init__(path)
        self.suffix = suffix
        self.code = code

    def _check(self, rel: str) -> None:
        if rel.endswith(self.suffix):
            raise SysfsError(rel, f"{errno.errorcode[self.code]} ({os.strerror(self.code)})", False)

    def read_bytes(self, rel: str, limit: int = 4096) -> bytes:
        self._check(rel)
        return super().read_bytes(rel, limit)

    def readlink(self, rel: str) -> str:
        self._check(rel)
        return super().readlink(rel)

    def listdir(self, rel: str) -> list[str]:
        self._check(rel)
        return super().listdir(rel)


@pytest.mark.parametrize(
    ("suffix", "code", "rule", "message"),
    [
        ("0000:5e:00.2/reset_method", errno.EIO, "reset",
         f"reset_method could not be read ({VF_DIR}/reset_method: EIO (Input/output error))"),
        ("0000:5e:00.2/driver", errno.EACCES, "driver",
         f"the driver link could not be read ({VF_DIR}/driver: EACCES (Permission denied))"),
        ("enp94s0f0np0/flags", errno.ENODEV, "pf-link",
         "enp94s0f0np0's flags could not be read (class/net/enp94s0f0np0/flags: ENODEV (No such device))"),
        ("iommu_groups/23/devices", errno.EACCES, "iommu-group",
         "IOMMU group 23 could not be read (kernel/iommu_groups/23/devices: EACCES (Permission denied))"),
        ("firmware/acpi/tables", errno.EACCES, "iommu", "Intel VT-d active, device in group 23"),
        ("0000:5e:00.2/class", errno.EIO, "ethernet",
         f"the class could not be read ({VF_DIR}/class: EIO (Input/output error))"),
        ("slots/4/address", errno.EIO, "host-slot",
         "the slots could not be read (bus/pci/slots/4/address: EIO (Input/output error))"),
    ],
)  # fmt: skip
def test_unreadable_file_is_unknown_with_reason(demo: Path, suffix: str, code: int, rule: str, message: str) -> None:
    root = _FaultyRoot(str(demo), suffix, code)
    # --mac: the demo VF's MAC is the administrator's, so every other check passes
    options = CheckOptions(mac=MacAddress.parse("52:54:00:6f:55:cc"))
    report = run_check(root, DeviceQuery.parse("5e:00.2"), options, strict=False)
    (result,) = [r for r in report.results if r.rule_id == rule]
    assert result.message == message
    others = [r for r in report.results if r.rule_id != rule]
    assert all(r.status in (Status.PASS, Status.SKIP) for r in others)
    decisive = result.status is Status.UNKNOWN and result.severity is Severity.FAIL  # host-slot only informs
    assert report.verdict is (Verdict.UNDETERMINED if decisive else Verdict.READY)


def test_unreadable_physfn_link_is_unknown_not_a_pf(demo: Path) -> None:
    root = _FaultyRoot(str(demo), "0000:5e:00.2/physfn", errno.EIO)
    report = run_check(root, DeviceQuery.parse("5e:00.2"), CheckOptions(), strict=False)
    (sriov,) = [r for r in report.results if r.rule_id == "sriov-vf"]
    assert (sriov.status, sriov.message) == (
        Status.UNKNOWN,
        f"the physfn link could not be read ({VF_DIR}/physfn: EIO (Input/output error))",
    )
    assert report.verdict is Verdict.UNDETERMINED


def test_unreadable_firmware_tables_without_iommu_is_unknown_not_no_iommu(host_root: Callable[[Host], Path]) -> None:
    from dataclasses import replace

    from fixtures_sysfs.builder import Iommu

    root = host_root(replace(demo_host(), iommu=Iommu(enabled=False)))
    faulty = _FaultyRoot(str(root), "firmware/acpi/tables", errno.EACCES)
    report = run_check(faulty, DeviceQuery.parse("5e:00.2"), CheckOptions(), strict=False)
    (iommu,) = [r for r in report.results if r.rule_id == "iommu"]
    assert (iommu.status, iommu.hint) == (Status.UNKNOWN, "run as root to read /sys/firmware/acpi/tables")


def test_device_vanishing_mid_read(demo: Path) -> None:
    class Vanishing(SysfsRoot):
        def read_bytes(self, rel: str, limit: int = 4096) -> bytes:
            data = super().read_bytes(rel, limit)
            if rel == f"{VF_DIR}/class":
                shutil.rmtree(Path(self.path) / VF_DIR)
            return data

    report = run_check(Vanishing(str(demo)), DeviceQuery.parse("5e:00.2"), CheckOptions(), strict=False)
    (address,) = [r for r in report.results if r.rule_id == "address"]
    assert address.message == f"0000:5e:00.2 could not be read ({VF_DIR}: the device vanished while it was being read)"
    assert report.verdict is Verdict.UNDETERMINED


def test_control_characters_in_names_never_reach_a_report(demo: Path, cli: Callable[..., Run]) -> None:
    """A doctored copy cannot forge journal lines or shell hints through link or file names."""
    driver = demo / VF_DIR / "driver"
    driver.unlink()
    driver.symlink_to("../../../../bus/pci/drivers/evil\n<0>pair web: ready")
    (demo / PF_DIR / "net" / "eth\n<0>forged").mkdir()
    run = cli("--sysfs-root", str(demo), "check", "5e:00.2")
    assert not [line for line in run.out.splitlines() if line.startswith("<") or "forged" in line]
    assert "'evil\\n<0>pair web: ready'" in run.out  # shown escaped, on one line
    document = cli("--sysfs-root", str(demo), "check", "5e:00.2", "--format", "json").json
    (driver_check,) = [c for c in document["checks"] if c["id"] == "driver"]
    assert driver_check["status"] == "unknown"
    assert driver_check["message"].startswith("the driver link could not be read (")


def test_control_characters_in_values_never_reach_a_report(demo: Path, cli: Callable[..., Run]) -> None:
    """Attribute text and snapshot strings are one printable line, or unknown."""
    (demo / PF_DIR / "net/enp94s0f0np0/operstate").write_text("up\n<0>pair web: ready\n")
    sidecar = demo / "pcie-failover-snapshot.links/enp94s0f0np0.json"
    sidecar.write_text(sidecar.read_text().replace('"link_state": "auto"', '"link_state": "auto\\n<0>forged"', 1))
    run = cli("--sysfs-root", str(demo), "check", "5e:00.2")
    assert not [line for line in run.out.splitlines() if line.startswith("<") or "forged" in line]
    document = cli("--sysfs-root", str(demo), "check", "5e:00.2", "--format", "json").json
    checks = {c["id"]: (c["status"], c["message"]) for c in document["checks"]}
    garbled = repr("up\n<0>pair web: ready")
    assert checks["pf-link"] == (
        "pass",
        "PF enp94s0f0np0 is up (its operstate could not be read: "
        f"class/net/enp94s0f0np0/operstate: unexpected value {garbled})",
    )
    assert checks["vf-link-state"] == ("unknown", "VF 0's link state is not reported")
