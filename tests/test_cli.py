"""The command line: exit codes, JSON errors, the sysfs-root option and its environment variable."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import demo_host
from tests.conftest import Run

DEMO = str(Path(__file__).parent.parent / "fixtures_sysfs" / "demo-host")


def test_ready_exit_0(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "check", "5e:00.2")
    assert run.code == 0
    assert run.out.splitlines()[0] == (
        "0000:5e:00.2: 15b3:1018, VF 0 of 0000:5e:00.0 (enp94s0f0np0), driver vfio-pci, IOMMU group 23, NUMA node 0"
    )
    assert run.out.endswith("verdict: ready: this device can be the failover primary\n")


def test_not_ready_exit_1(cli: Callable[..., Run]) -> None:
    assert cli("--sysfs-root", DEMO, "check", "5e:00.4").code == 1


def test_strict_turns_a_warning_into_not_ready(cli: Callable[..., Run]) -> None:
    assert cli("--sysfs-root", DEMO, "check", "5e:00.5").code == 0  # vf-vlan warns
    run = cli("--sysfs-root", DEMO, "check", "5e:00.5", "--strict", "--format", "json")
    assert (run.code, run.json["verdict"], run.json["input"]["strict"]) == (1, "not-ready", True)


def test_undetermined_exit_4(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    root = host_root(replace(demo_host(), netlink_sidecar=False))
    run = cli("--sysfs-root", str(root), "check", "5e:00.2", "--format", "json")
    assert (run.code, run.json["verdict"], run.json["ready"]) == (4, "undetermined", False)


def test_no_pci_tree_exit_3(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("--sysfs-root", str(tmp_path), "check", "5e:00.2")
    assert (run.code, run.out) == (3, "")
    assert run.err == f"pcie-failover check: no PCI device tree at {tmp_path}/bus/pci/devices\n"


def test_no_pci_tree_json(cli: Callable[..., Run], tmp_path: Path) -> None:
    run = cli("--sysfs-root", str(tmp_path), "list", "--format", "json")
    assert run.code == 3
    assert run.json["error"] == {
        "code": 3,
        "kind": "no-host",
        "message": f"no PCI device tree at {tmp_path}/bus/pci/devices",
    }


def test_usage_error_json(cli: Callable[..., Run]) -> None:
    run = cli("check", "--format", "json", "--bogus")
    assert run.code == 2
    assert run.json["error"] == {"code": 2, "kind": "usage", "message": "No such option: --bogus"}


def test_environment_variable_sets_the_root(cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PCIE_FAILOVER_SYSFS_ROOT", DEMO)
    run = cli("check", "5e:00.2", "--format", "json")
    assert (run.code, run.json["sysfs_root"]) == (0, str(Path(DEMO).resolve()))


def test_help_documents_exit_codes(cli: Callable[..., Run]) -> None:
    run = cli("check", "--help")
    assert run.code == 0
    text = " ".join(run.out.split())
    assert "Exit codes: 0 ready; 1 not ready" in text
    assert "4 undetermined" in text


def test_list_json(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "list", "--format", "json")
    assert run.code == 0
    rows = {d["bdf"]: (d["role"], d["driver"], d["mac"], d["verdict"], d["failing"]) for d in run.json["devices"]}
    assert rows == {
        "0000:00:1f.6": ("device", "e1000e", "3c:ec:ef:00:00:01", "not-ready", ["sriov-vf", "driver"]),
        "0000:5e:00.0": ("pf", "mlx5_core", "b8:ce:f6:12:34:56", "not-ready", ["sriov-vf", "driver"]),
        "0000:5e:00.1": ("device", "mlx5_core", "b8:ce:f6:12:34:57", "not-ready", ["sriov-vf", "driver"]),
        "0000:5e:00.2": ("vf", "vfio-pci", "52:54:00:6f:55:cc", "ready", []),
        "0000:5e:00.3": ("vf", "mlx5_core", "52:54:00:00:00:01", "not-ready", ["driver", "vf-mac"]),
        "0000:5e:00.4": ("vf", None, "00:00:00:00:00:00", "not-ready", ["driver", "vf-mac"]),
        "0000:5e:00.5": ("vf", "vfio-pci", "52:54:00:00:00:03", "ready", []),
    }


def test_console_script_runs_without_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pcie_failover", "--sysfs-root", DEMO, "check", "5e:00.2", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_json_path_imports_no_table_or_netlink_library() -> None:
    modules = ("tabulate", "rich", "pyroute2", "pcie_failover.adapters.iproute")
    code = (
        f"import sys; from pcie_failover.cli import main; main(['--sysfs-root', {DEMO!r}, 'check', '5e:00.2', "
        f"'--format', 'json']); print(sorted(m for m in {modules!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
