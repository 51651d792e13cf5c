"""`check` and `list` on sysfs trees captured from real Linux guests: the kernel is the oracle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fixtures_sysfs.captures import TOPOLOGIES, capture_root, manifest
from tests.support.cli import Run
from tests.support.golden import compare_entry
from tests.support.trees import Captures


def _check(cli: Callable[..., Run], captures: Captures, topology: str, device: str) -> dict[str, dict[str, Any]]:
    run = cli("--sysfs-root", str(captures(topology)), "check", device, "--format", "json")
    return {c["id"]: {"status": c["status"], "message": c["message"], "hint": c["hint"]} for c in run.json["checks"]}


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_every_device_of_every_capture(topology: str, cli: Callable[..., Run], captures: Captures) -> None:
    """Exact status per rule id for every network function; the list agrees with the checks."""
    listing = cli("--sysfs-root", str(captures(topology)), "list", "--format", "json")
    assert listing.code == 0
    outcome: dict[str, object] = {}
    for device in listing.json["devices"]:
        run = cli("--sysfs-root", str(captures(topology)), "check", device["bdf"], "--format", "json")
        document = run.json
        assert document["verdict"] == device["verdict"]
        outcome[device["bdf"]] = {
            "role": device["role"],
            "driver": device["driver"],
            "iommu_group": device["iommu_group"],
            "slot": device["slot"],
            "exit": run.code,
            "checks": {c["id"]: c["status"] for c in document["checks"]},
        }
    compare_entry("captures", topology, outcome)


def test_failed_vfio_probe_without_iommu(cli: Callable[..., Run], captures: Captures) -> None:
    checks = _check(cli, captures, "no-iommu", "01:10.0")
    assert checks["driver"] == {
        "status": "fail",
        "message": "driver_override is vfio-pci but nothing is bound: vfio-pci's probe failed",
        "hint": "vfio-pci cannot bind without an IOMMU group (its probe returns -EINVAL): see the iommu check",
    }
    assert checks["iommu"]["message"] == "no IOMMU: the firmware has no DMAR, IVRS or IORT table"


def test_iommu_disabled_on_the_command_line(cli: Callable[..., Run], captures: Captures) -> None:
    checks = _check(cli, captures, "iommu-off", "01:10.0")
    assert checks["iommu"] == {
        "status": "fail",
        "message": "the firmware describes an IOMMU (DMAR) but the kernel did not enable it",
        "hint": "the kernel command line disables it (intel_iommu=off): remove that and reboot",
    }
    assert checks["driver"]["status"] == "fail"


def test_ready_vf_in_both_hotplug_flavours(cli: Callable[..., Run], captures: Captures) -> None:
    acpi = _check(cli, captures, "vtd-acpi", "01:10.0")
    native = _check(cli, captures, "vtd-pciehp", "01:10.0")
    assert {r: c["status"] for r, c in acpi.items() if c["status"] != "pass"} == {
        "standby-uplink": "skip",
        "vf-mac": "warn",  # on vfio-pci nothing shows who set the MAC: --mac asserts it
    }
    assert acpi["host-slot"]["message"] == "slot 0 (acpiphp, power on) under 0000:00:02.0"
    assert native["host-slot"]["message"] == "slot 1 (pciehp, power on) under 0000:00:02.0"
    root = str(captures("vtd-acpi"))
    asserted = cli("--sysfs-root", root, "check", "01:10.0", "--mac", "52:54:00:6f:55:cc", "--format", "json")
    assert asserted.code == 0
    (vf_mac,) = [c for c in asserted.json["checks"] if c["id"] == "vf-mac"]
    assert vf_mac["message"] == (
        "admin MAC 52:54:00:6f:55:cc (spoofchk on, trust off); --mac asserts it is the administrator's "
        "(netlink cannot tell)"
    )


def _picked(captures: Captures, topology: str, device: str) -> str:
    """The MAC igbvf picked at random for the VF in that boot of the guest (its interface's address)."""
    (address,) = (captures(topology) / "bus/pci/devices" / f"0000:{device}" / "net").glob("*/address")
    return address.read_text().strip()


def test_mac_an_igbvf_picked_is_not_an_admin_mac(cli: Callable[..., Run], captures: Captures) -> None:
    """igbvf found no MAC, picked a random one, and igb reports it in IFLA_VF_MAC: not proof (issue 12)."""
    checks = _check(cli, captures, "vtd-acpi", "01:10.2")
    picked = _picked(captures, "vtd-acpi", "01:10.2")
    assert checks["vf-mac"]["status"] == "fail"
    assert checks["vf-mac"]["message"].startswith(f"MAC {picked} is the one VF 1's host driver igbvf runs eth4 ")
    assert checks["vf-mac"]["hint"] is not None
    assert checks["vf-mac"]["hint"].startswith(f"ip link set dev eth0 vf 1 mac {picked}\n")


def test_port_with_hotplug_off_has_no_slot(cli: Callable[..., Run], captures: Captures) -> None:
    checks = _check(cli, captures, "vtd-acpi", "04:00.0")
    assert checks["host-slot"]["status"] == "skip"
    assert checks["host-slot"]["message"].startswith("no slot under 0000:00:05.0")


def test_shared_groups_name_their_blockers(cli: Callable[..., Run], captures: Captures) -> None:
    multifunction = _check(cli, captures, "shared-groups", "01:00.1")
    assert multifunction["iommu-group"]["message"] == (
        "IOMMU group 7 is not viable: 0000:01:00.0 (e1000e) bound to host drivers"
    )
    behind_bridge = _check(cli, captures, "shared-groups", "03:01.0")
    assert behind_bridge["iommu-group"]["message"] == (
        "IOMMU group 8 is not viable: 0000:02:00.0 (shpchp), 0000:03:02.0 (8139cp) bound to host drivers"
    )
    assert behind_bridge["iommu-group"]["hint"] is not None
    assert behind_bridge["iommu-group"]["hint"].startswith("0000:02:00.0 (shpchp) is a PCI bridge")
    assert behind_bridge["pcie"]["status"] == "fail"
    assert behind_bridge["host-slot"]["message"] == "slot 1-1 (shpchp, power on) under 0000:02:00.0"


def test_vf_admin_settings_made_with_iproute2(cli: Callable[..., Run], captures: Captures) -> None:
    vlan = _check(cli, captures, "vf-admin", "01:10.2")
    assert vlan["vf-vlan"]["message"] == "VF VLAN 100 (qos 0) is set on the PF: the standby must reach VLAN 100 too"
    zero = _check(cli, captures, "vf-admin", "01:10.4")
    assert zero["vf-mac"]["status"] == "fail"
    trusted = _check(cli, captures, "vf-admin", "01:10.6")  # no MAC was set: igbvf picked one
    assert trusted["vf-mac"]["status"] == "fail"
    picked = _picked(captures, "vf-admin", "01:10.6")
    assert trusted["vf-mac"]["message"].startswith(f"MAC {picked} is the one VF 3's host driver igbvf ")


def test_interrupt_remapping_off_fails_as_the_guest_kernel_refused_vfio(
    cli: Callable[..., Run], captures: Captures
) -> None:
    """Booted with intremap=off on an IOMMU that can remap: the guest's own VFIO attach got -EPERM."""
    checks = _check(cli, captures, "vtd-intremap-off", "01:10.0")
    assert checks["iommu"] == {
        "status": "fail",
        "message": "Intel VT-d active, device in group 6; no interrupt remapping (intremap=off on the kernel "
        "command line; no IR- interrupt chip in /sys/kernel/irq): "
        "vfio_iommu_type1 refuses to attach the group (-EPERM)",
        "hint": "remove intremap=off from the kernel command line and reboot\n(or, giving up interrupt isolation, "
        "`options vfio_iommu_type1 allow_unsafe_interrupts=1`: a guest can then make the device send any MSI "
        "(any vector, to any CPU) into the host)",
    }
    assert checks["driver"]["status"] == "pass"
    proof = manifest("vtd-intremap-off")["guest_proof"]
    assert isinstance(proof, list)
    assert "VFIO_SET_IOMMU(VFIO_TYPE1v2_IOMMU) on group 6: [Errno 1] Operation not permitted" in proof
    assert any("vfio_iommu_type1_attach_group: No interrupt remapping support." in line for line in proof)
    assert _check(cli, captures, "vtd-acpi", "01:10.0")["iommu"] == {
        "status": "pass",
        "message": "Intel VT-d active, device in group 12",
        "hint": None,
    }


@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_the_tests_read_a_copy_with_what_git_lost_restored(topology: str, captures: Captures) -> None:
    """The committed tree is never written by a test run: its copy gets the empty directories and modes back."""
    root = captures(topology)
    committed = capture_root(topology)
    assert root != committed
    assert not root.resolve().is_relative_to(committed.parent.parent.resolve())
    losses = manifest(topology)["git_losses"]
    assert isinstance(losses, dict)
    assert [rel for rel in losses["empty_dirs"] if not (root / rel).is_dir()] == []
    modes = {rel: f"{(root / rel).lstat().st_mode & 0o777:04o}" for rel in losses["root_only_files"]}
    assert modes == losses["root_only_files"]
