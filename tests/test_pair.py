"""`pair` on the demo host and builder variants: exact outputs (golden), refusal, input errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from fixtures_sysfs.builder import Host, Netdev, VfAdmin
from fixtures_sysfs.hosts import DEMO_MAC, demo_host, demo_pf
from tests.support.cli import Run
from tests.support.golden import compare_entry
from tests.support.trees import Captures

DEMO = str(Path(__file__).resolve().parent.parent / "fixtures_sysfs" / "demo-host")
VF = "5e:00.2"
FORMATS = ("summary", "qemu", "qmp", "libvirt")


def _zero_mac_vf0() -> Host:
    base = demo_pf()
    return demo_host(pf=replace(base, admin=(VfAdmin(), *base.admin[1:])))


def _bridge_over_pf() -> Host:
    return replace(demo_host(), bridges=(("br1", ("enp94s0f0np0", "vnet1")),), taps=(("vnet1", "br1"),))


def _streams(run: Run, output: str) -> list[str]:
    """The output's lines; for the machine-read forms (qmp, libvirt), the notes they send to stderr first."""
    if output in ("qmp", "libvirt"):
        return [*(f"stderr: {line}" for line in run.err.splitlines()), *run.out.splitlines()]
    assert run.err == ""
    return run.out.splitlines()


