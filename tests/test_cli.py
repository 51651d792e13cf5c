"""The command line: exit codes, JSON errors, the sysfs-root option and its environment variable."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host
from fixtures_sysfs.hosts import demo_host, demo_pf
from tests.support.cli import Run

DEMO = str(Path(__file__).parent.parent / "fixtures_sysfs" / "demo-host")
CX5 = "Mellanox Technologies MT27800 Family [ConnectX-5]"
CX5_VF = "Mellanox Technologies MT27800 Family [ConnectX-5 Virtual Function]"


def _table(text: str) -> list[tuple[str, ...]]:
    """A `simple` table's header and rows, cut at the columns its dashed line marks (so alignment counts too)."""
    header, dashes, *rows = text.splitlines()
    spans = [m.span() for m in re.finditer(r"-+", dashes)]
    assert all(len(line) <= spans[-1][1] for line in (header, *rows))
    return [tuple(line[a:b].strip() for a, b in spans) for line in (header, *rows)]


def test_ready_exit_0(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "check", "5e:00.2")
    assert run.code == 0
    assert run.out.splitlines()[0] == (
        f"0000:5e:00.2: {CX5_VF} [15b3:1018], VF 0 of 0000:5e:00.0 (enp94s0f0np0), driver vfio-pci, "
        "IOMMU group 23, NUMA node 0"
    )
    assert run.out.endswith("verdict: ready: this device can be the failover primary\n")


