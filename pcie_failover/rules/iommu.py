"""`iommu`: an IOMMU is active, the device has a group, and MSIs are isolated (interrupt remapping)."""

from __future__ import annotations

import shlex

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import IommuGroup, IommuPlatform, Unreadable
from pcie_failover.model.kernel_cmdline import remapping_disabled
from pcie_failover.model.results import Severity, Status
from pcie_failover.model.rule import Finding, Rule, Source
from pcie_failover.rules.base import target, unknown

_ENABLE = {
    "DMAR": "add intel_iommu=on (and iommu=pt) to the kernel command line and reboot",
    "IVRS": "AMD-Vi is on by default: remove amd_iommu=off or iommu=off from the kernel command line",
    "IORT": "enable the SMMU driver (arm-smmu-v3) and remove iommu.passthrough/arm-smmu disable options",
    "VIOT": "load the virtio-iommu driver (module virtio_iommu, CONFIG_VIRTIO_IOMMU)",
}
_DISABLING = ("intel_iommu=off", "amd_iommu=off", "iommu=off")
_ENABLE_REMAPPING = {
    "Intel VT-d": "enable VT-d and x2APIC in the firmware setup (`dmesg | grep -i remapping` says why it is off)",
    "AMD-Vi": "enable the IOMMU and x2APIC in the firmware setup (`dmesg | grep -i AMD-Vi` says why remapping is off)",
    "Arm SMMU": "MSIs must go through a GICv3 ITS (ITS- interrupt chips); a GICv2m frame cannot isolate them",
    "virtio-iommu": "virtio-iommu does not remap interrupts: give this guest QEMU's intel-iommu with intremap=on "
    "(-device intel-iommu,intremap=on, with -machine q35,kernel-irqchip=split)",
}


def _vendor(units: tuple[str, ...]) -> str:
    if any(u.startswith("dmar") for u in units):
        return "Intel VT-d"
    if any(u.startswith("ivhd") for u in units):
        return "AMD-Vi"
    if any("smmu" in u for u in units):
        return "Arm SMMU"
    if any(u.startswith("virtio") for u in units):
        return "virtio-iommu"
    return "IOMMU"


def _no_group(platform: IommuPlatform) -> Finding:
    if isinstance(platform.units, Unreadable):
        return unknown("class/iommu", platform.units)
    if platform.units:
        return Finding(
            Status.FAIL,
            f"an IOMMU is active ({', '.join(platform.units)}) but the device has no IOMMU group",
            "the device is not translated by any IOMMU unit; check `dmesg | grep -i -e DMAR -e iommu`",
        )
    tables = platform.firmware_tables
    if isinstance(tables, Unreadable):
        return Finding(
            Status.UNKNOWN,
            f"no IOMMU is active; whether the firmware describes one could not be read ({tables})",
            "run as root to read /sys/firmware/acpi/tables",
        )
    if not tables and platform.devicetree:
        return Finding(
            Status.FAIL,
            "no IOMMU is active, and this device-tree host has no IORT table",
            "describe the SMMU in the device tree (iommu-map on the PCIe host bridge) and enable arm-smmu(-v3)",
        )
    if not tables:
        return Finding(
            Status.FAIL,
            "no IOMMU: the firmware has no DMAR, IVRS or IORT table",
            "enable VT-d / AMD-Vi (IOMMU) in the firmware setup; vfio-pci cannot bind without an IOMMU group",
        )
    cmdline = (platform.kernel_cmdline or "").split()
    disabling = [option for option in cmdline if option in _DISABLING]
    if disabling:
        hint = f"the kernel command line disables it ({' '.join(disabling)}): remove that and reboot"
    else:
        hint = _ENABLE[tables[0]]
    return Finding(
        Status.FAIL, f"the firmware describes an IOMMU ({', '.join(tables)}) but the kernel did not enable it", hint
    )


def check(check_input: CheckInput) -> Finding:
    """No-IOMMU, vfio-noiommu and missing interrupt remapping are reported apart."""
    device = target(check_input)
    if isinstance(device, Finding):
        return device
    if isinstance(device.iommu_group, Unreadable):
        return unknown("the iommu_group link", device.iommu_group)
    platform = check_input.platform
    if device.iommu_group is None:
        return _no_group(platform)
    group = check_input.group
    if isinstance(group, IommuGroup) and group.name == "vfio-noiommu":
        return Finding(
            Status.FAIL,
            f"group {device.iommu_group} is a vfio-noiommu group: no DMA isolation at all",
            "enable the IOMMU and drop vfio.enable_unsafe_noiommu_mode; QEMU's vfio-pci cannot use no-IOMMU groups",
        )
    units = platform.units if isinstance(platform.units, tuple) else ()
    active = f"{_vendor(units)} active, device in group {device.iommu_group}"
    remapping = platform.interrupt_remapping
    if isinstance(remapping, Unreadable):
        return Finding(
            Status.UNKNOWN,
            f"{active}; whether interrupt remapping is enabled could not be read ({remapping})",
            "vfio_iommu_type1 refuses a group without it: `grep -e IR- -e ITS- /proc/interrupts` shows if it is on",
        )
    if remapping is False:
        return _no_remapping(platform, active, _vendor(units))
    return Finding(Status.PASS, active)