@pytest.mark.parametrize("output", FORMATS)
def test_demo_outputs(output: str, cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", VF, "--format", output)
    assert run.code == 0
    compare_entry("pair_outputs", f"demo/{output}", _streams(run, output))


def test_demo_json(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", VF, "--format", "json")
    document = run.json
    assert run.code == 0
    assert document["refused"] is False
    # nothing shows an administrator set the VF's MAC (it is on vfio-pci): pair derives one instead
    assert document["spec"]["mac"] == {"address": "02:12:34:56:00:00", "source": "derived"}
    assert [w["id"] for w in document["warnings"]] == []  # the spec's host step sets the MAC: vf-mac's doubt goes
    assert [c["status"] for c in document["checks"] if c["id"] == "vf-mac"] == ["warn"]  # check's own view stays
    document.pop("sysfs_root")
    compare_entry("pair_outputs", "demo/json", document)


VARIANTS: dict[str, tuple[Callable[[], Host] | None, tuple[str, ...]]] = {
    "libvirt-pool-bridge": (None, ("--for", "libvirt", "--pool", "sriov-pool", "--netdev", "bridge=br0")),
    "libvirt-user": (None, ("--for", "libvirt", "--netdev", "user", "--standby-id", "backup0")),
    "derived-mac-libvirt": (_zero_mac_vf0, ("--for", "libvirt")),
    "uplink-is-pf": (_bridge_over_pf, ("--netdev", "bridge=br1")),
    "ports-avoid-used": (None, ("--used-chassis", "1/1,2/3", "--used-addr", "00:02.0,00:03.0", "--pin-addr")),
    "explicit-ports-ids": (None, ("--ports", "7/1,7/2", "--standby-id", "ua-sb_0", "--primary-id", "vf_0")),
    "mac-option": (None, ("--mac", DEMO_MAC.upper())),
    "macvtap": (None, ("--netdev", "macvtap=enp94s0f1np1", "--mac", DEMO_MAC)),
}


# --pool has no qemu or qmp form (tests/test_pair_prep.py::test_pool_outside_libvirt_output_is_refused)
VARIANT_CASES = [
    (name, output)
    for name in sorted(VARIANTS)
    for output in FORMATS
    if not ("--pool" in VARIANTS[name][1] and output in ("qemu", "qmp"))
]


@pytest.mark.parametrize(("name", "output"), VARIANT_CASES, ids=[f"{o}-{n}" for n, o in VARIANT_CASES])
def test_variant_outputs(name: str, output: str, cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    make, args = VARIANTS[name]
    root = DEMO if make is None else str(host_root(make()))
    run = cli("--sysfs-root", root, "pair", VF, *args, "--format", output)
    assert run.code == 0
    compare_entry("pair_outputs", f"{name}/{output}", _streams(run, output))
    assert cli("--sysfs-root", root, "pair", VF, *args, "--format", "json").json["spec"] is not None


def test_uplink_warning_is_carried(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    root = str(host_root(_bridge_over_pf()))
    document = cli("--sysfs-root", root, "pair", VF, "--netdev", "bridge=br1", "--format", "json").json
    assert [w["id"] for w in document["warnings"]] == ["standby-uplink"]
    qemu = cli("--sysfs-root", root, "pair", VF, "--netdev", "bridge=br1", "--format", "qemu").out
    comments = [line for line in qemu.splitlines() if line.startswith("# WARN standby-uplink: ")]
    assert comments == [
        "# WARN standby-uplink: br1 (bridge) leaves the host through the primary's own PF 0000:5e:00.0 "
        "(enp94s0f0np0): the PF's embedded switch may keep steering the VM's MAC to the unplugged VF"
    ]


def _vf0_behind_driver() -> Host:
    """VF 0 on its host driver, whose interface uses another MAC than the PF reports: the PF's was set by hand."""
    base = demo_pf()
    vf0 = replace(base.vfs[0], driver="mlx5_core", netdevs=(Netdev("enp94s0f0v0", "e6:07:34:1a:10:20", up=False),))
    return demo_host(pf=replace(base, vfs=(vf0, *base.vfs[1:])))


def test_unproven_vf_mac_is_not_reused(cli: Callable[..., Run]) -> None:
    summary = cli("--sysfs-root", DEMO, "pair", VF).out.splitlines()
    assert summary[1].startswith("MAC 02:12:34:56:00:00 (derived from the PF's MAC and the VF index")
    assert summary[6] == (
        f"NOTE mac: the VF's current MAC {DEMO_MAC} was not reused: nothing shows an administrator set it "
        "(a VF driver may have picked it, and the PF drops such a MAC at the VF's next reset); "
        f"pass --mac {DEMO_MAC} to keep it"
    )
    assert "  ip link set dev enp94s0f0np0 vf 0 mac 02:12:34:56:00:00    # set the VF's MAC through its PF" in summary


def test_proven_admin_mac_is_reused(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    root = str(host_root(_vf0_behind_driver()))
    document = cli("--sysfs-root", root, "pair", VF, "--for", "libvirt", "--format", "json").json
    assert document["spec"]["mac"] == {"address": DEMO_MAC, "source": "vf-admin"}
    assert "NOTE mac" not in cli("--sysfs-root", root, "pair", VF, "--for", "libvirt").out


def test_mac_a_vf_driver_runs_with_is_refused_for_qemu(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.3", "--format", "json")
    assert run.code == 1
    (vf_mac,) = [f for f in run.json["failures"] if f["id"] == "vf-mac"]
    assert vf_mac["message"].startswith("MAC 52:54:00:00:00:01 is the one VF 1's host driver mlx5_core runs ")
    # not the driver's MAC as an admin one: pair sets a MAC of its own choosing (--force shows that step)
    assert vf_mac["hint"] == "(pair sets the VF's MAC as one of its host steps: --force shows them)"
    (check,) = [c for c in run.json["checks"] if c["id"] == "vf-mac"]
    assert check["hint"].startswith("ip link set dev enp94s0f0np0 vf 1 mac 52:54:00:00:00:01\n")


def test_vf_token_guidance_is_carried(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    base = demo_pf()
    root = str(host_root(demo_host(pf=replace(base, pf=replace(base.pf, driver="vfio-pci", netdevs=())))))
    refused = cli("--sysfs-root", root, "pair", VF)
    assert (refused.code, refused.err) == (
        2,
        "pcie-failover pair: 0000:5e:00.2: no MAC known to be an administrator's and no PF MAC to derive one from: "
        "pass --mac\n",
    )
    qemu = cli("--sysfs-root", root, "pair", VF, "--mac", DEMO_MAC, "--format", "qemu")
    assert qemu.code == 0
    assert "# WARN sriov-vf: VF 0 of PF 0000:5e:00.0 (no interface); the PF is on vfio-pci: " in qemu.out
    assert "give it to the primary: -device vfio-pci,host=...,vf-token=<UUID>\n" in qemu.out


def test_derived_mac_is_local_unicast_from_pf_and_index(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    root = str(host_root(_zero_mac_vf0()))
    spec = cli("--sysfs-root", root, "pair", VF, "--for", "libvirt", "--format", "json").json["spec"]
    assert spec["mac"] == {"address": "02:12:34:56:00:00", "source": "derived"}  # PF b8:ce:f6:12:34:56, VF 0


def test_refused_when_a_check_fails(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.4", "--format", "qemu")
    assert (run.code, run.out) == (1, "")
    assert run.err.startswith("pcie-failover pair: refused (--force prints the spec anyway):\n  FAIL driver: ")
    assert "\n  FAIL vf-mac: " in run.err
    document = cli("--sysfs-root", DEMO, "pair", "5e:00.4", "--format", "json").json
    assert (document["refused"], document["spec"], document["verdict"]) == (True, None, "not-ready")
    assert [f["id"] for f in document["failures"]] == ["driver", "vf-mac"]


@pytest.mark.parametrize("output", FORMATS)
def test_force_prints_the_failures_and_exits_1(output: str, cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.4", "--force", "--format", output)
    assert run.code == 1
    compare_entry("pair_outputs", f"forced/{output}", _streams(run, output))


def test_force_json_has_spec_and_failures(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.4", "--force", "--format", "json")
    document = run.json
    assert run.code == 1
    assert document["refused"] is False
    assert [f["id"] for f in document["failures"]] == ["driver", "vf-mac"]
    assert document["spec"]["primary"]["host"] == "0000:5e:00.4"


def test_absent_device_is_refused_even_forced(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", "5e:00.7", "--force")
    assert (run.code, run.out) == (1, "")
    assert "FAIL address: " in run.err
    assert cli("--sysfs-root", DEMO, "pair", "5e:00.7", "--force", "--format", "json").json["spec"] is None


BAD_INPUTS = {
    "mac-multicast": (("--mac", "01:00:5e:00:00:01"), "01:00:5e:00:00:01 is a multicast address"),
    "mac-zero": (("--mac", "00:00:00:00:00:00"), "00:00:00:00:00:00 is all-zero"),
    "mac-short": (("--mac", "52:54:00:6f:55"), "'52:54:00:6f:55' is not a MAC address"),
    "mac-long": (("--mac", "52:54:00:6f:55:cc:01"), "'52:54:00:6f:55:cc:01' is not a MAC address"),
    "id-comma": (("--standby-id", "net,0"), "--standby-id 'net,0' is not a QEMU id"),
    "id-equals": (("--primary-id", "a=b"), "--primary-id 'a=b' is not a QEMU id"),
    "id-markup": (("--primary-id", "a<&'\""), "--primary-id 'a<&\\'\"' is not a QEMU id"),
    "id-digit-first": (("--standby-id", "0net"), "--standby-id '0net' is not a QEMU id"),
    "ids-equal": (("--standby-id", "x", "--primary-id", "x"), "--primary-id and --standby-id would both be 'x'"),
    "aliases-equal": (("--standby-id", "net0", "--primary-id", "ua-net0"), "would both be 'ua-net0'"),
    "chassis-repeated": (("--used-chassis", "1/1,1/1"), "--used-chassis: chassis 1 slot 1 is listed twice"),
    "chassis-range": (("--used-chassis", "256/1"), "chassis '256' is not a number from 0 to 255"),
    "chassis-form": (("--used-chassis", "1-1"), "--used-chassis: '1-1' is not CHASSIS/SLOT"),
    "ports-clash": (("--ports", "1/1,2/2", "--used-chassis", "2/2"), "--ports 2/2 conflicts with --used-chassis"),
    "ports-same": (("--ports", "3/3,3/3"), "--ports: chassis 3 slot 3 is listed twice"),
    "ports-one": (("--ports", "3/3"), "--ports needs two CHASSIS/SLOT pairs"),
    "used-addr": (("--used-addr", "00:02"), "'00:02' is not a PCI address"),
    "netdev": (("--netdev", "vde"), "--netdev 'vde' is not tap, user, bridge=NAME or macvtap=IF"),
    "netdev-vde-name": (("--netdev", "vde=x"), "--netdev 'vde=x' is not tap, user, bridge=NAME or macvtap=IF"),
    "macvtap-name": (("--netdev", "macvtap=a/b"), "'a/b' is not a valid network interface name"),
    "bridge-name": (("--netdev", "bridge=a b"), "'a b' is not a valid network interface name"),
    "pool-slash": (("--pool", "a/b"), "--pool 'a/b' is not a libvirt network name"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_malformed_input_exits_2(name: str, cli: Callable[..., Run]) -> None:
    args, message = BAD_INPUTS[name]
    run = cli("--sysfs-root", DEMO, "pair", VF, *args)
    assert (run.code, run.out) == (2, "")
    assert run.err.count("\n") == 1
    assert run.err.startswith("pcie-failover pair: ")
    assert message in run.err
    error = cli("--sysfs-root", DEMO, "pair", VF, *args, "--format", "json").json["error"]
    assert (error["code"], error["kind"]) == (2, "input")
    assert message in error["message"]


def test_unknown_option_is_a_json_usage_error(cli: Callable[..., Run]) -> None:
    run = cli("--sysfs-root", DEMO, "pair", VF, "--bogus", "--format", "json")
    assert run.code == 2
    assert run.json["command"] == "pair"


def test_captured_vf_is_ready(cli: Callable[..., Run], captures: Captures) -> None:
    root = captures("vtd-acpi")
    run = cli("--sysfs-root", str(root), "pair", "0000:01:10.0", "--netdev", "user", "--format", "json")
    spec = run.json["spec"]
    assert run.code == 0
    assert spec["mac"]["source"] == "derived"  # on vfio-pci: nothing shows an administrator set the VF's MAC
    asserted = cli("--sysfs-root", str(root), "pair", "0000:01:10.0", "--mac", DEMO_MAC, "--format", "json")
    assert (asserted.code, asserted.json["spec"]["mac"]) == (0, {"address": DEMO_MAC, "source": "option"})
