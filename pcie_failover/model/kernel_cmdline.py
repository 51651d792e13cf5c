"""What the kernel command line says about the IOMMU (pure: the readers and the rules share it)."""

from __future__ import annotations


def remapping_disabled(kernel_cmdline: str | None) -> tuple[str, ...]:
    """Options that turn interrupt remapping off (drivers/iommu/irq_remapping.c: `nointremap`, `intremap=...off...`)."""
    return tuple(
        option
        for option in (kernel_cmdline or "").split()
        if option == "nointremap" or (option.startswith("intremap=") and "off" in option[9:].split(","))
    )
