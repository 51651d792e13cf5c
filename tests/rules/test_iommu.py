"""`iommu`: an IOMMU is active, the device has a group, the group is not no-IOMMU, and MSIs are isolated."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from pcie_failover.model.check import CheckInput
from pcie_failover.model.results import Status
from pcie_failover.rules.iommu import RULE
from pcie_failover.sysfs.iommu import IOMMU_TABLES
from tests.support.factory import check_input, group, outcome, platform, unreadable, vf

NO_GROUP = vf(iommu_group=None)
OFF = platform(units=(), interrupt_remapping=None, remapping_evidence="", unsafe_interrupts=None)
NO_REMAP = platform(
    interrupt_remapping=False, remapping_evidence="no IR- interrupt chip in /sys/kernel/irq", kernel_cmdline=None
)
ACTIVE = "Intel VT-d active, device in group 23"
LOST = "a guest can then make the device send any MSI (any vector, to any CPU) into the host"
REFUSED = f"{ACTIVE}; no interrupt remapping (no IR- interrupt chip in /sys/kernel/irq): "
REFUSED += "vfio_iommu_type1 refuses to attach the group (-EPERM)"
UNSAFE_OPTION = f"(or, giving up interrupt isolation, `options vfio_iommu_type1 allow_unsafe_interrupts=1`: {LOST})"
VTD_FIRMWARE = "enable VT-d and x2APIC in the firmware setup (`dmesg | grep -i remapping` says why it is off)"
NOT_ENABLED = "the firmware describes an IOMMU ({}) but the kernel did not enable it"


def _without_group(**facts: Any) -> CheckInput:
    """The device has no group; the platform has no active IOMMU unless `facts` say otherwise."""
    return check_input(device=NO_GROUP, group=None, platform=replace(OFF, **facts))


def _unremapped(**facts: Any) -> CheckInput:
    """VT-d active but interrupts not remapped, unless `facts` say otherwise."""
    return check_input(platform=replace(NO_REMAP, **facts))


CASES = [
    pytest.param(check_input(), Status.PASS, ACTIVE, None, id="active"),
    pytest.param(
        check_input(platform=platform(units=("ivhd0",))),
        Status.PASS,
        "AMD-Vi active, device in group 23",
        None,
        id="amd",
    ),
    pytest.param(
        check_input(platform=platform(units=("smmu3.0x0000000010000000",))),
        Status.PASS,
        "Arm SMMU active, device in group 23",
        None,
        id="arm",
    ),
    pytest.param(
        check_input(platform=platform(units=("other0",), interrupt_remapping=None)),
        Status.PASS,
        "IOMMU active, device in group 23",
        None,
        id="other-unit-not-judged",
    ),
    pytest.param(
        check_input(platform=platform(units=unreadable("class/iommu"))),
        Status.PASS,
        "IOMMU active, device in group 23",
        None,
        id="units-unreadable-with-group",
    ),
    pytest.param(
        check_input(device=vf(iommu_group=unreadable("x/iommu_group"))),
        Status.UNKNOWN,
        "the iommu_group link could not be read (x/iommu_group: Permission denied)",
        None,
        id="group-link-unreadable",
    ),
    # no group
    pytest.param(
        _without_group(units=("dmar0",)),
        Status.FAIL,
        "an IOMMU is active (dmar0) but the device has no IOMMU group",
        "the device is not translated by any IOMMU unit; check `dmesg | grep -i -e DMAR -e iommu`",
        id="device-without-group",
    ),
    pytest.param(
        _without_group(units=unreadable("class/iommu")),
        Status.UNKNOWN,
        "class/iommu could not be read (class/iommu: Permission denied)",
        None,
        id="no-group-units-unreadable",
    ),
    pytest.param(
        _without_group(firmware_tables=unreadable("firmware/acpi/tables")),
        Status.UNKNOWN,
        "no IOMMU is active; whether the firmware describes one could not be read "
        "(firmware/acpi/tables: Permission denied)",
        "run as root to read /sys/firmware/acpi/tables",
        id="no-group-tables-unreadable",
    ),
    pytest.param(
        _without_group(firmware_tables=()),
        Status.FAIL,
        "no IOMMU: the firmware has no DMAR, IVRS or IORT table",
        "enable VT-d / AMD-Vi (IOMMU) in the firmware setup; vfio-pci cannot bind without an IOMMU group",
        id="no-firmware-table",
    ),
    pytest.param(
        _without_group(firmware_tables=(), devicetree=True),
        Status.FAIL,
        "no IOMMU is active, and this device-tree host has no IORT table",
        "describe the SMMU in the device tree (iommu-map on the PCIe host bridge) and enable arm-smmu(-v3)",
        id="devicetree-no-smmu",
    ),
    pytest.param(
        _without_group(kernel_cmdline="root=/dev/sda1 intel_iommu=off"),
        Status.FAIL,
        NOT_ENABLED.format("DMAR"),
        "the kernel command line disables it (intel_iommu=off): remove that and reboot",
        id="disabled-on-cmdline",
    ),
    pytest.param(
        _without_group(firmware_tables=("IVRS",), kernel_cmdline="amd_iommu=off quiet iommu=off"),
        Status.FAIL,
        NOT_ENABLED.format("IVRS"),
        "the kernel command line disables it (amd_iommu=off iommu=off): remove that and reboot",
        id="disabled-twice-on-cmdline",
    ),
    pytest.param(
        _without_group(kernel_cmdline=None),
        Status.FAIL,
        NOT_ENABLED.format("DMAR"),
        "add intel_iommu=on (and iommu=pt) to the kernel command line and reboot",
        id="not-enabled",
    ),
    pytest.param(
        _without_group(firmware_tables=("IVRS",)),
        Status.FAIL,
        NOT_ENABLED.format("IVRS"),
        "AMD-Vi is on by default: remove amd_iommu=off or iommu=off from the kernel command line",
        id="amd-not-enabled",
    ),
    pytest.param(
        _without_group(firmware_tables=("IORT",)),
        Status.FAIL,
        NOT_ENABLED.format("IORT"),
        "enable the SMMU driver (arm-smmu-v3) and remove iommu.passthrough/arm-smmu disable options",
        id="arm-not-enabled",
    ),
    pytest.param(
        _without_group(firmware_tables=("VIOT",)),
        Status.FAIL,
        NOT_ENABLED.format("VIOT"),
        "load the virtio-iommu driver (module virtio_iommu, CONFIG_VIRTIO_IOMMU)",
        id="virtio-iommu-not-enabled",
    ),
    # the group
    pytest.param(
        check_input(group=group(name="vfio-noiommu"), platform=OFF),
        Status.FAIL,
        "group 23 is a vfio-noiommu group: no DMA isolation at all",
        "enable the IOMMU and drop vfio.enable_unsafe_noiommu_mode; QEMU's vfio-pci cannot use no-IOMMU groups",
        id="noiommu-group",
    ),
    pytest.param(check_input(group=unreadable("kernel/iommu_groups/23")), Status.PASS, ACTIVE, None, id="group-unread"),
    # interrupt remapping
    pytest.param(
        check_input(platform=platform(interrupt_remapping=unreadable("kernel/irq", "no such directory"))),
        Status.UNKNOWN,
        f"{ACTIVE}; whether interrupt remapping is enabled could not be read (kernel/irq: no such directory)",
        "vfio_iommu_type1 refuses a group without it: `grep -e IR- -e ITS- /proc/interrupts` shows if it is on",
        id="remapping-unreadable",
    ),
    pytest.param(_unremapped(), Status.FAIL, REFUSED, f"{VTD_FIRMWARE}\n{UNSAFE_OPTION}", id="no-interrupt-remapping"),
    pytest.param(
        _unremapped(kernel_cmdline="root=/dev/sda1 intremap=off"),
        Status.FAIL,
        REFUSED,
        f"remove intremap=off from the kernel command line and reboot\n{UNSAFE_OPTION}",
        id="remapping-off-on-cmdline",
    ),
    pytest.param(
        _unremapped(kernel_cmdline="nointremap intremap=nosid,off"),
        Status.FAIL,
        REFUSED,
        f"remove nointremap intremap=nosid,off from the kernel command line and reboot\n{UNSAFE_OPTION}",
        id="remapping-off-twice-on-cmdline",
    ),
    pytest.param(
        _unremapped(iommufd_unsafe_interrupts=True),
        Status.FAIL,
        f"{REFUSED}; iommufd's allow_unsafe_interrupts=Y admits it only under QEMU's -object iommufd",
        f"{VTD_FIRMWARE}\n{UNSAFE_OPTION}",
        id="iommufd-unsafe-only",
    ),
    pytest.param(
        _unremapped(unsafe_interrupts=True),
        Status.WARN,
        f"{ACTIVE}; no interrupt remapping (no IR- interrupt chip in /sys/kernel/irq), "
        "allowed only by vfio_iommu_type1 allow_unsafe_interrupts=Y",
        f"{LOST}: {VTD_FIRMWARE}",
        id="unsafe-interrupts",
    ),
    pytest.param(
        _unremapped(unsafe_interrupts=unreadable("module/vfio_iommu_type1/parameters/allow_unsafe_interrupts")),
        Status.UNKNOWN,
        f"{ACTIVE}; no interrupt remapping, and allow_unsafe_interrupts could not be read "
        "(module/vfio_iommu_type1/parameters/allow_unsafe_interrupts: Permission denied)",
        None,
        id="type1-switch-unreadable",
    ),
    pytest.param(
        _unremapped(iommufd_unsafe_interrupts=unreadable("module/iommufd/parameters/allow_unsafe_interrupts")),
        Status.UNKNOWN,
        f"{ACTIVE}; no interrupt remapping, and allow_unsafe_interrupts could not be read "
        "(module/iommufd/parameters/allow_unsafe_interrupts: Permission denied)",
        None,
        id="iommufd-switch-unreadable",
    ),
    pytest.param(
        _unremapped(units=("ivhd0",), remapping_evidence="no IR- interrupt chip in /sys/kernel/irq"),
        Status.FAIL,
        REFUSED.replace("Intel VT-d", "AMD-Vi"),
        "enable the IOMMU and x2APIC in the firmware setup (`dmesg | grep -i AMD-Vi` says why remapping is off)\n"
        + UNSAFE_OPTION,
        id="amd-no-remapping",
    ),
    pytest.param(
        _unremapped(units=("smmu3.0x0",), remapping_evidence="no ITS interrupt chip in /sys/kernel/irq"),
        Status.FAIL,
        "Arm SMMU active, device in group 23; no interrupt remapping (no ITS interrupt chip in /sys/kernel/irq): "
        "vfio_iommu_type1 refuses to attach the group (-EPERM)",
        "MSIs must go through a GICv3 ITS (ITS- interrupt chips); a GICv2m frame cannot isolate them\n" + UNSAFE_OPTION,
        id="arm-no-its",
    ),
    pytest.param(
        _unremapped(units=("virtio0",), remapping_evidence="no IR- interrupt chip in /sys/kernel/irq"),
        Status.FAIL,
        REFUSED.replace("Intel VT-d", "virtio-iommu"),
        "virtio-iommu does not remap interrupts: give this guest QEMU's intel-iommu with intremap=on "
        "(-device intel-iommu,intremap=on, with -machine q35,kernel-irqchip=split)\n" + UNSAFE_OPTION,
        id="virtio-iommu",
    ),
    pytest.param(
        _unremapped(units=("other0",), remapping_evidence="no IR- interrupt chip in /sys/kernel/irq"),
        Status.FAIL,
        REFUSED.replace("Intel VT-d", "IOMMU"),
        f"enable interrupt remapping in the firmware setup\n{UNSAFE_OPTION}",
        id="other-unit-no-remapping",
    ),
]


@pytest.mark.parametrize(("given", "status", "message", "hint"), CASES)
def test_iommu(given: CheckInput, status: Status, message: str, hint: str | None) -> None:
    assert outcome(RULE, given) == (status, message, hint)


@pytest.mark.parametrize("table", IOMMU_TABLES)
def test_every_firmware_table_the_reader_keeps_has_a_way_to_enable_it(table: str) -> None:
    """A table the kernel did not act on fails with a hint, never an internal error (VIOT once raised KeyError)."""
    status, message, hint = outcome(RULE, _without_group(firmware_tables=(table,), kernel_cmdline=None))
    assert (status, message) == (Status.FAIL, NOT_ENABLED.format(table))
    assert hint