def test_check_shows_the_names_a_capture_recorded_else_ids_only(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    device = cli("--sysfs-root", DEMO, "check", "5e:00.2", "--format", "json").json["device"]
    assert (device["vendor"], device["device"]) == ("15b3", "1018")
    assert (device["vendor_name"], device["device_name"]) == (
        "Mellanox Technologies",
        "MT27800 Family [ConnectX-5 Virtual Function]",
    )
    root = str(host_root(replace(demo_host(), pci_names=())))
    unnamed = cli("--sysfs-root", root, "check", "5e:00.2", "--format", "json").json["device"]
    assert (unnamed["vendor_name"], unnamed["device_name"]) == (None, None)
    assert cli("--sysfs-root", root, "check", "5e:00.2").out.splitlines()[0] == (
        "0000:5e:00.2: 15b3:1018, VF 0 of 0000:5e:00.0 (enp94s0f0np0), driver vfio-pci, IOMMU group 23, NUMA node 0"
    )


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
    fields = ("interface_mac", "admin_mac", "driver_override", "sriov_numvfs", "sriov_totalvfs", "device_name")
    assert {d["bdf"]: tuple(d[f] for f in fields) for d in run.json["devices"]} == {
        "0000:00:1f.6": ("3c:ec:ef:00:00:01", None, None, None, None, "Ethernet Connection (7) I219-LM"),
        "0000:5e:00.0": ("b8:ce:f6:12:34:56", None, None, 4, 8, "MT27800 Family [ConnectX-5]"),
        "0000:5e:00.1": ("b8:ce:f6:12:34:57", None, None, None, None, "MT27800 Family [ConnectX-5]"),
        "0000:5e:00.2": (None, "52:54:00:6f:55:cc", None, None, None, "MT27800 Family [ConnectX-5 Virtual Function]"),
        "0000:5e:00.3": (
            "52:54:00:00:00:01", "52:54:00:00:00:01", None, None, None, "MT27800 Family [ConnectX-5 Virtual Function]",
        ),
        "0000:5e:00.4": (None, "00:00:00:00:00:00", None, None, None, "MT27800 Family [ConnectX-5 Virtual Function]"),
        "0000:5e:00.5": (None, "52:54:00:00:00:03", None, None, None, "MT27800 Family [ConnectX-5 Virtual Function]"),
    }  # fmt: skip


def test_list_table(cli: Callable[..., Run]) -> None:
    """Interface MAC and admin MAC apart; a PF says how many VFs it hosts; names as lspci prints them."""
    run = cli("--sysfs-root", DEMO, "list")
    assert (run.code, run.err) == (0, "")
    assert _table(run.out) == [
        ("device", "id", "role", "driver", "override", "vfs", "interface", "mac", "admin mac", "group", "numa",
         "primary?", "name"),
        ("0000:00:1f.6", "8086:15bb", "DEVICE", "e1000e", "-", "-", "eno1", "3c:ec:ef:00:00:01", "-", "10", "0",
         "-", "Intel Corporation Ethernet Connection (7) I219-LM"),
        ("0000:5e:00.0", "15b3:1017", "PF", "mlx5_core", "-", "4/8", "enp94s0f0np0", "b8:ce:f6:12:34:56", "-", "21",
         "0", "pf (hosts 4 VFs)", CX5),
        ("0000:5e:00.1", "15b3:1017", "DEVICE", "mlx5_core", "-", "-", "enp94s0f1np1", "b8:ce:f6:12:34:57", "-",
         "22", "0", "-", CX5),
        ("0000:5e:00.2", "15b3:1018", "VF 0 of 0000:5e:00.0", "vfio-pci", "-", "-", "-", "-", "52:54:00:6f:55:cc",
         "23", "0", "ready", CX5_VF),
        ("0000:5e:00.3", "15b3:1018", "VF 1 of 0000:5e:00.0", "mlx5_core", "-", "-", "enp94s0f0v1",
         "52:54:00:00:00:01", "52:54:00:00:00:01", "24", "0", "not-ready (driver,vf-mac)", CX5_VF),
        ("0000:5e:00.4", "15b3:1018", "VF 2 of 0000:5e:00.0", "-", "-", "-", "-", "-", "00:00:00:00:00:00", "25",
         "0", "not-ready (driver,vf-mac)", CX5_VF),
        ("0000:5e:00.5", "15b3:1018", "VF 3 of 0000:5e:00.0", "vfio-pci", "-", "-", "-", "-", "52:54:00:00:00:03",
         "26", "0", "ready", CX5_VF),
    ]  # fmt: skip


def test_list_override_one_vf_and_unreadable_numvfs(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    pf = demo_pf()
    one = host_root(demo_host(pf=replace(pf, vfs=(replace(pf.vfs[2], driver_override="vfio-pci"),))))
    rows = _table(cli("--sysfs-root", str(one), "list", "--pf", "5e:00.0").out)
    assert [(r[0], r[4], r[5], r[11]) for r in rows] == [
        ("device", "override", "vfs", "primary?"),
        ("0000:5e:00.0", "-", "1/8", "pf (hosts 1 VF)"),
        ("0000:5e:00.2", "vfio-pci", "-", "not-ready (driver)"),  # override set, nothing bound
    ]
    document = cli("--sysfs-root", str(one), "list", "--vfs", "--format", "json").json
    assert [(d["bdf"], d["driver_override"]) for d in document["devices"]] == [("0000:5e:00.2", "vfio-pci")]
    (one / "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.0/sriov_numvfs").write_text("x\n")
    rows = _table(cli("--sysfs-root", str(one), "list", "--pf", "5e:00.0").out)
    assert (rows[1][5], rows[1][11]) == ("?/8", "pf (hosts ? VFs)")


@pytest.mark.parametrize(
    ("args", "listed"),
    [
        (("--pf", "enp94s0f0np0"), ["0000:5e:00.0", "0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4", "0000:5e:00.5"]),
        (("--pf", "0000:5E:00.0"), ["0000:5e:00.0", "0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4", "0000:5e:00.5"]),
        (("--pf", "5e:00.0", "--vfs"), ["0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4", "0000:5e:00.5"]),
        (("--vfs",), ["0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4", "0000:5e:00.5"]),
    ],
)
def test_list_filters(cli: Callable[..., Run], args: tuple[str, ...], listed: list[str]) -> None:
    """`--pf` (by interface or address): the PF and its VFs; `--vfs`: VFs only; rows as in the full list."""
    full = {d["bdf"]: d for d in cli("--sysfs-root", DEMO, "list", "--format", "json").json["devices"]}
    run = cli("--sysfs-root", DEMO, "list", *args, "--format", "json")
    assert run.code == 0
    assert run.json["devices"] == [full[bdf] for bdf in listed]
    pf = args[args.index("--pf") + 1] if "--pf" in args else None
    assert (run.json["input"]["pf"], run.json["input"]["vfs"]) == (pf, "--vfs" in args)
    assert [row[0] for row in _table(cli("--sysfs-root", DEMO, "list", *args).out)[1:]] == listed


@pytest.mark.parametrize(
    ("pf", "message"),
    [
        ("5e:00.2", "--pf 5e:00.2: 0000:5e:00.2 is not an SR-IOV network PF (a VF of 0000:5e:00.0)"),
        ("enp94s0f1np1", "--pf enp94s0f1np1: 0000:5e:00.1 is not an SR-IOV network PF"),
        ("br0", "--pf br0: br0 is a virtual interface, not backed by a PCI device"),
        ("eth9", "--pf eth9: no network interface 'eth9' on this host"),
        ("07:00.0", "--pf 07:00.0: no PCI device 0000:07:00.0 on this host"),
        ("a/b", "--pf: 'a/b' is neither a PCI address nor a network interface name"),
    ],
)
def test_list_pf_naming_no_pf_is_a_usage_error(cli: Callable[..., Run], pf: str, message: str) -> None:
    run = cli("--sysfs-root", DEMO, "list", "--pf", pf)
    hint = " (try 'pcie-failover list --help')" if pf == "a/b" else ""  # malformed, not merely absent here
    assert (run.code, run.out, run.err) == (2, "", f"pcie-failover list: {message}{hint}\n")
    run = cli("--sysfs-root", DEMO, "list", "--pf", pf, "--format", "json")
    assert (run.code, run.json["error"]) == (2, {"code": 2, "kind": "input", "message": message})


def test_list_help_documents_the_filters_and_exit_codes(cli: Callable[..., Run]) -> None:
    text = " ".join(cli("list", "--help").out.split())
    assert "--pf DEVICE Only this PF (address or interface name) and its VFs." in text
    assert "2 usage error, or --pf names no SR-IOV network PF" in text


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
