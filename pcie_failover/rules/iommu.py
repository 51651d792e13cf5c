"""`iommu`: an IOMMU is active and the device has a group; vendor-aware hints."""

from __future__ import annotations

from pcie_failover.model.check import CheckInput
from pcie_failover.model.host import IommuGroup, IommuPlatform, Unreadable
from pcie_failover.model.results import Severity, Status
from pcie_failover.rules.base import Finding, Rule, target, unknown

_ENABLE = {
    "DMAR": "add intel_iommu=on (and iommu=pt) to the kernel command line and reboot",
    "IVRS": "AMD-Vi is on by default: remove amd_iommu=off or iommu=off from the kernel command line",
    "IORT": "enable the SMMU driver (arm-smmu-v3) and remove iommu.passthrough/arm-smmu disable options",
}
_DISABLING = ("intel_iommu=off", "amd_iommu=off", "iommu=off", "intremap=off")


def _vendor(units: tuple[str, ...]) -> str:
    if any(u.startswith("dmar") for u in units):
        return "Intel VT-d"
    if any(u.startswith("ivhd") for u in units):
        return "AMD-Vi"
    if any("smmu" in u for u in units):
        return "Arm SMMU"
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
    if platform.interrupt_remapping is False:
        if platform.unsafe_interrupts:
            return Finding(
                Status.WARN,
                f"{active}; no interrupt remapping and allow_unsafe_interrupts is on",
                "a guest can forge MSIs: enable interrupt remapping (x2APIC/IR in firmware, no intremap=off)",
            )
        return Finding(
            Status.WARN,
            f"{active}; no interrupt remapping: vfio_iommu_type1 refuses the device",
            "enable interrupt remapping in the firmware (or, unsafely, vfio_iommu_type1 allow_unsafe_interrupts=1)",
        )
    return Finding(Status.PASS, active)


RULE = Rule(
    "iommu",
    Severity.FAIL,
    "an IOMMU is active and the device has an IOMMU group",
    "Linux: iommu_group link absent without an IOMMU; DMAR/IVRS/IORT firmware tables; "
    "libvirt virt-host-validate 'Checking if IOMMU is enabled by kernel'",
    check,
)
