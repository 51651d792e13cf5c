"""`iommu`, `driver` and `reset` where the kernel's own files decide: damaged or older-kernel trees."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from fixtures_sysfs.builder import Host, Iommu
from fixtures_sysfs.hosts import demo_host, demo_pf
from tests.scenarios import _vf, _with_vf0
from tests.support.cli import Run

VF = "5e:00.2"
VF_PATH = "devices/pci0000:5d/0000:5d:00.0/0000:5e:00.2"


def _checks(cli: Callable[..., Run], root: Path, device: str = VF) -> dict[str, dict[str, Any]]:
    run = cli("--sysfs-root", str(root), "check", device, "--format", "json")
    return {c["id"]: {"status": c["status"], "message": c["message"], "hint": c["hint"]} for c in run.json["checks"]}


def _vf_dir(root: Path) -> Path:
    return (root / "bus/pci/devices/0000:5e:00.2").resolve()


def test_no_kernel_irq_directory_is_unknown_unless_the_command_line_says_off(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    root = host_root(demo_host())
    shutil.rmtree(root / "kernel/irq")
    assert _checks(cli, root)["iommu"] == {
        "status": "unknown",
        "message": "Intel VT-d active, device in group 23; whether interrupt remapping is enabled could not be read "
        "(kernel/irq: no such directory (a kernel before 4.12, or a copy without it))",
        "hint": "vfio_iommu_type1 refuses a group without it: `grep -e IR- -e ITS- /proc/interrupts` shows if it is on",
    }
    off = host_root(replace(demo_host(), kernel_cmdline="root=/dev/sda1 intel_iommu=on intremap=nosid,off"))
    shutil.rmtree(off / "kernel/irq")
    iommu = _checks(cli, off)["iommu"]
    assert iommu["status"] == "fail"
    assert iommu["message"].endswith(
        "(intremap=nosid,off on the kernel command line): vfio_iommu_type1 refuses to attach the group (-EPERM)"
    )
    assert iommu["hint"].startswith("remove intremap=nosid,off from the kernel command line and reboot\n")


def test_unsafe_interrupts_warn_only_through_vfio_iommu_type1(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    root = host_root(replace(demo_host(), iommu=Iommu(interrupt_remapping=False)))
    (root / "module/vfio_iommu_type1").rename(root / "module/iommufd")
    iommu = _checks(cli, root)["iommu"]
    assert iommu["status"] == "fail"
    assert iommu["message"] == (
        "Intel VT-d active, device in group 23; no interrupt remapping (no IR- interrupt chip in /sys/kernel/irq): "
        "vfio_iommu_type1 refuses to attach the group (-EPERM)"
    )
    (root / "module/iommufd/parameters/allow_unsafe_interrupts").write_text("Y\n")
    assert _checks(cli, root)["iommu"]["message"].endswith(
        "(-EPERM); iommufd's allow_unsafe_interrupts=Y admits it only under QEMU's -object iommufd"
    )
    unsafe = host_root(replace(demo_host(), iommu=Iommu(interrupt_remapping=False, unsafe_interrupts=True)))
    assert _checks(cli, unsafe)["iommu"] == {
        "status": "warn",
        "message": "Intel VT-d active, device in group 23; no interrupt remapping (no IR- interrupt chip in "
        "/sys/kernel/irq), allowed only by vfio_iommu_type1 allow_unsafe_interrupts=Y",
        "hint": "a guest can then make the device send any MSI (any vector, to any CPU) into the host: enable VT-d "
        "and x2APIC in the firmware setup (`dmesg | grep -i remapping` says why it is off)",
    }


def test_arm_needs_an_its(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    its = host_root(replace(demo_host(), iommu=Iommu(table="IORT")))
    assert _checks(cli, its)["iommu"]["status"] == "pass"
    v2m = host_root(replace(demo_host(), iommu=Iommu(table="IORT", interrupt_remapping=False)))
    iommu = _checks(cli, v2m)["iommu"]
    assert iommu["message"] == (
        "Arm SMMU active, device in group 23; no interrupt remapping (no ITS interrupt chip in /sys/kernel/irq): "
        "vfio_iommu_type1 refuses to attach the group (-EPERM)"
    )
    assert iommu["hint"].startswith("MSIs must go through a GICv3 ITS (ITS- interrupt chips)")


def test_virtio_iommu_isolates_no_msi_on_x86(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    """An IOMMU the rule has no name for (virtio-iommu: unit virtio0) is judged by the x86 irq chips.

    The lab's guest kernel (Debian 6.1) is built without CONFIG_VIRTIO_IOMMU, so this is a builder host.
    """
    root = host_root(replace(demo_host(), iommu=Iommu(table="VIOT", interrupt_remapping=False)))
    iommu = _checks(cli, root)["iommu"]
    assert (iommu["status"], iommu["message"]) == (
        "fail",
        "virtio-iommu active, device in group 23; no interrupt remapping (no IR- interrupt chip in "
        "/sys/kernel/irq): vfio_iommu_type1 refuses to attach the group (-EPERM)",
    )
    assert iommu["hint"].startswith("virtio-iommu does not remap interrupts: give this guest QEMU's intel-iommu")
    for chip in (root / "kernel/irq").glob("*/chip_name"):
        chip.write_text("some-other-chip\n")
    assert _checks(cli, root)["iommu"] == {
        "status": "unknown",
        "message": "virtio-iommu active, device in group 23; whether interrupt remapping is enabled could not be "
        "read (kernel/irq: no x86 or Arm interrupt chip to judge MSI isolation by)",
        "hint": "vfio_iommu_type1 refuses a group without it: `grep -e IR- -e ITS- /proc/interrupts` shows if it is on",
    }


def test_a_driver_link_that_dangles_or_loops_is_unknown(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    root = host_root(_with_vf0(_vf(driver="mlx5_vfio_pci", vfio_dev=True)))
    assert _checks(cli, root)["driver"]["message"] == "bound to mlx5_vfio_pci (a vfio variant driver)"
    shutil.rmtree(root / "bus/pci/drivers/mlx5_vfio_pci")
    assert _checks(cli, root)["driver"] == {
        "status": "unknown",
        "message": f"the driver link could not be read ({VF_PATH}/driver: the link to mlx5_vfio_pci leads to no "
        "driver directory (it dangles or loops))",
        "hint": None,
    }
    link = _vf_dir(root) / "driver"
    link.unlink()
    os.symlink("driver", link)
    assert _checks(cli, root)["driver"]["message"] == (
        f"the driver link could not be read ({VF_PATH}/driver: the link to driver leads to no driver directory "
        "(it dangles or loops))"
    )


def test_variant_drivers_before_6_1_are_told_by_vfio_pci_core_holders(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    variant = _with_vf0(_vf(driver="mlx5_vfio_pci", vfio_dev=False))
    old = host_root(replace(variant, vfio_core_holders=("vfio_pci", "mlx5_vfio_pci")))
    assert _checks(cli, old)["driver"] == {
        "status": "pass",
        "message": "bound to mlx5_vfio_pci (a vfio variant driver)",
        "hint": None,
    }
    host_driver = host_root(replace(variant, vfio_core_holders=("vfio_pci",)))
    assert _checks(cli, host_driver)["driver"]["message"] == "bound to host driver mlx5_vfio_pci, not vfio-pci"
    built_in = host_root(replace(variant, vfio_core_holders=("vfio_pci",)))
    (built_in / "bus/pci/drivers/mlx5_vfio_pci/module").unlink()
    assert _checks(cli, built_in)["driver"] == {
        "status": "unknown",
        "message": "whether mlx5_vfio_pci is a vfio variant driver could not be read "
        "(bus/pci/drivers/mlx5_vfio_pci/module: mlx5_vfio_pci is built in and this kernel has no vfio-dev/ "
        "(before 6.1): is it a vfio variant?)",
        "hint": None,
    }
    new = host_root(variant)  # 6.1+: class/vfio-dev exists and the device has no vfio-dev/ child
    assert _checks(cli, new)["driver"]["status"] == "fail"


def test_bind_hints_quote_every_path(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    root = host_root(_with_vf0(_vf(driver=None)))
    assert _checks(cli, root)["driver"]["hint"] == (
        "echo vfio-pci > /sys/bus/pci/devices/0000:5e:00.2/driver_override\n"
        "echo 0000:5e:00.2 > /sys/bus/pci/drivers_probe\n"
        "(to keep it across reboots: driverctl set-override 0000:5e:00.2 vfio-pci)"
    )


def test_bus_reset_is_worded_as_the_kernel_offers_it(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    root = host_root(_with_vf0(_vf(reset_method="bus")))
    assert _checks(cli, root)["reset"] == {
        "status": "warn",
        "message": "only a bus reset (bus): the kernel offers it only while the device is alone on its bus "
        "(or slot), so no other device is reset, but each reset retrains the link",
        "hint": "vfio can reset it; a VF normally offers FLR (check the NIC firmware), which is faster and keeps "
        "the link",
    }
    empty = host_root(_with_vf0(_vf(reset_method="")))
    assert _checks(cli, empty)["reset"]["hint"] == (
        "enable the kernel's default methods: echo default > /sys/bus/pci/devices/0000:5e:00.2/reset_method"
    )


def test_demo_pf_is_unchanged_by_the_vfio_facts(cli: Callable[..., Run], host_root: Callable[[Host], Path]) -> None:
    """A PF on its host driver still fails `driver` plainly on a 6.1+ host (class/vfio-dev present)."""
    root = host_root(demo_host(pf=demo_pf()))
    assert (root / "class/vfio-dev").is_dir()
    assert _checks(cli, root, "5e:00.0")["driver"]["status"] == "fail"


def test_a_vfio_dev_child_without_a_driver_link_is_not_vfio(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    """vfio-dev/ goes away with the driver: a copied or mid-unbind tree with it and no driver is not bound."""
    root = host_root(demo_host())
    (_vf_dir(root) / "driver").unlink()
    assert (_vf_dir(root) / "vfio-dev").is_dir()
    driver = _checks(cli, root)["driver"]
    assert (driver["status"], driver["message"]) == (
        "fail",
        "no driver bound; QEMU's vfio-pci device needs the vfio-pci driver",
    )


def test_amd_vi_without_remapping_is_judged_by_the_same_ir_chips(
    cli: Callable[..., Run], host_root: Callable[[Host], Path]
) -> None:
    """AMD's remapping domain also gives IR- chips (IR-IO-APIC, IR-PCI-MSI): none means no isolation."""
    assert _checks(cli, host_root(replace(demo_host(), iommu=Iommu(table="IVRS"))))["iommu"]["status"] == "pass"
    iommu = _checks(cli, host_root(replace(demo_host(), iommu=Iommu(table="IVRS", interrupt_remapping=False))))["iommu"]
    assert (iommu["status"], iommu["message"]) == (
        "fail",
        "AMD-Vi active, device in group 23; no interrupt remapping (no IR- interrupt chip in /sys/kernel/irq): "
        "vfio_iommu_type1 refuses to attach the group (-EPERM)",
    )
    assert iommu["hint"].startswith("enable the IOMMU and x2APIC in the firmware setup (`dmesg | grep -i AMD-Vi`")
