"""Reader of IOMMU groups (`kernel/iommu_groups`) and host IOMMU facts (`class/iommu`, firmware)."""

from __future__ import annotations

from pcie_failover.model.address import PciAddress
from pcie_failover.model.host import GroupMember, IommuPlatform, NetDevice, Unreadable
from pcie_failover.model.kernel_cmdline import remapping_disabled
from pcie_failover.netinfo.source import NetlinkSource
from pcie_failover.sysfs import attributes as attr
from pcie_failover.sysfs.net import read_netdev
from pcie_failover.sysfs.pci import device_link, driver_link, resolve_device, vfio_owned
from pcie_failover.sysfs.root import SysfsRoot

GROUPS = "kernel/iommu_groups"
IOMMU_CLASS = "class/iommu"
ACPI_TABLES = "firmware/acpi/tables"
IOMMU_TABLES = ("DMAR", "IVRS", "IORT", "VIOT")
IRQS = "kernel/irq"
_ECAP_INTERRUPT_REMAPPING = 1 << 3


def read_member(root: SysfsRoot, address: PciAddress, netlink: NetlinkSource) -> GroupMember:
    """What decides whether a group member keeps the group viable: its driver, and whether it is in use."""
    path = resolve_device(root, address)
    if isinstance(path, Unreadable):
        return GroupMember(address, path, path, path, path)
    names = attr.listing(root, f"{path}/net")
    netdevs: tuple[NetDevice, ...] | Unreadable = (
        names if isinstance(names, Unreadable) else tuple(read_netdev(root, n, netlink) for n in names or ())
    )
    driver = driver_link(root, path)
    return GroupMember(
        address=address,
        driver=driver,
        vfio_dev=vfio_owned(root, root.exists(f"{path}/vfio-dev"), driver),
        pci_class=attr.required(root, f"{path}/class", attr.hex_int),
        netdevs=netdevs,
    )


def read_group(root: SysfsRoot, number: str) -> tuple[str | None | Unreadable, tuple[PciAddress, ...] | Unreadable]:
    """A group's `name` and the addresses of its members."""
    base = f"{GROUPS}/{number}"
    names = attr.listing(root, f"{base}/devices")
    addresses: tuple[PciAddress, ...] | Unreadable
    if names is None:
        addresses = Unreadable(f"{base}/devices", "no such group")
    elif isinstance(names, Unreadable):
        addresses = names
    else:
        addresses = tuple(a for a in (PciAddress.try_parse(n) for n in names) if a is not None)
    return attr.optional(root, f"{base}/name", str), addresses


def group_of(root: SysfsRoot, address: PciAddress) -> tuple[PciAddress, ...]:
    """The members of the IOMMU group of the function at `address` (itself included); () when not known."""
    group = attr.link_name(root, f"{device_link(address)}/iommu_group")
    members = read_group(root, group)[1] if isinstance(group, str) else ()
    return members if isinstance(members, tuple) else ()


# The first interrupt chips a kernel shows name its architecture: the x86 legacy PIC and IO-APIC
# pins (arch/x86/kernel/i8259.c "XT-PIC", apic/io_apic.c "IO-APIC" or, remapped, "IR-IO-APIC") and
# the Arm GIC (drivers/irqchip/irq-gic*.c "GIC-0", "GICv2", "GICv3", "GICv3-ITS", "ITS-...").
_X86_CHIPS = ("IR-", "IO-APIC", "XT-PIC", "HPET")
_ARM_CHIPS = ("GIC", "ITS")
_ISOLATING = {"x86": ("IR-",), "Arm": ("ITS-", "ITS", "GICv3-ITS")}
_EVIDENCE = {"x86": "IR-", "Arm": "ITS"}


def _architecture(units: tuple[str, ...]) -> str | None:
    """x86 or Arm from the IOMMU units (dmar*, ivhd*, *smmu*); None for another kind (virtio-iommu: virtioN)."""
    if any(u.startswith(("dmar", "ivhd")) for u in units):
        return "x86"
    return "Arm" if any("smmu" in u for u in units) else None