def _no_remapping(platform: IommuPlatform, active: str, vendor: str) -> Finding:
    """vfio_iommu_type1_attach_group() returns -EPERM unless allow_unsafe_interrupts is Y."""
    type1, iommufd = platform.unsafe_interrupts, platform.iommufd_unsafe_interrupts
    for switch in (type1, iommufd):
        if isinstance(switch, Unreadable):
            return unknown(f"{active}; no interrupt remapping, and allow_unsafe_interrupts", switch)
    off = remapping_disabled(platform.kernel_cmdline)
    enable = (
        f"remove {' '.join(shlex.quote(o) for o in off)} from the kernel command line and reboot"
        if off
        else _ENABLE_REMAPPING.get(vendor, "enable interrupt remapping in the firmware setup")
    )
    lost = "a guest can then make the device send any MSI (any vector, to any CPU) into the host"
    if type1:
        return Finding(
            Status.WARN,
            f"{active}; no interrupt remapping ({platform.remapping_evidence}), "
            "allowed only by vfio_iommu_type1 allow_unsafe_interrupts=Y",
            f"{lost}: {enable}",
        )
    # QEMU's default backend is the /dev/vfio/vfio container (type1); only `-object iommufd` uses iommufd's switch.
    iommufd_note = (
        "; iommufd's allow_unsafe_interrupts=Y admits it only under QEMU's -object iommufd" if iommufd else ""
    )
    return Finding(
        Status.FAIL,
        f"{active}; no interrupt remapping ({platform.remapping_evidence}): "
        f"vfio_iommu_type1 refuses to attach the group (-EPERM){iommufd_note}",
        f"{enable}\n(or, giving up interrupt isolation, `options vfio_iommu_type1 allow_unsafe_interrupts=1`: {lost})",
    )


RULE = Rule(
    "iommu",
    Severity.FAIL,
    "an IOMMU is active, the device has an IOMMU group, and interrupts are remapped",
    "Linux: the iommu_group link exists only under an active IOMMU (DMAR/IVRS/IORT firmware tables); "
    "vfio_iommu_type1_attach_group() (drivers/vfio/vfio_iommu_type1.c) returns -EPERM when "
    "!iommu_group_has_isolated_msi() unless allow_unsafe_interrupts; MSIs are isolated only through an irq domain "
    "flagged IRQ_DOMAIN_FLAG_ISOLATED_MSI (kernel/irq/msi.c msi_device_has_isolated_msi(); arch_is_isolated_msi() "
    "is false on x86 and Arm): Intel's and AMD's remapping domains (IR- chips, which intremap=off/nointremap keep "
    "away) and a GICv3 ITS (ITS- chips); virtio-iommu and other IOMMUs isolate nothing there",
    check,
    sources=(
        Source("linux", "drivers/vfio/vfio_iommu_type1.c", "vfio_iommu_type1_attach_group()"),
        Source("linux", "kernel/irq/msi.c", "msi_device_has_isolated_msi()"),
        Source("linux", "drivers/iommu/iommu.c", "iommu_group_has_isolated_msi()"),
        Source("linux", "drivers/iommu/intel/irq_remapping.c", "intel_setup_irq_remapping(): ISOLATED_MSI flag"),
        Source("linux", "drivers/iommu/amd/iommu.c", "amd_iommu_create_irq_domain(): ISOLATED_MSI flag"),
        Source("linux", "drivers/iommu/irq_remapping.c", "setup_nointremap(), setup_irqremap()"),
        Source("linux", "arch/x86/kernel/apic/io_apic.c", 'ioapic_ir_chip ("IR-IO-APIC")'),
        Source("linux", "kernel/irq/irqdesc.c", "chip_name_show()"),
        Source("linux", "drivers/iommu/iommufd/device.c", "allow_unsafe_interrupts"),
        Source("libvirt", "tools/virt-host-validate-common.c", "virHostValidateIOMMU()"),
    ),
    proofs=(
        "tests/lab/test_intremap_off.py::test_intremap_off_guest_refuses_vfio_and_check_fails_iommu",
        "tests/test_captures.py::test_interrupt_remapping_off_fails_as_the_guest_kernel_refused_vfio",
        "tests/test_captures.py::test_iommu_disabled_on_the_command_line",
        "tests/test_captures.py::test_failed_vfio_probe_without_iommu",
        "tests/test_host_kernel_facts.py::test_unsafe_interrupts_warn_only_through_vfio_iommu_type1",
        "tests/test_host_kernel_facts.py::test_virtio_iommu_isolates_no_msi_on_x86",
        "tests/test_host_kernel_facts.py::test_amd_vi_without_remapping_is_judged_by_the_same_ir_chips",
        "tests/test_rules.py::test_rule_outcome[iommu/noiommu-group]",
    ),
)