def _isolating_chip(root: SysfsRoot, architecture: str | None) -> tuple[bool | None | Unreadable, str | None]:
    """Whether some interrupt's chip (`kernel/irq/N/chip_name`) isolates MSIs, and the architecture the chips show.

    Interrupts are read in order and the first isolating chip ends the search (IO-APIC pins come
    first). None without `kernel/irq`; False when the chips show x86 or Arm and none isolates.
    """
    names = attr.listing(root, IRQS)
    if not isinstance(names, tuple):
        return names, architecture
    unreadable: Unreadable | None = None
    for name in sorted((n for n in names if n.isdigit()), key=int):
        chip = attr.optional(root, f"{IRQS}/{name}/chip_name", str)
        if isinstance(chip, Unreadable):
            unreadable = unreadable or chip
            continue
        if chip is None:
            continue
        if architecture is None:
            architecture = "x86" if chip.startswith(_X86_CHIPS) else "Arm" if chip.startswith(_ARM_CHIPS) else None
        if architecture is not None and chip.startswith(_ISOLATING[architecture]):
            return True, architecture
    return unreadable or False, architecture


def _interrupt_remapping(
    root: SysfsRoot, units: tuple[str, ...], kernel_cmdline: str | None
) -> tuple[bool | None | Unreadable, str]:
    """Whether MSIs are isolated as vfio needs (iommu_group_has_isolated_msi()), and from what.

    Only an irq domain flagged IRQ_DOMAIN_FLAG_ISOLATED_MSI isolates (kernel/irq/msi.c
    msi_device_has_isolated_msi()); arch_is_isolated_msi() is false on x86 and Arm. x86: the
    Intel and AMD remapping domains set it and give `IR-` chips (IR-IO-APIC, IR-PCI-MSI...);
    Arm: a GICv3 ITS gives `ITS-` chips. Any other IOMMU on those architectures (virtio-iommu)
    isolates nothing. The ecap IR bit only says the hardware could remap.
    """
    if not units:
        return None, ""
    chips, architecture = _isolating_chip(root, _architecture(units))
    if architecture is None:
        if isinstance(chips, Unreadable):
            return chips, ""
        return Unreadable(IRQS, "no x86 or Arm interrupt chip to judge MSI isolation by"), ""
    kind = _EVIDENCE[architecture]
    off = remapping_disabled(kernel_cmdline)
    cmdline = f"{' '.join(off)} on the kernel command line" if off else ""
    if chips is True:
        return True, f"{kind} interrupt chips in /sys/kernel/irq"
    if chips is False:
        return False, "; ".join(filter(None, [cmdline, f"no {kind} interrupt chip in /sys/kernel/irq"]))
    if off:
        return False, cmdline
    for unit in (u for u in units if u.startswith("dmar")):
        ecap = attr.required(root, f"{IOMMU_CLASS}/{unit}/intel-iommu/ecap", attr.flags_int)
        if isinstance(ecap, int) and not ecap & _ECAP_INTERRUPT_REMAPPING:
            return False, f"{unit} cannot remap interrupts (ecap IR bit clear)"
    return chips or Unreadable(IRQS, "no such directory (a kernel before 4.12, or a copy without it)"), ""


def _switch(root: SysfsRoot, module: str) -> bool | None | Unreadable:
    """A module's `allow_unsafe_interrupts`; None when the module is not loaded (its default, N, applies)."""
    value = attr.optional(root, f"module/{module}/parameters/allow_unsafe_interrupts", str)
    return value in ("Y", "1") if isinstance(value, str) else value


def read_platform(root: SysfsRoot, kernel_cmdline: str | None) -> IommuPlatform:
    """Active IOMMU units, IOMMU tables in firmware, interrupt remapping, vfio's and iommufd's unsafe switches."""
    units = attr.listing(root, IOMMU_CLASS)
    units = () if units is None else units
    tables = attr.listing(root, ACPI_TABLES)
    remapping, evidence = _interrupt_remapping(root, units, kernel_cmdline) if isinstance(units, tuple) else (None, "")
    type1, iommufd = _switch(root, "vfio_iommu_type1"), _switch(root, "iommufd")
    return IommuPlatform(
        units=units,
        firmware_tables=tables
        if isinstance(tables, Unreadable)
        else tuple(t for t in tables or () if t in IOMMU_TABLES),
        devicetree=root.exists("firmware/devicetree"),
        interrupt_remapping=remapping,
        remapping_evidence=evidence,
        unsafe_interrupts=type1,
        iommufd_unsafe_interrupts=iommufd,
        kernel_cmdline=kernel_cmdline,
    )
